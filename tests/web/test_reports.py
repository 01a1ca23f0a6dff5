"""GET /api/v1/reports/milestones, and the rarity on the definitions, over HTTP through the real app: the numbers
equal a full count, stalled mentors are paged, and the report is read as a mentor's data is."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from milestones.access.keys import parse_key_list
from milestones.settings import Settings
from milestones.web.app import create_app
from tests.conftest import FakeClock
from tests.database_contents import full_counts
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
REPORT = "/api/v1/reports/milestones"
DEFINITIONS = "/api/v1/milestone-definitions"
# The clock is 2026-03-01: a period that ended 2025-12-31 is 60 days old, one that ended 2026-02-20 nine days.
STALLED = [f"old_{n}" for n in range(5)]


async def post(client: Any, body: dict[str, Any]) -> None:
    response = await client.post("/api/v1/milestones", json=body)
    assert response.status_code in (200, 201), response.text


async def program(client: Any) -> None:
    for mentor in STALLED:
        await post(client, summary_body(mentor, year=2025, hours=15, contacts=2, activities=10))
    await post(client, summary_body("recent", year=2026, end_date="2026-02-20", hours=15, contacts=2, activities=10))
    # Everything achieved: not stalled, however old its period.
    await post(client, summary_body("done", year=2024, hours=100_000, contacts=100_000, activities=100_000))


async def test_the_report_equals_a_full_count_and_pages_the_stalled(client: Any, settings: Settings) -> None:
    await program(client)
    full = await full_counts(settings)
    first = await client.get(REPORT, params={"limit": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["stalled_days"] == 21
    assert body["mentors_with_period"] == full["with_period"] == 7
    for line in body["definitions"]:
        assert line["achieved"] == full.get(f"achieved:{line['key']}", 0)
        assert line["in_progress"] == full.get(f"in_progress:{line['key']}", 0)
    assert [d["key"] for d in body["definitions"]] == [d["key"] for d in (await client.get(DEFINITIONS)).json()["data"]]
    stalled, pages = list(body["stalled"]), 1
    while "next_cursor" in body["pagination"]:
        body = (await client.get(REPORT, params={"limit": 2, "cursor": body["pagination"]["next_cursor"]})).json()
        stalled += body["stalled"]
        pages += 1
    assert pages == 3
    assert [m["mentor_id"] for m in stalled] == STALLED
    assert {m["last_period_end"] for m in stalled} == {"2025-12-31"}
    assert all(m["in_progress"] and "10h" not in m["in_progress"] for m in stalled)
    # Nine days ago is stalled once the threshold is shorter than that.
    shorter = (await client.get(REPORT, params={"stalled_days": 7, "limit": 100})).json()
    assert [m["mentor_id"] for m in shorter["stalled"]] == [*STALLED, "recent"]


async def test_the_rarity_equals_a_full_count_and_moves_the_etag(client: Any, settings: Settings) -> None:
    before = await client.get(DEFINITIONS)
    assert {(d["achieved_by"], d["achieved_by_share"]) for d in before.json()["data"]} == {(0, 0)}
    await program(client)
    full = await full_counts(settings)
    after = await client.get(DEFINITIONS)
    assert after.headers["etag"] != before.headers["etag"]
    for line in after.json()["data"]:
        achieved = full.get(f"achieved:{line['key']}", 0)
        assert line["achieved_by"] == achieved
        assert line["achieved_by_share"] == round(achieved / full["with_period"], 4)
    ten_hours = next(d for d in after.json()["data"] if d["key"] == "10h")
    assert (ten_hours["achieved_by"], ten_hours["achieved_by_share"]) == (7, 1)
    same = await client.get(DEFINITIONS, headers={"If-None-Match": after.headers["etag"]})
    assert same.status_code == 304
    changed = await client.get(DEFINITIONS, headers={"If-None-Match": before.headers["etag"]})
    assert changed.status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [({"cursor": "not a cursor"}, "cursor"), ({"stalled_days": "-1"}, "stalled_days"), ({"limit": "0"}, "limit")],
)
async def test_bad_parameters_are_named(client: Any, params: dict[str, str], field: str) -> None:
    response = await client.get(REPORT, params=params)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text


async def test_the_report_is_read_as_a_mentors_data_is(settings: Settings, clock: FakeClock) -> None:
    keyed = settings.model_copy(update={"api_keys": parse_key_list("read-key:read"), "read_requires_key": True})
    async with AsyncTestClient(app=create_app(keyed, clock=clock)) as client:
        assert (await client.get(REPORT)).status_code == 401
        assert (await client.get(REPORT, headers={"Authorization": "Bearer read-key"})).status_code == 200
        # The rarity stays public with the definitions.
        assert (await client.get(DEFINITIONS)).status_code == 200


async def test_the_report_is_documented(client: Any) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"][REPORT]["get"]
    assert operation["operationId"] == "getMilestoneReport"
    assert {p["name"] for p in operation["parameters"]} >= {"stalled_days", "limit", "cursor"}
    assert "MilestoneReportOut" in document["components"]["schemas"]
