"""The languages spoken: choosing one from a request, CLDR numbers and plurals, and the message catalogs."""

from __future__ import annotations

import io
import string
from decimal import Decimal

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from milestones.wording.languages import (
    DOMAIN,
    format_number,
    languages,
    load_catalog,
    locales_directory,
    matching,
    negotiate,
    plural_category,
    tag,
)
from milestones.wording.messages import categories, template

SPOKEN = ("en", "de", "es", "fr", "pt_BR")


def test_english_and_one_language_per_message_catalog() -> None:
    assert languages() == SPOKEN
    assert [tag(language) for language in SPOKEN] == ["en", "de", "es", "fr", "pt-BR"]


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (b"es", "es"),
        (b"fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        (b"de;q=0.5, es;q=0.9", "es"),  # q-values, not order, rank
        (b"es;q=0.8, de;q=0.8", "es"),  # a tie keeps the header's order
        (b"it, nl;q=0.9, de;q=0.1", "de"),  # the first the service speaks
        (b"PT-br", "pt_BR"),
        (b"pt", "pt_BR"),
        (b"pt-PT", "pt_BR"),
        (b"de-AT", "de"),
        (b"en-US,en;q=0.9,es;q=0.8", "en"),
        (b"es;q=0, de;q=0.3", "de"),  # q=0 means "not this one"
        (b"es;q=2, de;q=oops, fr;q=0.2", "fr"),  # an invalid q counts as 0
        (b"it", "en"),
        (b"*", "en"),
        # `*` stands for any language: ranked above Spanish, the default (English) is as welcome as any.
        (b"*;q=1, es;q=0.5", "en"),
        (b"es;q=0.5, *", "en"),
        (b"es, *;q=0.5", "es"),
        (b"es;q=0.5, *;q=0.5", "es"),  # a tie keeps the header's order
        (b"it, *;q=0.5, es;q=0.1", "en"),
        (b"en;q=0, *", "de"),  # any language but English: the first other the service speaks
        (b"*;q=0, es", "es"),
        (b"", "en"),
        (b";;,,q=,", "en"),
        (b"\xff\xfe", "en"),
        (b"x" * 5000, "en"),
    ],
)
def test_accept_language_negotiation(header: bytes, language: str) -> None:
    assert negotiate(header) == language


@pytest.mark.parametrize(
    ("requested", "language"),
    [("es", "es"), ("pt-BR", "pt_BR"), ("pt_br", "pt_BR"), ("DE", "de"), ("fr-BE", "fr"), ("xx", None), ("", None)],
)
def test_matching_a_requested_locale(requested: str, language: str | None) -> None:
    assert matching(requested) == language


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("312.50", {"en": "312.5", "es": "312,5", "fr": "312,5", "de": "312,5", "pt_BR": "312,5"}),
        ("1000", {"en": "1,000", "es": "1000", "fr": "1\u202f000", "de": "1.000", "pt_BR": "1.000"}),
        ("10000", {"en": "10,000", "es": "10.000", "fr": "10\u202f000", "de": "10.000", "pt_BR": "10.000"}),
        ("1250.25", {"en": "1,250.25", "es": "1250,25", "fr": "1\u202f250,25", "de": "1.250,25", "pt_BR": "1.250,25"}),
        ("0", {"en": "0", "es": "0", "fr": "0", "de": "0", "pt_BR": "0"}),
    ],
)
def test_numbers_as_each_language_writes_them(value: str, expected: dict[str, str]) -> None:
    assert {language: format_number(Decimal(value), language) for language in SPOKEN} == expected


@pytest.mark.parametrize(
    ("language", "categories_of"),
    [
        ("en", ("other", "one", "other", "other", "other", "other")),
        ("es", ("other", "one", "other", "other", "other", "other")),
        ("fr", ("one", "one", "one", "other", "other", "other")),  # gettext's integer formula cannot say 1.5
        ("de", ("other", "one", "other", "other", "other", "other")),
        ("pt_BR", ("one", "one", "one", "other", "other", "other")),
    ],
)
def test_plural_categories_come_from_cldr(language: str, categories_of: tuple[str, ...]) -> None:
    values = ("0", "1", "1.5", "2", "21", "1000")
    assert tuple(plural_category(Decimal(v), language) for v in values) == categories_of
    assert plural_category(Decimal("1.00"), language) == plural_category(Decimal(1), language)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", SPOKEN[1:])
def test_every_catalog_translates_every_text_in_each_of_its_plural_categories(language: str) -> None:
    with locales_directory().joinpath(language, "LC_MESSAGES", f"{DOMAIN}.po").open("rb") as stream:
        catalog = read_po(stream, locale=language)
    given = {(m.context, m.id): m for m in catalog if m.id}
    needed = {(m.context, m.id) for m in template(language) if m.id}
    assert needed - set(given) == set(), "texts the catalog lacks (run scripts/messages.py)"
    assert set(given) - needed == set(), "entries no text needs any more (run scripts/messages.py)"
    for key, message in given.items():
        assert isinstance(message.string, str) and message.string.strip(), f"untranslated: {key}"
        assert not message.fuzzy, f"fuzzy: {key}"
        if key[1] == "Not yet achieved: {what_lowered}, greyed out.":
            assert placeholders(message.string) & {"what", "what_lowered"}
        else:
            assert placeholders(message.string) == placeholders(str(message.id)), f"placeholders of {key}"


@pytest.mark.parametrize("language", SPOKEN[1:])
def test_each_language_has_an_entry_for_each_of_its_cldr_categories(language: str) -> None:
    expected = {"es": ("one", "many", "other"), "fr": ("one", "many", "other"), "pt_BR": ("one", "many", "other")}
    assert categories(language) == expected.get(language, ("one", "other"))


def test_the_template_is_current() -> None:
    with locales_directory().joinpath(f"{DOMAIN}.pot").open("rb") as stream:
        committed = read_po(stream)
    assert {(m.context, m.id) for m in committed if m.id} == {(m.context, m.id) for m in template() if m.id}


@pytest.mark.parametrize("language", SPOKEN[1:])
def test_a_compiled_catalog_holds_the_same_messages(language: str) -> None:
    """A built package reads the .mo its build compiled; a checkout reads the .po: the same translations."""
    source = load_catalog(language)
    compiled = io.BytesIO()
    write_mo(compiled, source)
    compiled.seek(0)
    back = read_mo(compiled)
    assert {(m.context, m.id): m.string for m in back if m.id} == {
        (m.context, m.id): m.string for m in source if m.id and m.string and not m.fuzzy
    }
