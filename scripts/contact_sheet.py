"""Draws contact sheets of every badge in a catalog, earned and locked, as the service renders them.

    .venv/bin/python scripts/contact_sheet.py                    # docs/badges.png and docs/badges-128.png
    .venv/bin/python scripts/contact_sheet.py --catalog my.toml --out /tmp

Each badge is the PNG the service serves, placed by a sheet drawn as SVG and rendered with the same font.
Needs Pillow (installed with the test tools) to store the sheets in a palette, a third of the size.
"""

from __future__ import annotations

import argparse
import base64
import io
import sys
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image

from milestones.badges import FONT_FAMILY, BadgeState, badge_image, render_png
from milestones.catalog import CatalogError, load_catalog
from milestones.domain import Definition, MetricType

_GAP, _LABEL, _MARGIN, _HEADING = 16, 26, 24, 40


def sheet_svg(definitions: tuple[Definition, ...], size: int) -> tuple[str, int, int]:
    """A sheet with two rows per type (earned, then locked), one badge per column; and its width and height."""
    rows = [
        (metric, state, [d for d in definitions if d.type is metric]) for metric in MetricType for state in BadgeState
    ]
    rows = [row for row in rows if row[2]]
    columns = max(len(row[2]) for row in rows)
    cell_w, cell_h = size + _GAP, size + _LABEL + _GAP
    width = 2 * _MARGIN + columns * cell_w - _GAP
    height = 2 * _MARGIN + _HEADING + len(rows) * cell_h
    label_size = 14 if size >= 256 else 11
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT_FAMILY}" font-weight="700">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{_MARGIN}" y="{_MARGIN + 22}" font-size="22" fill="#111827">Milestone badges at {size} px: '
        "earned, and locked (not yet)</text>",
    ]
    for row_index, (_, state, items) in enumerate(rows):
        top = _MARGIN + _HEADING + row_index * cell_h
        for column, definition in enumerate(items):
            left = _MARGIN + column * cell_w
            png = badge_image(definition, "png", size, state).body
            href = "data:image/png;base64," + base64.b64encode(png).decode()
            label = definition.key if state is BadgeState.UNLOCKED else f"{definition.key} (locked)"
            parts.append(f'<image x="{left}" y="{top}" width="{size}" height="{size}" href="{href}"/>')
            parts.append(
                f'<text x="{left + size / 2}" y="{top + size + 18}" font-size="{label_size}" '
                f'text-anchor="middle" fill="#374151">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts), width, height


def compact(png: bytes) -> bytes:
    """The sheet in 256 colours without dithering: it looks the same and keeps the repository small."""
    sheet = Image.open(io.BytesIO(png)).convert("RGB")
    buffer = io.BytesIO()
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        buffer, "PNG", optimize=True
    )
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw contact sheets of every badge.")
    parser.add_argument("--catalog", type=Path, help="a catalog TOML file (default: the packaged catalog)")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder to write the sheets to")
    args = parser.parse_args(argv)
    try:
        definitions = load_catalog(args.catalog)
    except (OSError, CatalogError) as exc:
        print(f"contact_sheet: {exc}", file=sys.stderr)
        return 1
    for size, name in ((256, "badges.png"), (128, "badges-128.png")):
        svg, width, height = sheet_svg(definitions, size)
        target = args.out / name
        target.write_bytes(compact(render_png(svg)))
        print(f"wrote {target} ({width}x{height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
