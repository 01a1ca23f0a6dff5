"""The mentor's page and card in headless chromium: axe-core finds nothing, keyboard users get a skip link,
visible focus and a logical order, nothing scrolls sideways at 320 px or 200% zoom, and the progress bars say
what the API says."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.served import Served
from tests.web.browser.conftest import EMPTY, RICH

pytestmark = pytest.mark.browser
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FORMS = ["", "/card"]


def violations(page: Page) -> list[dict[str, Any]]:
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})
    found: list[dict[str, Any]] = results.response["violations"]
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in found]


def opened(page: Page, url: str) -> Page:
    """The page, loaded; fails on a script or style the Content-Security-Policy refused, or a missing file."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if message.type == "error" else None)
    page.on("requestfailed", lambda request: refused.append(f"failed: {request.url}"))
    answer = page.goto(url)
    assert answer is not None and answer.status == 200
    page.wait_for_load_state("load")
    assert refused == []
    return page


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("mentor", [RICH, EMPTY])
@pytest.mark.parametrize("form", FORMS)
def test_no_axe_violations(page: Page, server: Served, mentor: str, form: str, language: str) -> None:
    opened(page, f"{server.url}/mentors/{mentor}{form}?locale={language}")
    assert page.get_attribute("html", "lang") == language
    assert violations(page) == []


def test_the_stylesheet_and_badges_load_under_the_strict_policy(page: Page, server: Served) -> None:
    opened(page, f"{server.url}/mentors/{RICH}")
    # The stylesheet applied (the masthead is coloured), and every badge drew.
    background = page.eval_on_selector(".masthead", "e => getComputedStyle(e).backgroundImage")
    assert "gradient" in background
    widths = page.eval_on_selector_all("img", "images => images.map(i => i.naturalWidth)")
    assert widths and all(w > 0 for w in widths)


@pytest.mark.parametrize("language", ["en", "de"])
def test_progress_bars_carry_the_api_values_and_labels(page: Page, server: Served, language: str) -> None:
    opened(page, f"{server.url}/mentors/{RICH}?locale={language}")
    bars = page.eval_on_selector_all(
        "[role=progressbar]",
        """bars => bars.map(b => ({
            now: Number(b.getAttribute('aria-valuenow')), min: b.getAttribute('aria-valuemin'),
            max: b.getAttribute('aria-valuemax'), text: b.getAttribute('aria-valuetext'),
            name: document.getElementById(b.getAttribute('aria-labelledby')).textContent,
            fill: b.querySelector('rect').getBoundingClientRect().width / b.getBoundingClientRect().width }))""",
    )
    api = httpx.get(f"{server.url}/api/v1/milestones/{RICH}/in-progress?limit=100&locale={language}").json()["data"]
    first_of_each_type = list({item["type"]: item for item in reversed(api)}.values())
    expected = sorted(first_of_each_type, key=api.index)
    assert [(b["name"], b["now"], b["text"]) for b in bars] == [
        (m["name"], m["progress_percentage"], m["accessibility_label"]) for m in expected
    ]
    assert {(b["min"], b["max"]) for b in bars} == {("0", "100")}
    for bar in bars:  # the drawn fill is as long as the value says
        assert abs(bar["fill"] * 100 - bar["now"]) < 2


def test_keyboard_skip_link_then_the_badges_in_reading_order(page: Page, server: Served) -> None:
    opened(page, f"{server.url}/mentors/{RICH}")
    page.keyboard.press("Tab")
    first = page.evaluate("() => [document.activeElement.textContent, document.activeElement.getAttribute('href')]")
    assert first == ["Skip to main content", "#main"]
    # The skip link slides into view when focused (a short transition), with a visible outline.
    page.wait_for_function("() => document.querySelector('.skip-link').getBoundingClientRect().top >= 0", timeout=2000)
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    names = page.eval_on_selector_all(".badge h3", "hs => hs.map(h => h.textContent)")
    focused = []
    for _ in names:
        page.keyboard.press("Tab")
        focused.append(page.evaluate("() => document.activeElement.getAttribute('aria-label')"))
        assert page.evaluate("() => getComputedStyle(document.activeElement).outlineWidth") == "3px"
    assert focused == [f"Open the badge image: {name}" for name in names]
    # Reading order is visual order: each badge lies right of the one before in its row, or in a lower row.
    places = page.eval_on_selector_all(
        ".badge", "items => items.map(i => [Math.round(i.getBoundingClientRect().top), i.getBoundingClientRect().left])"
    )
    assert places == sorted(places)
    assert len({top for top, _ in places}) < len(places)  # more than one to a row: the order was tested across


@pytest.mark.parametrize("mentor", [RICH, EMPTY])
@pytest.mark.parametrize("form", FORMS)
def test_no_sideways_scrolling_at_320_px_or_200_percent_zoom(
    page: Page, server: Served, mentor: str, form: str
) -> None:
    page.set_viewport_size({"width": 320, "height": 640})
    opened(page, f"{server.url}/mentors/{mentor}{form}")
    fits = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    assert page.evaluate(fits)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.evaluate("() => { document.documentElement.style.zoom = '2'; }")
    assert page.evaluate(fits)


def test_document_structure(page: Page, server: Served) -> None:
    opened(page, f"{server.url}/mentors/{RICH}")
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").count() == 1
    for landmark in ("banner", "main", "contentinfo"):
        assert page.get_by_role(landmark).count() == 1
    assert page.locator(".is-new .new-mark").count() >= 1


def test_reduced_motion_and_forced_colours_are_respected(page: Page, server: Served) -> None:
    page.emulate_media(reduced_motion="reduce")
    opened(page, f"{server.url}/mentors/{RICH}")
    assert page.eval_on_selector(".skip-link", "e => getComputedStyle(e).transitionDuration") == "0s"
    page.emulate_media(reduced_motion="no-preference", forced_colors="active")
    page.reload()
    fill = page.eval_on_selector(".bar-fill", "e => getComputedStyle(e).fill")
    highlight = page.evaluate(
        """() => { const probe = document.createElement('span'); probe.style.color = 'Highlight';
                   document.body.append(probe); const c = getComputedStyle(probe).color; probe.remove(); return c; }"""
    )
    assert fill == highlight


def test_the_card_frames_on_the_embedding_origin_only(page: Page, server: Served) -> None:
    answer = httpx.get(f"{server.url}/mentors/{RICH}/card")
    assert "frame-ancestors https://platform.example.org" in answer.headers["content-security-policy"]
    assert "x-frame-options" not in answer.headers
    assert httpx.get(f"{server.url}/mentors/{RICH}").headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "pt-BR"])
def test_an_error_page_has_no_axe_violations(page: Page, server: Served, language: str) -> None:
    """A browser that follows a broken link to a page gets a page saying so, as accessible as the page itself."""
    refused: list[str] = []
    page.on("requestfailed", lambda request: refused.append(request.url))
    answer = page.goto(f"{server.url}/mentors/not%20an%20id?locale={language}")
    assert answer is not None and answer.status == 422
    page.wait_for_load_state("load")
    assert refused == []  # its stylesheet loaded under the page's policy
    assert page.get_attribute("html", "lang") == language
    assert violations(page) == []
