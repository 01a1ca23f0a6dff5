"""Badges over HTTP: PNG and SVG at each size and state, strong ETags and 304, plain 422s, custom catalogs."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from milestones.badges import SIZES, BadgeState
from milestones.catalog import load_catalog
from milestones.settings import Settings
from milestones.web.app import create_app
from tests.conftest import FakeClock
from tests.factories import publish_catalog

pytestmark = pytest.mark.anyio
KEYS = [d.key for d in load_catalog()]
STATES = [state.value for state in BadgeState]


@pytest.mark.parametrize("key", KEYS)
async def test_every_badge_is_served_as_png_at_each_size_and_state(client: Any, key: str) -> None:
    for size in SIZES:
        for state in STATES:
            response = await client.get(f"/assets/badges/{key}.png", params={"size": size, "state": state})
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "image/png"
            assert Image.open(io.BytesIO(response.content)).size == (size, size)
    default = await client.get(f"/assets/badges/{key}.png")
    assert Image.open(io.BytesIO(default.content)).size == (256, 256)
    assert default.content == (await client.get(f"/assets/badges/{key}.png?size=256&state=unlocked")).content


async def test_the_svg_is_served_at_the_same_path_ending_svg(client: Any) -> None:
    response = await client.get("/assets/badges/100h.svg", params={"size": 512, "state": "locked"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(response.content)
    assert (root.attrib["width"], root.attrib["height"], root.attrib["role"]) == ("512", "512", "img")
    assert "Not yet achieved" in response.text


async def test_answers_carry_a_strong_etag_and_public_caching(client: Any) -> None:
    tags = set()
    for path in ("100h.png", "100h.png?size=128", "100h.png?state=locked", "100h.svg", "300h.png"):
        response = await client.get(f"/assets/badges/{path}")
        assert response.headers["cache-control"] == "public, max-age=86400"
        tag = response.headers["etag"]
        assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
        tags.add(tag)
    assert len(tags) == 5  # each image its own tag


@pytest.mark.parametrize("header", ["{tag}", "W/{tag}", '"other", {tag}', "*"])
async def test_a_matching_if_none_match_is_304_with_no_body(client: Any, header: str) -> None:
    path = "/assets/badges/50contacts.png?size=128"
    first = await client.get(path)
    again = await client.get(path, headers={"If-None-Match": header.format(tag=first.headers["etag"])})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == "public, max-age=86400"
    head = await client.head(path, headers={"If-None-Match": first.headers["etag"]})
    assert (head.status_code, head.content) == (304, b"")


async def test_a_stale_if_none_match_gets_the_image(client: Any) -> None:
    path = "/assets/badges/50contacts.png"
    locked_tag = (await client.get(path + "?state=locked")).headers["etag"]
    response = await client.get(path, headers={"If-None-Match": locked_tag})
    assert response.status_code == 200
    assert response.content.startswith(b"\x89PNG")


async def test_the_etag_is_the_same_from_every_process(settings: Settings, clock: FakeClock, client: Any) -> None:
    """Derived from the bytes, so every worker (and a restart) gives a cache the same tag."""
    tag = (await client.get("/assets/badges/100h.png")).headers["etag"]
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as other:
        assert (await other.get("/assets/badges/100h.png")).headers["etag"] == tag


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("size=100", {"size": "must be 128, 256 or 512 (pixels)"}),
        ("size=large", {"size": "must be 128, 256 or 512 (pixels)"}),
        ("state=grey", {"state": "must be locked or unlocked"}),
        ("size=1&state=", {"size": "must be 128, 256 or 512 (pixels)", "state": "must be locked or unlocked"}),
    ],
)
async def test_a_bad_size_or_state_is_422_naming_it_in_plain_words(
    client: Any, query: str, fields: dict[str, str]
) -> None:
    response = await client.get(f"/assets/badges/100h.png?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert {e["field"]: e["message"] for e in response.json()["errors"]} == fields


@pytest.mark.parametrize("name", ["nothing.png", "nothing.svg", "100h.gif", "100h", "100h.png.svg.x", ".png"])
async def test_an_unknown_badge_is_404(client: Any, name: str) -> None:
    response = await client.get(f"/assets/badges/{name}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_custom_catalogs_new_key_gets_a_badge(settings: Settings, clock: FakeClock, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        '[[milestone]]\nkey = "first_talk"\nname = "First talk"\ntype = "activity_count"\nthreshold = 1\n'
        '[[milestone]]\nkey = "marathon"\nname = "Marathon"\ntype = "hours_logged"\nthreshold = 42.5\n'
        'tier = "diamond"\ndescription = "Forty-two and a half hours."\n'
    )
    custom = settings.model_copy(update={"catalog_path": catalog})
    await publish_catalog(custom, catalog)  # a file is served once published (`milestones catalog publish`)
    async with AsyncTestClient(app=create_app(custom, clock=clock)) as client:
        for key, words in (("first_talk", "ACTIVITY"), ("marathon", "42.5")):
            png = await client.get(f"/assets/badges/{key}.png?size=512")
            assert png.status_code == 200
            assert Image.open(io.BytesIO(png.content)).size == (512, 512)
            svg = await client.get(f"/assets/badges/{key}.svg?state=locked")
            assert svg.status_code == 200
            assert words in svg.text
        # A key no stored version defines has no badge; a packaged one the custom catalog retired still has
        # (milestones earned on it keep theirs), though the latest version has none of it.
        assert (await client.get("/assets/badges/never_defined.png")).status_code == 404
        assert (await client.get("/assets/badges/100h.png")).status_code == 200
        latest = (await client.get("/api/v1/milestone-definitions")).json()["catalog_version"]
        assert (await client.get(f"/assets/badges/100h.png?version={latest}")).status_code == 404
