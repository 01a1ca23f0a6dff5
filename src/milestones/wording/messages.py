"""The message catalogs' templates: every English text the service words, and the entries each language's
catalog needs (a plural text once per CLDR plural category of that language)."""

from __future__ import annotations

from babel.messages.catalog import Catalog

from milestones import __version__, badges
from milestones.catalog import load_catalog
from milestones.wording import labels, page_words
from milestones.wording.languages import DOMAIN, Plural, Word, locale_of

ENGLISH_CATEGORIES = ("one", "other")
_PROJECT = "milestones"
_HEADER = """\
# Messages of the Milestones service{language}.
# The English texts are the msgids; see the README ("Languages") for how a translator adds or updates one.
#"""


def texts() -> tuple[Plural | Word, ...]:
    """Every text translated: sentences, badge words, the pages' words, and the packaged catalog's names and
    descriptions."""
    catalog = load_catalog()
    names = tuple(Word(d.name) for d in catalog)
    descriptions = tuple(Word(d.description) for d in catalog if d.description is not None)
    return (*labels.MESSAGES, *badges.MESSAGES, *page_words.MESSAGES, *names, *descriptions)


def categories(language: str | None) -> tuple[str, ...]:
    """The CLDR plural categories a language's catalog gives each plural text: English's for the template."""
    if language is None:
        return ENGLISH_CATEGORIES
    tags = locale_of(language).plural_form.tags | {"other"}
    order = ("zero", "one", "two", "few", "many", "other")
    return tuple(c for c in order if c in tags)


def template(language: str | None = None) -> Catalog:
    """The entries a catalog holds: the `.pot` (language None), or a language's, with its own categories."""
    catalog = Catalog(
        locale=language,
        domain=DOMAIN,
        project=_PROJECT,
        version=__version__,
        header_comment=_HEADER.format(language="" if language is None else f": {locale_of(language).english_name}"),
        fuzzy=False,
    )
    for text in texts():
        if isinstance(text, Word):
            catalog.add(text.text, context=text.context)
            continue
        for category in categories(language):
            comment = f'CLDR plural category "{category}" of {text.note}; keep the {{placeholders}}'
            catalog.add(text.source(category), context=category, auto_comments=[comment])
    return catalog
