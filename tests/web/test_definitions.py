"""GET /api/v1/milestone-definitions: the catalog over HTTP, its version, and its badges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from milestones.catalog import catalog_version, load_catalog
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.wording.labels import format_number
from tests.conftest import FakeClock
from tests.factories import publish_catalog

pytestmark = pytest.mark.anyio
PATH = "/api/v1/milestone-definitions"


async def test_the_definitions_match_the_catalog(client: Any) -> None:
    response = await client.get(PATH)
    assert response.status_code == 200
    body = response.json()
    catalog = load_catalog()
    assert body["catalog_version"] == catalog_version(catalog)
    assert body["data"] == [
        {
            "key": d.key,
            "name": d.name,
            "description": d.description,
            "type": d.type.value,
            "threshold": int(d.threshold),
            "tier": d.tier and d.tier.value,
            "badge_image_url": f"/assets/badges/{d.key}.png",
            "badge_locked_image_url": f"/assets/badges/{d.key}.png?state=locked",
            "achieved_by": 0,
            "achieved_by_share": 0,
        }
        for d in catalog
    ]
    assert all(item["description"] and item["tier"] for item in body["data"])


async def test_every_badge_url_answers(client: Any) -> None:
    for item in (await client.get(PATH)).json()["data"]:
        for url in (item["badge_image_url"], item["badge_locked_image_url"]):
            response = await client.get(url)
            assert (response.status_code, response.headers["content-type"]) == (200, "image/png"), url


async def test_the_catalog_version_leads_its_etag_and_a_match_is_304(client: Any) -> None:
    first = await client.get(PATH)
    assert first.headers["etag"].startswith(f'"{first.json()["catalog_version"]}.')
    again = await client.get(PATH, headers={"If-None-Match": first.headers["etag"]})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", first.headers["etag"])
    assert (await client.get(PATH, headers={"If-None-Match": '"older"'})).status_code == 200


async def test_a_custom_catalog_without_descriptions_or_tiers(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        '[[milestone]]\nkey = "half_day"\nname = "Half a day"\ntype = "hours_logged"\nthreshold = 12.5\n'
        '[[milestone]]\nkey = "first"\nname = "First contact"\ntype = "contacts_helped"\nthreshold = 1\n'
    )
    custom = settings.model_copy(update={"catalog_path": catalog})
    await publish_catalog(custom, catalog)  # a file is served once published (`milestones catalog publish`)
    async with AsyncTestClient(app=create_app(custom, clock=clock)) as client:
        body = (await client.get(PATH)).json()
    assert body["catalog_version"] == catalog_version(load_catalog(catalog))
    assert body["catalog_version"] != catalog_version(load_catalog())
    half_day, first = body["data"]
    assert "tier" not in half_day and "tier" not in first
    assert (half_day["threshold"], half_day["description"]) == (12.5, "Log 12.5 hours of mentoring.")
    assert first["description"] == "Help 1 unique contact."
    assert format_number(load_catalog(catalog)[0].threshold) == "12.5"


async def test_the_operation_is_documented(client: Any) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"][PATH]["get"]
    assert {"200", "304"} <= set(operation["responses"])
    schema = document["components"]["schemas"]["DefinitionOut"]
    assert set(schema["required"]) == {
        "key",
        "name",
        "description",
        "type",
        "threshold",
        "badge_image_url",
        "badge_locked_image_url",
        "achieved_by",
        "achieved_by_share",
    }
    badge = document["paths"]["/assets/badges/{file_name}"]["get"]
    size = next(p for p in badge["parameters"] if p["name"] == "size")
    assert size["schema"]["enum"] == [128, 256, 512]
