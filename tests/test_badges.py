"""Badges as drawn: every one decodes at each size, says what it shows, and its text is legible (WCAG 2.2 AA)."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from importlib import resources

import pytest
import resvg_py
from PIL import Image

from milestones.badges import SIZES, BadgeState, badge_image, badge_svg, render_png
from milestones.catalog import load_catalog
from milestones.domain import Definition, MetricType, Tier
from tests.factories import definition

SVG = "{http://www.w3.org/2000/svg}"
CATALOG = load_catalog()
KEYS = [d.key for d in CATALOG]
SHAPES = {f"{SVG}{name}" for name in ("circle", "rect", "path", "ellipse", "polygon")}
AA_NORMAL_TEXT = 4.5


def relative_luminance(colour: str) -> float:
    """WCAG 2.2's relative luminance of an sRGB colour written #rrggbb."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def texts_on_backdrops(svg: str) -> list[tuple[str, str, str]]:
    """Every text of a badge as (its words, its colour, the colour behind it).

    A badge draws each text in a group whose first shape is the plate it sits on; a text anywhere else has no
    known backdrop and fails the test.
    """
    root = ET.fromstring(svg)
    found = []
    grouped = set()
    for group in root.iter(f"{SVG}g"):
        texts = [child for child in group if child.tag == f"{SVG}text"]
        if not texts:
            continue
        plate = next(child for child in group if child.tag in SHAPES)
        for text in texts:
            grouped.add(id(text))
            found.append((text.text or "", text.attrib["fill"], plate.attrib["fill"]))
    assert all(id(text) in grouped for text in root.iter(f"{SVG}text")), "a text outside any group with a plate"
    return found


def all_badges() -> list[tuple[Definition, BadgeState]]:
    return [(d, state) for d in CATALOG for state in BadgeState]


def test_the_contrast_computation_matches_known_ratios() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    # WCAG's own boundary examples: #767676 on white passes AA, #777777 does not.
    assert contrast_ratio("#767676", "#ffffff") >= AA_NORMAL_TEXT > contrast_ratio("#777777", "#ffffff")


@pytest.mark.parametrize(("item", "state"), all_badges(), ids=lambda v: str(getattr(v, "key", v)))
def test_every_badge_text_meets_aa_contrast_against_what_is_behind_it(item: Definition, state: BadgeState) -> None:
    texts = texts_on_backdrops(badge_svg(item, 256, state))
    assert len(texts) == 3  # threshold, caption, ribbon
    for words, ink, backdrop in texts:
        assert contrast_ratio(ink, backdrop) >= AA_NORMAL_TEXT, (item.key, state, words, ink, backdrop)


@pytest.mark.parametrize(("item", "state"), all_badges(), ids=lambda v: str(getattr(v, "key", v)))
def test_every_svg_is_an_image_with_its_title_and_description(item: Definition, state: BadgeState) -> None:
    root = ET.fromstring(badge_svg(item, 256, state))
    assert root.attrib["role"] == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert title.text == item.name
    assert desc.text is not None and item.description is not None
    assert item.description in desc.text
    assert ("Not yet achieved" in desc.text) is (state is BadgeState.LOCKED)
    # Screen readers find the name and description through aria-labelledby.
    assert root.attrib["aria-labelledby"].split() == [title.attrib["id"], desc.attrib["id"]]
    words = [text.text for text in root.iter(f"{SVG}text")]
    assert words[0] == f"{item.threshold:,}"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("item", "state"), all_badges(), ids=lambda v: str(getattr(v, "key", v)))
def test_every_badge_decodes_as_a_png_of_each_size(item: Definition, state: BadgeState, size: int) -> None:
    image = badge_image(item, "png", size, state)
    assert image.media_type == "image/png"
    picture = Image.open(io.BytesIO(image.body))
    picture.load()
    assert (picture.format, picture.size) == ("PNG", (size, size))
    # Drawn, not blank: many colours (edges, gradient, text), and the corners transparent around the medal.
    assert len(picture.convert("RGBA").getcolors(maxcolors=1 << 20) or []) > 50
    assert picture.convert("RGBA").getpixel((0, 0))[3] == 0  # type: ignore[index]


def test_every_badge_is_distinct() -> None:
    drawn = {badge_image(d, "png", 256, state).body for d, state in all_badges()}
    assert len(drawn) == 2 * len(CATALOG)


def test_tiers_give_the_colours_and_types_the_icons() -> None:
    by_key = {d.key: d for d in CATALOG}
    gold_hours, gold_contacts, bronze_hours = by_key["100h"], by_key["50contacts"], by_key["10h"]
    assert (gold_hours.tier, gold_contacts.tier, bronze_hours.tier) == (Tier.GOLD, Tier.GOLD, Tier.BRONZE)

    def colours(svg: str) -> set[str]:
        return set(re.findall(r"#[0-9a-f]{6}", svg))

    def drawing(svg: str) -> str:
        return svg[svg.index("</defs>") :]

    assert colours(badge_svg(gold_hours)) == colours(badge_svg(gold_contacts)) != colours(badge_svg(bronze_hours))
    icon = re.compile(r'scale\(1\.55\)"[^>]*>(.*?)</g>')
    icons = {d.type: icon.findall(drawing(badge_svg(d)))[0] for d in CATALOG}
    assert len(set(icons.values())) == len(MetricType)


@pytest.mark.parametrize("key", KEYS)
def test_a_locked_badge_is_grey(key: str) -> None:
    item = next(d for d in CATALOG if d.key == key)
    for colour in re.findall(r"#([0-9a-f]{6})", badge_svg(item, 256, BadgeState.LOCKED)):
        r, g, b = (colour[i : i + 2] for i in (0, 2, 4))
        assert r == g == b, colour
    assert "NOT YET" in badge_svg(item, 256, BadgeState.LOCKED)


def test_a_definition_without_tier_takes_its_types_colours_and_says_milestone() -> None:
    plain = definition("custom_7", MetricType.ACTIVITY_COUNT, 7, 0)
    svg = badge_svg(plain)
    assert plain.tier is None
    assert "MILESTONE" in svg
    for words, ink, backdrop in texts_on_backdrops(svg):
        assert contrast_ratio(ink, backdrop) >= AA_NORMAL_TEXT, words


@pytest.mark.parametrize(
    ("threshold", "metric", "shown", "caption"),
    [
        (Decimal("12.5"), MetricType.HOURS_LOGGED, "12.5", "HOURS"),
        (Decimal(1), MetricType.ACTIVITY_COUNT, "1", "ACTIVITY"),
        (Decimal(1), MetricType.CONTACTS_HELPED, "1", "CONTACT"),
        (Decimal(1_000_000_000_000), MetricType.CONTACTS_HELPED, "1,000,000,000,000", "CONTACTS"),
    ],
)
def test_any_catalog_threshold_is_drawn_inside_the_face(
    threshold: Decimal, metric: MetricType, shown: str, caption: str
) -> None:
    item = Definition("odd", "Odd <&> rung", metric, threshold, 0)
    root = ET.fromstring(badge_svg(item))  # a name needing escapes still makes valid XML
    number, words, _ = (text for text in root.iter(f"{SVG}text"))
    assert (number.text, words.text) == (shown, caption)
    # The packaged font's widest digit is 0.66 em and a separator 0.25 em: the number fits the face's 148 units.
    ems = 0.66 * sum(ch.isdigit() for ch in shown) + 0.25 * sum(not ch.isdigit() for ch in shown)
    assert float(number.attrib["font-size"]) * ems <= 148
    assert Image.open(io.BytesIO(badge_image(item, "png", 128, BadgeState.UNLOCKED).body)).size == (128, 128)


def test_text_is_drawn_with_the_packaged_font_and_no_system_font() -> None:
    svg = badge_svg(CATALOG[0])
    without_fonts = bytes(resvg_py.svg_to_bytes(svg_string=svg, width=256, height=256, skip_system_fonts=True))
    # With no font at all, the text is simply missing; the packaged font is what draws it.
    assert render_png(svg, 256) != without_fonts


def test_the_font_ships_with_its_open_font_licence() -> None:
    fonts = resources.files("milestones").joinpath("fonts")
    assert fonts.joinpath("AtkinsonHyperlegible-Bold.ttf").read_bytes()[:4] == b"\x00\x01\x00\x00"  # TrueType
    assert "SIL Open Font License" in fonts.joinpath("OFL.txt").read_text(encoding="utf-8")


def test_badges_are_rendered_once_per_process() -> None:
    first = badge_image(CATALOG[0], "png", 512, BadgeState.LOCKED)
    assert badge_image(CATALOG[0], "png", 512, BadgeState.LOCKED) is first


LANGUAGES = ("en", "es", "fr", "de", "pt_BR")


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [element.text or "" for element in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("language", "texts", "title", "desc"),
    [
        ("en", ["500", "ACTIVITIES", "PLATINUM"], "500 Activities", "Platinum badge showing 500 activities. Five"),
        ("es", ["500", "ACTIVIDADES", "PLATINO"], "500 actividades", "Insignia de platino con 500 actividades. Quin"),
        ("fr", ["500", "ACTIVITÉS", "PLATINE"], "500 activités", "Badge de platine affichant 500 activités. Cinq"),
        ("de", ["500", "AKTIVITÄTEN", "PLATIN"], "500 Aktivitäten", "Platin-Abzeichen mit 500 Aktivitäten. Fünf"),
        ("pt_BR", ["500", "ATIVIDADES", "PLATINA"], "500 atividades", "Selo de platina com 500 atividades. Quinh"),
    ],
)
def test_a_badge_speaks_the_language(language: str, texts: list[str], title: str, desc: str) -> None:
    item = next(d for d in CATALOG if d.key == "500activities")
    svg = badge_svg(item, 128, BadgeState.UNLOCKED, language)
    root = ET.fromstring(svg)
    assert svg_texts(svg) == texts
    assert root.findtext(f"{SVG}title") == title
    assert (root.findtext(f"{SVG}desc") or "").startswith(desc)


@pytest.mark.parametrize(
    ("language", "ribbon", "desc"),
    [
        ("en", "NOT YET", "Not yet achieved: gold badge showing 1,000 hours, greyed out. "),
        ("es", "AÚN NO", "Aún no conseguida: insignia de oro con 1000 horas, en gris. "),
        ("fr", "PAS ENCORE", "Pas encore obtenu\xa0: badge d\u2019or affichant 1\u202f000 heures, grisé. "),
        ("de", "NOCH NICHT", "Noch nicht erreicht: Gold-Abzeichen mit 1.000 Stunden, ausgegraut. "),
        ("pt_BR", "AINDA NÃO", "Ainda não conquistado: selo de ouro com 1.000 horas, em cinza. "),
    ],
)
def test_a_locked_badge_says_not_yet_in_the_language(language: str, ribbon: str, desc: str) -> None:
    item = Definition("k", "k", MetricType.HOURS_LOGGED, Decimal(1000), 0, tier=Tier.GOLD)
    svg = badge_svg(item, 256, BadgeState.LOCKED, language)
    assert svg_texts(svg)[-1] == ribbon
    assert (ET.fromstring(svg).findtext(f"{SVG}desc") or "").startswith(desc)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES)
def test_longer_words_are_drawn_smaller_to_fit(language: str, size: int) -> None:
    """Every caption and ribbon fits its space at every size: a German AKTIVITÄTEN or MEILENSTEIN is drawn
    smaller, English words as before. Widths are measured with the packaged font itself."""
    from PIL import ImageFont

    font_file = str(resources.files("milestones").joinpath("fonts/AtkinsonHyperlegible-Bold.ttf"))
    items = [*CATALOG, definition("plain", MetricType.ACTIVITY_COUNT, 250, 0)]
    for item in items:
        for state in BadgeState:
            root = ET.fromstring(badge_svg(item, size, state, language))
            _, caption, ribbon = root.iter(f"{SVG}text")
            for element, width in ((caption, 137), (ribbon, 160)):
                font_size = float(element.get("font-size", "0"))
                spacing = float(element.get("letter-spacing", "0"))
                text = element.text or ""
                drawn = ImageFont.truetype(font_file, 1000).getlength(text) / 1000 * font_size + spacing * len(text)
                assert drawn <= width + 0.5, (language, item.key, text, drawn)


def test_german_activities_are_drawn_smaller_at_128_pixels_only_where_needed() -> None:
    item = next(d for d in CATALOG if d.key == "500activities")
    english = ET.fromstring(badge_svg(item, 128, BadgeState.UNLOCKED, "en"))
    german = ET.fromstring(badge_svg(item, 128, BadgeState.UNLOCKED, "de"))
    assert [t.get("font-size") for t in english.iter(f"{SVG}text")][1:] == ["21", "22"]
    assert [t.get("font-size") for t in german.iter(f"{SVG}text")][1:] == ["18", "22"]


def test_each_language_has_its_own_image_and_etag() -> None:
    item = next(d for d in CATALOG if d.key == "100h")
    images = [badge_image(item, "png", 128, BadgeState.UNLOCKED, language) for language in LANGUAGES]
    assert len({image.etag for image in images}) == len(LANGUAGES)
    for image in images:
        assert Image.open(io.BytesIO(image.body)).size == (128, 128)
