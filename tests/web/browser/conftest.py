"""One real server with a mentor's three years of data, and one headless chromium, for the whole session.

The browser is Debian's `chromium` package (/usr/bin/chromium, or MILESTONES_TEST_CHROMIUM), never a
downloaded build; `.ci/run` installs it when missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.factories import summary_body
from tests.served import Served, clean_environment, serving

CHROMIUM = os.environ.get("MILESTONES_TEST_CHROMIUM", "/usr/bin/chromium")
RICH, EMPTY = "mentor_rich", "mentor_nobody"
EMBEDDER = "https://platform.example.org"


@pytest.fixture(scope="session")
def this_year() -> int:
    return datetime.now(UTC).year


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, this_year: int) -> Iterator[Served]:
    """`milestones serve` on SQLite, holding three full years of one mentor and a day of this year."""
    where = tmp_path_factory.mktemp("browser")
    env = clean_environment(
        MILESTONES_DATABASE_URL=f"sqlite:///{where / 'milestones.sqlite3'}", MILESTONES_EMBED_ORIGINS=EMBEDDER
    )
    with serving(cwd=where, env=env) as served:
        years = [(this_year - 3, 40, 12, 60), (this_year - 2, 70, 9, 80), (this_year - 1, 120, 8, 90)]
        for year, hours, contacts, activities in years:
            body = summary_body(RICH, year=year, hours=hours, contacts=contacts, activities=activities)
            httpx.post(f"{served.url}/api/v1/milestones", json=body).raise_for_status()
        today = f"{this_year}-01-01"
        body = summary_body(RICH, year=this_year, start_date=today, end_date=today, hours=80, contacts=5, activities=10)
        httpx.post(f"{served.url}/api/v1/milestones", json=body).raise_for_status()
        yield served


# Module-scoped, and all the browser tests are in one module: so one browser for the run, and Playwright's
# event loop, which runs while it is open, is gone before the asynchronous tests of later modules start.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"the browser tests need chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()
