"""Renders a milestone's badge as a PNG with Pillow; each badge is drawn once per process."""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from milestones.domain import Definition, MetricType
from milestones.labels import format_number

SIZE = 256
# (fill, ring) per type; the text is white on all three, with contrast above 4.5:1.
_COLOURS: dict[MetricType, tuple[str, str]] = {
    MetricType.HOURS_LOGGED: ("#1d4ed8", "#f59e0b"),
    MetricType.CONTACTS_HELPED: ("#047857", "#fbbf24"),
    MetricType.ACTIVITY_COUNT: ("#7c2d12", "#fcd34d"),
}
_CAPTIONS: dict[MetricType, str] = {
    MetricType.HOURS_LOGGED: "HOURS",
    MetricType.CONTACTS_HELPED: "CONTACTS",
    MetricType.ACTIVITY_COUNT: "ACTIVITIES",
}


def badge_path(definition_key: str) -> str:
    return f"/assets/badges/{definition_key}.png"


@lru_cache(maxsize=256)
def render_badge(definition: Definition) -> bytes:
    """A round badge with the threshold in large type and what it counts beneath."""
    fill, ring = _COLOURS[definition.type]
    # Drawn at twice the size and scaled down, for smooth edges.
    scale = 2
    canvas = Image.new("RGBA", (SIZE * scale, SIZE * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    edge = SIZE * scale - 8
    draw.ellipse((8, 8, edge, edge), fill=ring)
    draw.ellipse((36, 36, edge - 28, edge - 28), fill=fill)
    centre = SIZE * scale // 2
    number = format_number(definition.threshold)
    number_size = 190 if len(number) <= 3 else 150 if len(number) <= 5 else 110
    draw.text(
        (centre, centre - 30),
        number,
        font=ImageFont.load_default(size=number_size),
        fill="white",
        anchor="mm",
    )
    draw.text(
        (centre, centre + 120),
        _CAPTIONS[definition.type],
        font=ImageFont.load_default(size=52),
        fill="white",
        anchor="mm",
    )
    image = canvas.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
