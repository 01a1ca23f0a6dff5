"""Takes the README's screenshots of a mentor's page: desktop and 320 px wide, in English and Spanish.

    .venv/bin/python scripts/page_screenshots.py            # serves a sample mentor, writes docs/page-*.png

Starts `milestones serve` on a temporary SQLite database, records three years and a few weeks of this year for
one mentor, and photographs the page in Debian's chromium (/usr/bin/chromium) through Playwright.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.served import clean_environment, serving  # noqa: E402  (the tests' server runner)

MENTOR = "maria.lopez"
SHOTS = (("desktop", 1280, 900), ("320", 320, 720))
LANGUAGES = ("en", "es")


def record(base_url: str, year: int) -> None:
    years = [(year - 3, 38.5, 9, 40), (year - 2, 64, 8, 48), (year - 1, 121.25, 12, 61)]
    bodies = [
        {
            "mentor_id": MENTOR,
            "period": {"year": y, "start_date": f"{y}-01-01", "end_date": f"{y}-12-31"},
            "summary": {"total_hours": hours, "unique_contacts_helped": contacts, "activity_count": activities},
        }
        for y, hours, contacts, activities in years
    ]
    bodies.append(
        {
            "mentor_id": MENTOR,
            "period": {"year": year, "start_date": f"{year}-01-01", "end_date": f"{year}-01-31"},
            "summary": {"total_hours": 80, "unique_contacts_helped": 2, "activity_count": 14},
        }
    )
    for body in bodies:
        httpx.post(f"{base_url}/api/v1/milestones", json=body).raise_for_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where to write the PNGs (default docs/)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the browser (default /usr/bin/chromium)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as where:
        env = clean_environment(MILESTONES_DATABASE_URL=f"sqlite:///{Path(where) / 'milestones.sqlite3'}")
        with serving(cwd=Path(where), env=env) as served:
            record(served.url, datetime.now(UTC).year)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
                for language in LANGUAGES:
                    for name, width, height in SHOTS:
                        page = browser.new_page(viewport={"width": width, "height": height})
                        page.goto(f"{served.url}/mentors/{MENTOR}?locale={language}")
                        path = args.out / f"page-{language}-{name}.png"
                        page.screenshot(path=str(path), full_page=True)
                        page.close()
                        print(path)
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
