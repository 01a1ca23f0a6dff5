"""The mentor's page, card and card image over plain HTTP: structure, the empty state, the values the API
gives, the headers (framing, policy, caching) and signed links when reads need a key."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest
from litestar.testing import AsyncTestClient

from milestones.access.keys import parse_key_list
from milestones.access.page_links import signed_query
from milestones.catalog import load_catalog
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from milestones.wording import page_words
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[FrontDoor]
SECRET = "a-page-link-secret-of-some-length"
SVG = "{http://www.w3.org/2000/svg}"


class Outline(HTMLParser):
    """What a test needs of a page: its lang, headings, progress bars and links."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.h1 = 0
        self.bars: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.landmarks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        self.h1 += tag == "h1"
        if found.get("role") == "progressbar":
            self.bars.append(found)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag in ("header", "main", "footer"):
            self.landmarks.append(tag)


def outline(html: str) -> Outline:
    parsed = Outline()
    parsed.feed(html)
    return parsed


async def record(client: Client, mentor_id: str, **summary: object) -> None:
    answer = await client.post("/api/v1/milestones", json=summary_body(mentor_id, **summary))  # type: ignore[arg-type]
    assert answer.status_code in (200, 201), answer.text


async def test_the_page_shows_achieved_badges_and_the_next_rung_of_each_type(client: Client) -> None:
    await record(client, "ada", year=2024, hours=60, contacts=12, activities=30)
    await record(
        client, "ada", year=2026, start_date="2026-01-01", end_date="2026-02-28", hours=45, contacts=0, activities=0
    )
    page = await client.get("/mentors/ada")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    parsed = outline(html)
    assert parsed.lang == "en" and parsed.h1 == 1 and parsed.landmarks == ["header", "main", "footer"]
    # Achieved: each with its date; the clock's year (2026) marks what is new.
    assert "50 Hours Milestone" in html and "10 Unique Contacts" in html
    assert '<time datetime="2026-02-28">February 28, 2026</time>' in html
    assert html.count('class="new-mark"') == 1  # 100h, reached in 2026
    # The bars are the API's in-progress items, closest first, one per type, with their labels.
    api = (await client.get("/api/v1/milestones/ada/in-progress?limit=100")).json()["data"]
    firsts: dict[str, dict[str, object]] = {}
    for item in api:
        firsts.setdefault(str(item["type"]), item)
    assert [(b["aria-valuenow"], b["aria-valuetext"]) for b in parsed.bars] == [
        (str(m["progress_percentage"]), m["accessibility_label"]) for m in firsts.values()
    ]
    assert all(b["aria-valuemin"] == "0" and b["aria-valuemax"] == "100" for b in parsed.bars)
    # Everything the page loads is the service's own, by relative URL.
    assert '<link rel="stylesheet" href="../assets/pages/pages.css">' in html
    assert "http" not in html.replace("http://www.w3.org", "")
    assert (await client.get("/assets/pages/pages.css")).status_code == 200


async def test_a_mentor_with_nothing_sees_the_first_rungs_and_the_same_200(client: Client) -> None:
    page = await client.get("/mentors/never_seen")
    assert page.status_code == 200
    firsts: dict[str, str] = {}
    for definition in load_catalog():
        firsts.setdefault(definition.type, definition.name)
    for name in firsts.values():
        assert f"<h3>{name}</h3>" in page.text
    assert "Your first milestones are waiting" in page.text
    assert outline(page.text).bars == []
    card = await client.get("/mentors/never_seen/card")
    assert card.status_code == 200 and "First to reach" in card.text


EVERY_RUNG_REACHED = {
    "en": "You have reached every milestone there is: thank you for your mentoring.",
    "es": "Has alcanzado todos los hitos que existen: gracias por tu mentoría.",
    "fr": "Vous avez atteint tous les paliers qui existent\u202f: merci pour votre mentorat.",
    "de": "Sie haben jeden Meilenstein erreicht, den es gibt: Danke für Ihr Mentoring.",
    "pt-BR": "Você alcançou todos os marcos que existem: obrigado pela sua mentoria.",
}


@pytest.mark.parametrize("language", list(EVERY_RUNG_REACHED))
async def test_a_mentor_who_reached_every_rung_is_told_so_where_next_up_was(client: Client, language: str) -> None:
    top = {d.type.value: d.threshold for d in load_catalog()}  # the last rung of each type
    await record(
        client,
        "ada",
        year=2025,
        hours=float(top["hours_logged"]),
        contacts=int(top["contacts_helped"]),
        activities=int(top["activity_count"]),
    )
    await record(client, "grace", year=2025, hours=60, contacts=3, activities=4)
    words = EVERY_RUNG_REACHED[language]
    for path in ("/mentors/ada", "/mentors/ada/card"):
        page = await client.get(path, params={"locale": language})
        assert words in page.text.replace("&#39;", "'")
        assert outline(page.text).bars == []
    assert words not in (await client.get("/mentors/grace", params={"locale": language})).text


async def test_what_no_mentor_id_can_be_is_a_problem_not_a_page(client: Client) -> None:
    answer = await client.get("/mentors/not%20an%20id")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


async def test_the_page_and_card_are_never_framed_without_embed_origins(client: Client) -> None:
    for path in ("/mentors/ada", "/mentors/ada/card", "/mentors/ada/card.svg"):
        answer = await client.get(path)
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["content-security-policy"] == "default-src 'self'"
        assert answer.headers["cache-control"] == "private, max-age=60"


async def test_embed_origins_open_the_card_and_only_the_card_to_framing(settings: Settings, clock: FakeClock) -> None:
    embedding = settings.model_copy(update={"embed_origins": ["https://a.example.org", "https://b.example.org"]})
    async with AsyncTestClient(app=create_app(embedding, clock=clock)) as client:
        card = await client.get("/mentors/ada/card")
        assert "x-frame-options" not in card.headers
        assert card.headers["content-security-policy"] == (
            "default-src 'self'; frame-ancestors https://a.example.org https://b.example.org"
        )
        for path in ("/mentors/ada", "/mentors/ada/card.svg", "/mentors/ada/card/x", "/api/v1/milestones"):
            answer = await client.get(path)
            assert answer.headers["x-frame-options"] == "DENY", path
            assert "frame-ancestors" not in answer.headers.get("content-security-policy", ""), path


async def test_the_card_image_is_an_svg_with_its_text_alternative(client: Client) -> None:
    await record(client, "ada", year=2025, hours=60, contacts=3, activities=4)
    answer = await client.get("/mentors/ada/card.svg")
    assert answer.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(answer.text)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "card-title card-desc"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Mentoring milestones: ada"
    assert desc is not None and desc.text is not None
    assert "Milestones reached: 2 (50 Hours Milestone, 10 Hours Milestone)" in desc.text
    assert "Next up: 100 Hours Milestone. You have logged 60 out of 100 hours of mentoring, 40 remaining." in desc.text
    # The badges are drawn inside: an image loads no other file.
    assert len(root.findall(f"{SVG}g/{SVG}g/{SVG}svg")) == 2
    assert "href" not in answer.text


@pytest.fixture
async def keyed(settings: Settings, clock: FakeClock) -> AsyncIterator[Client]:
    """Reads need a key; pages need a signed link."""
    locked = settings.model_copy(
        update={
            "read_requires_key": True,
            "api_keys": parse_key_list("k-admin"),
            "page_link_secret": SECRET,
        }
    )
    async with AsyncTestClient(app=create_app(locked, clock=clock)) as client:
        yield client


async def test_when_reads_need_a_key_a_page_opens_only_with_a_signed_link(keyed: Client, clock: FakeClock) -> None:
    query = signed_query(SECRET, "ada", clock.now + timedelta(days=7))
    for form in ("", "/card", "/card.svg"):
        assert (await keyed.get(f"/mentors/ada{form}?{query}")).status_code == 200
        refused = await keyed.get(f"/mentors/ada{form}")
        assert refused.status_code == 401
        assert refused.json()["type"].endswith("key-required")
        assert "signed link" in refused.json()["detail"]
    # The API itself still needs the key.
    assert (await keyed.get(f"/api/v1/milestones/ada/in-progress?{query}")).status_code == 401
    # The card's link to the page carries the signature on.
    card = await keyed.get(f"/mentors/ada/card?{query}")
    assert f'href="../ada?{query}"' in card.text.replace("&amp;", "&")


async def test_expired_tampered_and_borrowed_links_are_refused(keyed: Client, clock: FakeClock) -> None:
    good = parse_qs(signed_query(SECRET, "ada", clock.now + timedelta(hours=1)))
    expires, signature = good["expires"][0], good["signature"][0]
    expired = signed_query(SECRET, "ada", clock.now - timedelta(seconds=1))
    other_secret = signed_query("another-secret-of-some-length", "ada", clock.now + timedelta(hours=1))
    for query in (
        expired,
        other_secret,
        f"expires={int(expires) + 3600}&signature={signature}",  # a later expiry, same signature
        f"expires={expires}&signature={signature[:-1]}0",
        f"expires={expires}&signature=",
        f"expires=soon&signature={signature}",
    ):
        answer = await keyed.get(f"/mentors/ada?{query}")
        assert answer.status_code == 401, query
        assert "not valid" in answer.json()["detail"]
    # Ada's link opens Ada's page only.
    assert (await keyed.get(f"/mentors/grace?expires={expires}&signature={signature}")).status_code == 401
    assert urlsplit(f"/mentors/ada?expires={expires}").path == "/mentors/ada"


@pytest.mark.parametrize("asked", [{"params": {"locale": "es"}}, {"headers": {"Accept-Language": "es-MX, en;q=0.5"}}])
async def test_the_page_speaks_the_language_the_api_would(client: Client, asked: dict[str, dict[str, str]]) -> None:
    await record(client, "ada", year=2025, hours=60, contacts=3, activities=4)
    page = await client.get("/mentors/ada", **asked)  # type: ignore[arg-type]
    assert page.headers["content-language"] == "es" and page.headers["vary"] == "accept-language"
    parsed = outline(page.text)
    assert parsed.lang == "es"
    api = (await client.get("/api/v1/milestones/ada/in-progress?limit=100", **asked)).json()["data"]  # type: ignore[arg-type]
    assert api[0]["accessibility_label"].startswith("Registraste")
    assert parsed.bars[0]["aria-valuetext"] == api[0]["accessibility_label"]
    assert "Hitos de mentoría" in page.text and "Saltar al contenido principal" in page.text
    assert '<time datetime="2025-12-31">31 de diciembre de 2025</time>' in page.text
    assert "../assets/badges/50h.svg?locale=es" in page.text
    card = await client.get("/mentors/ada/card", **asked)  # type: ignore[arg-type]
    assert 'href="../ada?locale=es"' in card.text
    image = ElementTree.fromstring((await client.get("/mentors/ada/card.svg", **asked)).text)  # type: ignore[arg-type]
    assert "Hito de 50 horas" in "".join(image.itertext())


async def test_an_empty_page_in_another_language_names_the_first_rungs_in_it(client: Client) -> None:
    page = await client.get("/mentors/never_seen?locale=de")
    assert "Ihre ersten Meilensteine warten" in page.text and "10-Stunden-Meilenstein" in page.text


def test_every_word_of_the_templates_is_in_the_message_catalogs() -> None:
    templates = Path(str(files("milestones.web") / "templates"))
    used = {
        text
        for path in templates.iterdir()
        for groups in re.findall(r"""_\((?:"([^"]+)"|'([^']+)')\)""", path.read_text())
        for text in groups
        if text
    }
    assert used == {message.text for message in page_words.MESSAGES}


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "pt-BR"])
async def test_a_browser_gets_an_error_on_a_page_as_a_page_with_the_apis_status_and_headers(
    keyed: Client, clock: FakeClock, language: str
) -> None:
    expired = signed_query(SECRET, "ada", clock.now - timedelta(seconds=1))
    as_json = await keyed.get(f"/mentors/ada?{expired}")
    as_page = await keyed.get(f"/mentors/ada?{expired}&locale={language}", headers=BROWSER)
    assert (as_json.status_code, as_page.status_code) == (401, 401)
    assert as_json.headers["content-type"] == "application/problem+json"
    assert as_page.headers["content-type"] == "text/html; charset=utf-8"
    for header in ("www-authenticate", "cache-control", "content-security-policy"):
        assert as_page.headers[header] == as_json.headers[header], header
    assert as_page.headers["cache-control"] == "no-store"
    page = outline(as_page.text)
    assert page.lang == language and page.h1 == 1 and "main" in page.landmarks
    assert as_json.json()["detail"] in as_page.text
    if language != "en":
        assert 'lang="en"' in as_page.text  # the detail is English, and says so to a screen reader


@pytest.mark.parametrize(
    "path", ["/mentors/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "/problems/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"]
)
async def test_what_a_request_says_never_reaches_an_html_page_as_markup(client: Client, path: str) -> None:
    """XSS: an error page may quote the request (a problem type's name), always escaped."""
    answer = await client.get(path, headers=BROWSER)
    assert answer.status_code in (404, 422)
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "<img" not in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")


async def test_an_invalid_mentor_id_in_a_browser_is_a_page_too(client: Client) -> None:
    answer = await client.get("/mentors/bad%20id", headers=BROWSER)
    assert answer.status_code == 422
    assert answer.text.startswith("<!DOCTYPE html>") and "This address is not valid" in answer.text
    # The API's own answers stay JSON whatever the client accepts.
    api = await client.get("/api/v1/milestones/bad%20id/in-progress", headers=BROWSER)
    assert api.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/mentors/ada/", "/mentors/ada/card/", "/docs/", "/redoc/", "/problems/"])
async def test_a_trailing_slash_on_a_page_redirects_to_the_page(client: Client, path: str) -> None:
    answer = await client.get(path + "?locale=es", follow_redirects=False)
    assert answer.status_code == 308
    assert answer.headers["location"] == path[:-1] + "?locale=es"


async def test_the_front_page_is_the_api_reference(client: Client) -> None:
    answer = await client.get("/", follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"] == "docs"
    assert (await client.get("/")).text == (await client.get("/docs")).text
