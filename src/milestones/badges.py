"""Draws each definition's badge as an SVG and renders PNGs from it with resvg and the packaged font."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources
from typing import Literal
from xml.sax.saxutils import escape

import resvg_py

from milestones.domain import Definition, MetricType, Tier
from milestones.ops import traces
from milestones.wording.labels import description_of, format_number, name_of
from milestones.wording.languages import ENGLISH, Plural, Word, say, tag, word
from milestones.wording.languages import format_number as local_number

BADGES_PATH = "/assets/badges"
BadgeSize = Literal[128, 256, 512]
SIZES: tuple[BadgeSize, ...] = (128, 256, 512)
DEFAULT_SIZE: BadgeSize = 256
FONT_FAMILY = "Atkinson Hyperlegible"
_FONT_FILE = "fonts/AtkinsonHyperlegible-Bold.ttf"
BadgeFormat = Literal["png", "svg"]
MEDIA_TYPES: dict[BadgeFormat, str] = {"png": "image/png", "svg": "image/svg+xml"}


class BadgeState(StrEnum):
    """Whether a badge is shown as earned, or greyed for a milestone not reached yet."""

    UNLOCKED = "unlocked"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class Palette:
    """A badge's colours. Text is drawn in `ink` on `face` and in `ribbon_ink` on `ribbon`, both pairs at
    4.5:1 or more (WCAG 2.2 AA, tested); the rim and the ribbon's tails carry no text."""

    rim_light: str
    rim_dark: str
    face: str
    ink: str
    ribbon: str
    ribbon_ink: str
    tail: str


_TIER_PALETTES: dict[Tier, Palette] = {
    Tier.BRONZE: Palette("#f0b27a", "#8a4b20", "#7a3b12", "#ffffff", "#5c2a0a", "#ffffff", "#3f1c06"),
    Tier.SILVER: Palette("#f8fafc", "#7b8aa0", "#d5dde8", "#1e293b", "#475569", "#ffffff", "#334155"),
    Tier.GOLD: Palette("#fef08a", "#b45309", "#fcd34d", "#451a03", "#92400e", "#ffffff", "#6b2c07"),
    Tier.PLATINUM: Palette("#f1f5f9", "#64748b", "#334155", "#ffffff", "#1e1b4b", "#ffffff", "#0f0d2e"),
    Tier.DIAMOND: Palette("#cffafe", "#0891b2", "#155e75", "#ffffff", "#083344", "#ffffff", "#042f3a"),
}
# A definition whose catalog entry names no tier takes its type's colours.
_TYPE_PALETTES: dict[MetricType, Palette] = {
    MetricType.HOURS_LOGGED: Palette("#bfdbfe", "#1d4ed8", "#1e40af", "#ffffff", "#172554", "#ffffff", "#0b1433"),
    MetricType.CONTACTS_HELPED: Palette("#a7f3d0", "#047857", "#065f46", "#ffffff", "#022c22", "#ffffff", "#011a14"),
    MetricType.ACTIVITY_COUNT: Palette("#e9d5ff", "#7e22ce", "#6b21a8", "#ffffff", "#3b0764", "#ffffff", "#24033d"),
}
_LOCKED = Palette("#f5f5f5", "#a3a3a3", "#f4f4f4", "#525252", "#525252", "#ffffff", "#404040")

HOURS, CONTACTS, ACTIVITIES = MetricType.HOURS_LOGGED, MetricType.CONTACTS_HELPED, MetricType.ACTIVITY_COUNT
# The badge's words in English, the source text of the message catalogs (locales/). What the threshold counts:
CAPTIONS: dict[MetricType, Plural] = {
    HOURS: Plural("HOUR", "HOURS"),
    CONTACTS: Plural("CONTACT", "CONTACTS"),
    ACTIVITIES: Plural("ACTIVITY", "ACTIVITIES"),
}
# The tier on the ribbon (in capitals there), and the badge it makes in the description.
TIER_WORDS: dict[Tier | None, Word] = {
    **{t: Word(t.value.capitalize(), "tier") for t in Tier},
    None: Word("Milestone", "tier"),
}
BADGE_WORDS: dict[Tier | None, Word] = {
    **{t: Word(f"{t.value.capitalize()} badge", "badge") for t in Tier},
    None: Word("Milestone badge", "badge"),
}
SHOWING: dict[MetricType, Plural] = {
    HOURS: Plural("{badge} showing {threshold} hour", "{badge} showing {threshold} hours"),
    CONTACTS: Plural("{badge} showing {threshold} contact", "{badge} showing {threshold} contacts"),
    ACTIVITIES: Plural("{badge} showing {threshold} activity", "{badge} showing {threshold} activities"),
}
NOT_YET = Word("NOT YET")
# {what_lowered} is {what} with its first letter in lower case, for languages that want that after a colon.
LOCKED_DESCRIPTION = Word("Not yet achieved: {what_lowered}, greyed out.")
MESSAGES: tuple[Plural | Word, ...] = (
    *CAPTIONS.values(),
    *TIER_WORDS.values(),
    *BADGE_WORDS.values(),
    *SHOWING.values(),
    NOT_YET,
    LOCKED_DESCRIPTION,
)
# Advance widths of capitals in the packaged font, in ems (from its metrics), to fit longer words (AKTIVITÄTEN)
# by drawing them smaller; an accented capital is as wide as its letter, and any other character counts as
# the widest.
_CAPITAL_EM = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ .-",
        (0.69, 0.639, 0.673, 0.686, 0.58, 0.544, 0.719, 0.679, 0.458, 0.56, 0.659, 0.537, 0.842, 0.7, 0.764, 0.626,
         0.781, 0.654, 0.619, 0.617, 0.663, 0.656, 0.883, 0.699, 0.687, 0.621, 0.32, 0.243, 0.4),
        strict=True,
    )
)  # fmt: skip
_WIDEST_EM = 0.883
# Widest text that fits: the caption inside the face's inner ring, the ribbon's text inside its band.
_CAPTION_WIDTH, _RIBBON_WIDTH = 137, 160

# Icons on a 24-unit grid, drawn as strokes in the face's ink: a clock, two people, a star.
_ICONS: dict[MetricType, str] = {
    MetricType.HOURS_LOGGED: '<circle cx="12" cy="12" r="9"/><path d="M12 6.5V12l3.8 2.4"/>',
    MetricType.CONTACTS_HELPED: (
        '<circle cx="9" cy="8" r="3.3"/><path d="M2.8 20c0-3.6 2.7-6 6.2-6s6.2 2.4 6.2 6"/>'
        '<circle cx="16.8" cy="8.8" r="2.7"/><path d="M16.4 13.7c2.9 0 4.9 2.1 4.9 5.2"/>'
    ),
    MetricType.ACTIVITY_COUNT: (
        '<path d="M12 2.8l2.8 5.8 6.3.9-4.6 4.4 1.1 6.3L12 17.2l-5.6 3 1.1-6.3-4.6-4.4 6.3-.9z"/>'
    ),
}
_PADLOCK = '<rect x="5" y="10.5" width="14" height="10" rx="2"/><path d="M8.2 10.5V8a3.8 3.8 0 0 1 7.6 0v2.5"/>'
# Width of the threshold's widest digit and of a separator, in ems of the packaged font (from its metrics,
# rounded up): enough to fit any threshold, up to 1,000,000,000,000, inside the face.
_DIGIT_EM, _SEPARATOR_EM = 0.66, 0.25
_NUMBER_WIDTH, _NUMBER_MAX_SIZE = 148, 60


@dataclass(frozen=True, slots=True)
class BadgeImage:
    """A rendered badge and its strong entity tag (a hash of the bytes)."""

    body: bytes
    media_type: str
    etag: str


@lru_cache(maxsize=1024)
def badge_path(definition_key: str, language: str = ENGLISH, version: str | None = None) -> str:
    """A badge's URL; in another language than English it names the language, so the image speaks it too, and
    for a rung as an earlier catalog version defined it (retired, or another threshold), that version."""
    query = [] if version is None else [f"version={version}"]
    if language != ENGLISH:
        query.append(f"locale={tag(language)}")
    path = f"{BADGES_PATH}/{definition_key}.png"
    return f"{path}?{'&'.join(query)}" if query else path


@lru_cache(maxsize=1024)
def locked_badge_path(definition_key: str, language: str = ENGLISH, version: str | None = None) -> str:
    path = f"{BADGES_PATH}/{definition_key}.png?state={BadgeState.LOCKED}"
    if version is not None:
        path += f"&version={version}"
    return path if language == ENGLISH else f"{path}&locale={tag(language)}"


def badge_file(file_name: str) -> tuple[str, BadgeFormat] | None:
    """The definition key and format a badge's file name asks for (`100h.png`, `100h.svg`), if it is one."""
    key, dot, extension = file_name.rpartition(".")
    if not dot or extension not in MEDIA_TYPES:
        return None
    return key, "png" if extension == "png" else "svg"


# Every definition x 3 sizes x 2 states x 2 formats x 5 languages, for catalogs of up to ~40 rungs.
@lru_cache(maxsize=4096)
def badge_image(
    definition: Definition, fmt: BadgeFormat, size: int, state: BadgeState, language: str = ENGLISH
) -> BadgeImage:
    """The badge as served; rendered once per process for each combination (custom catalogs included)."""
    attributes = {"milestones.badge": definition.key, "milestones.format": fmt, "milestones.size": size}
    with traces.span("badge render", attributes):
        svg = badge_svg(definition, size, state, language)
        body = svg.encode() if fmt == "svg" else render_png(svg, size)
    return BadgeImage(body, MEDIA_TYPES[fmt], f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def render_png(svg: str, size: int | None = None) -> bytes:
    """Rasterise (as a square of `size` pixels, or at the SVG's own size) with the packaged font only: no
    system font or library is needed, and every machine draws the same pixels."""
    return bytes(
        resvg_py.svg_to_bytes(
            svg_string=svg,
            width=size,
            height=size,
            skip_system_fonts=True,
            font_files=[_font_path()],
            font_family=FONT_FAMILY,
            sans_serif_family=FONT_FAMILY,
        )
    )


@cache
def _font_path() -> str:
    # A wheel installs the package as files, so the font has a path resvg can open.
    return str(resources.files("milestones").joinpath(_FONT_FILE))


def palette_of(definition: Definition, state: BadgeState) -> Palette:
    if state is BadgeState.LOCKED:
        return _LOCKED
    return _TYPE_PALETTES[definition.type] if definition.tier is None else _TIER_PALETTES[definition.tier]


def badge_svg(
    definition: Definition, size: int = DEFAULT_SIZE, state: BadgeState = BadgeState.UNLOCKED, language: str = ENGLISH
) -> str:
    """A medal: the tier's colours, the type's icon, the threshold, what it counts, and the tier on a ribbon,
    with every word in the language.

    Each text sits in a group whose first shape is the colour behind it, so its contrast can be checked from
    the document alone.
    """
    colours = palette_of(definition, state)
    locked = state is BadgeState.LOCKED
    english = language == ENGLISH
    number = format_number(definition.threshold) if english else local_number(definition.threshold, language)
    if english:
        caption = CAPTIONS[definition.type].one if definition.threshold == 1 else CAPTIONS[definition.type].other
    else:
        caption = say(language, CAPTIONS[definition.type], definition.threshold).upper()
    tier_word = word(language, TIER_WORDS[definition.tier])
    ribbon = (word(language, NOT_YET) if locked else tier_word).upper()
    ident = f"{definition.key}-{state}"
    dashes = ' stroke-dasharray="4 5"' if locked else ""
    # Captions drawn larger in small images, so that they stay readable at 128 pixels.
    small_text = 17 if size >= DEFAULT_SIZE else 21
    caption_size = _fitted(caption, small_text, 1.4, _CAPTION_WIDTH)
    ribbon_size = _fitted(ribbon, small_text + 1, 2, _RIBBON_WIDTH)
    title = name_of(definition, language)
    if english:
        what = f"{tier_word} badge showing {number} {caption.lower()}"
    else:
        badge_word = word(language, BADGE_WORDS[definition.tier])
        what = say(language, SHOWING[definition.type], definition.threshold).format(badge=badge_word, threshold=number)
    lowered = f"{what[0].lower()}{what[1:]}"
    description = description_of(definition, language)
    desc = (
        f"{word(language, LOCKED_DESCRIPTION).format(what=what, what_lowered=lowered)} {description}"
        if locked
        else f"{what}. {description}"
    )
    font = f'font-family="\'{FONT_FAMILY}\', Arial, sans-serif" font-weight="700"'
    lock = (
        f'<g><circle cx="204" cy="42" r="23" fill="{colours.ribbon}" stroke="#ffffff" stroke-width="3"/>'
        f'<g transform="translate(189.6 27.6) scale(1.2)" fill="none" stroke="#ffffff" stroke-width="2.3" '
        f'stroke-linecap="round" stroke-linejoin="round">{_PADLOCK}</g></g>'
        if locked
        else ""
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 256 256" '
        f'role="img" aria-labelledby="title-{ident} desc-{ident}">'
        f'<title id="title-{ident}">{escape(title)}</title>'
        f'<desc id="desc-{ident}">{escape(desc)}</desc>'
        f'<defs><linearGradient id="rim-{ident}" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="{colours.rim_light}"/><stop offset="1" stop-color="{colours.rim_dark}"/>'
        f"</linearGradient></defs>"
        # Lowered a little: with the ribbon below, the drawing's middle is then the image's middle.
        '<g transform="translate(0 6)">'
        # The medal: a graded rim around a flat face.
        f'<circle cx="128" cy="116" r="108" fill="url(#rim-{ident})"/>'
        f'<circle cx="128" cy="116" r="97" fill="none" stroke="{colours.rim_dark}" stroke-opacity="0.55" '
        f'stroke-width="2"/>'
        f'<g {font} text-anchor="middle">'
        f'<circle cx="128" cy="116" r="92" fill="{colours.face}"/>'
        f'<circle cx="128" cy="116" r="84" fill="none" stroke="{colours.ink}" stroke-opacity="0.25" '
        f'stroke-width="1.5"{dashes}/>'
        f'<g transform="translate(109.4 38) scale(1.55)" fill="none" stroke="{colours.ink}" stroke-width="2" '
        f'stroke-linecap="round" stroke-linejoin="round">{_ICONS[definition.type]}</g>'
        f'<text x="128" y="138" font-size="{_number_size(number)}" fill="{colours.ink}">{number}</text>'
        f'<text x="128" y="165" font-size="{caption_size}" letter-spacing="1.4" fill="{colours.ink}">'
        f"{escape(caption)}</text>"
        f"</g>"
        # The ribbon: folded tails behind a band that names the tier.
        f'<path d="M18 196h34v34H18l9-17z" fill="{colours.tail}"/>'
        f'<path d="M238 196h-34v34h34l-9-17z" fill="{colours.tail}"/>'
        f'<g {font} text-anchor="middle">'
        f'<path d="M36 186h184v36H36z" fill="{colours.ribbon}"/>'
        f'<text x="128" y="{210 + (small_text - 17) // 2}" font-size="{ribbon_size}" letter-spacing="2" '
        f'fill="{colours.ribbon_ink}">{escape(ribbon)}</text>'
        f"</g>"
        f"{lock}"
        f"</g></svg>"
    )


def _number_size(number: str) -> int:
    ems = sum(_DIGIT_EM if ch.isdigit() else _SEPARATOR_EM for ch in number)
    return min(_NUMBER_MAX_SIZE, int(_NUMBER_WIDTH / ems))


def _fitted(text: str, size: int, spacing: float, width: float) -> int:
    """The font size to draw capitals at: `size`, or smaller when the text would be wider than `width`."""
    ems = sum(_CAPITAL_EM.get(_base_letter(ch), _WIDEST_EM) for ch in text)
    if ems * size + spacing * len(text) <= width:
        return size
    return max(1, int((width - spacing * len(text)) / ems))


def _base_letter(ch: str) -> str:
    """The capital an accented one is drawn on (Ä -> A), as wide in this font."""
    return unicodedata.normalize("NFD", ch)[0]
