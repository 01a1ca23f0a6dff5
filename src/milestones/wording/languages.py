"""The languages the service speaks: one gettext message catalog each, choosing one for a request, and
CLDR numbers, dates and plural categories through Babel.

English is the source text and needs no catalog. Every other language is a file,
`locales/<language>/LC_MESSAGES/milestones.po` beside this module (compiled to `.mo` when the package is
built); adding that file adds the language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources
from importlib.resources.abc import Traversable

from babel import Locale
from babel.dates import format_date as babel_date
from babel.dates import format_skeleton
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

ENGLISH = "en"
DOMAIN = "milestones"
# CLDR's minimumGroupingDigits, which Babel's number formatting does not apply: Spanish writes 1000 but 10.000.
_MIN_GROUPING_DIGITS = {"es": 2}
# A longer Accept-Language is read only this far: enough for any real preference list.
_MAX_ACCEPT_LANGUAGE = 512


def locales_directory() -> Traversable:
    return resources.files("milestones").joinpath("locales")


@cache
def languages() -> tuple[str, ...]:
    """Every language spoken, as locale ids (`en`, `pt_BR`): English, and each one with a message catalog."""
    root = locales_directory()
    found = sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir() and entry.joinpath("LC_MESSAGES", f"{DOMAIN}.po").is_file()
    )
    return (ENGLISH, *found)


def tag(language: str) -> str:
    """The language as an HTTP language tag (BCP 47), as Content-Language gives it: `pt_BR` -> `pt-BR`."""
    return language.replace("_", "-")


@cache
def messages(language: str) -> dict[tuple[str | None, str], str]:
    """A language's translations by (context, English text); fuzzy and empty entries are left out, as
    gettext's own compiler leaves them out. English has none: its text is the source."""
    if language == ENGLISH:
        return {}
    return {
        (message.context, message.id): message.string
        for message in load_catalog(language)
        if isinstance(message.id, str) and message.id and isinstance(message.string, str) and message.string
        if not message.fuzzy
    }


def load_catalog(language: str) -> Catalog:
    """The compiled catalog (.mo) when the package was built with one, else the .po itself (a checkout or an
    editable install, where nothing was built): the same messages either way."""
    folder = locales_directory().joinpath(language, "LC_MESSAGES")
    compiled = folder.joinpath(f"{DOMAIN}.mo")
    if compiled.is_file():
        with compiled.open("rb") as stream:
            return read_mo(stream)
    with folder.joinpath(f"{DOMAIN}.po").open("rb") as stream:
        return read_po(stream, locale=language, domain=DOMAIN)


def translate(language: str, text: str, context: str | None = None) -> str | None:
    """The translation of an English text, or None when the language's catalog has none."""
    return messages(language).get((context, text))


@lru_cache(maxsize=256)
def matching(requested: str) -> str | None:
    """The spoken language a requested one (`es`, `pt-BR`, `de_AT`, `pt`) is best answered in, if any: the
    same language and region, else the same language in another region (so `de-AT` gets German and `pt`
    or `pt-PT` Brazilian Portuguese)."""
    wanted = requested.strip().replace("-", "_").lower()
    if not wanted or len(wanted) > 35:
        return None
    spoken = languages()
    for language in spoken:
        if language.lower() == wanted:
            return language
    base = wanted.partition("_")[0]
    for language in spoken:
        if language.lower().partition("_")[0] == base:
            return language
    return None


@lru_cache(maxsize=512)
def negotiate(accept_language: bytes) -> str:
    """The language to answer an Accept-Language header in: the spoken language matching the range of highest
    q-value (ties in the header's order), English when none does. `*` ranked above every range that matches
    stands for any language, so the answer is English (or, were English refused with `q=0`, the first spoken
    language that was not). One parse per distinct header value."""
    ranked: list[tuple[float, int, str]] = []
    refused: set[str | None] = set()
    text = accept_language[:_MAX_ACCEPT_LANGUAGE].decode("latin-1")
    for position, item in enumerate(text.split(",")):
        name, _, parameters = item.partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.strip().partition("=")
            if key.lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:
                    quality = 0.0
        name = name.strip()
        if quality > 0 and name:
            ranked.append((-quality, position, name))
        elif name and name != "*":
            refused.add(matching(name))
    for _, _, name in sorted(ranked):
        if name == "*":
            return next((language for language in languages() if language not in refused), ENGLISH)
        found = matching(name)
        if found is not None:
            return found
    return ENGLISH


@cache
def locale_of(language: str) -> Locale:
    return Locale.parse(language)


@lru_cache(maxsize=8192)  # thresholds and common values repeat in every listing
def format_number(value: Decimal, language: str) -> str:
    """A value as the language writes it, with CLDR's separators and grouping (312,5; 1.000; 1 000)."""
    grouped = abs(value) >= 10 ** (2 + _MIN_GROUPING_DIGITS.get(language, 1))
    return format_decimal(value, locale=locale_of(language), group_separator=grouped)


def format_date(moment: datetime, language: str) -> str:
    """The date part of a UTC timestamp in the language's long form (14 de julio de 2025)."""
    return babel_date(moment.astimezone(UTC).date(), "long", locale=locale_of(language))


def format_month(day: date, language: str) -> str:
    """A month and its year as the language writes them (March 2026, marzo de 2026, März 2026)."""
    return format_skeleton("yMMMM", day, locale=locale_of(language))


def plural_category(value: Decimal, language: str) -> str:
    """CLDR's plural category (one, few, many, other...) of a value as it is written, without trailing zeros:
    1.5 in French is `one`, 1,000,000 in Spanish `many`."""
    written = value.quantize(1) if value == value.to_integral_value() else value.normalize()
    return locale_of(language).plural_form(written)


@dataclass(frozen=True, slots=True)
class Plural:
    """A text whose words follow a number: English gives the `one` and `other` forms. A catalog translates
    each of its language's CLDR categories under that category as the context; `one` translates the `one`
    text, every other category (few, many...) the `other` text."""

    one: str
    other: str
    note: str = "the threshold"  # the number whose category chooses the form, for translators

    def source(self, category: str) -> str:
        return self.one if category == "one" else self.other


@dataclass(frozen=True, slots=True)
class Word:
    """A text translated as a whole; `context` tells apart equal English texts that translate differently."""

    text: str
    context: str | None = None


def say(language: str, message: Plural, value: Decimal) -> str:
    """The form of a plural message for a value in a language; a category its catalog lacks takes the
    catalog's `other` form, and a message it lacks the English."""
    category = plural_category(value, language)
    return (
        translate(language, message.source(category), category)
        or translate(language, message.other, "other")
        or message.source(category)
    )


def word(language: str, message: Word) -> str:
    return translate(language, message.text, message.context) or message.text


def prepare() -> None:
    """Reads every message catalog and CLDR locale now, at start-up, so that no request waits for one."""
    for language in languages():
        messages(language)
        locale_of(language).plural_form  # noqa: B018  (compiles the plural rule, which Babel caches)
