"""History over HTTP: what each change did to each milestone, who made it, from which request and why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from milestones.access.keys import digest_of, key_id, parse_key_list
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
Client = AsyncTestClient[FrontDoor]


def env_id(secret: str) -> str:
    return key_id("env", digest_of(secret))


def request(secret: str, request_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "X-Request-ID": request_id}


@pytest.fixture(params=[True, False], ids=["fast_path", "framework"])
async def keyed(request: pytest.FixtureRequest, settings: Settings, clock: FakeClock) -> AsyncIterator[Client]:
    keys = parse_key_list("writer-key:write, admin-key")
    app = create_app(settings.model_copy(update={"api_keys": keys}), clock=clock, fast_path=request.param)
    async with AsyncTestClient(app=app) as client:
        yield client


def summary(entry: dict[str, Any]) -> tuple[Any, ...]:
    after, before = entry["after"], entry["before"]
    return (
        entry["transition"],
        entry["cause"],
        entry["actor"],
        entry.get("request_id"),
        None if before is None else before["status"],
        None if after is None else (after["status"], after["current_value"]),
    )


async def test_a_milestone_reads_back_everything_that_happened_to_it(keyed: Client, clock: FakeClock) -> None:
    client = keyed
    target = f"{BASE}/mentor_001~100h"
    assert (
        await client.post(BASE, json=summary_body(hours=60), headers=request("writer-key", "r1"))
    ).status_code == 201
    clock.now = datetime(2026, 3, 2, tzinfo=UTC)
    corrected = await client.post(BASE, json=summary_body(hours=150), headers=request("writer-key", "r2"))
    assert corrected.status_code == 201
    updated = await client.put(target, json={"achieved_value": 155}, headers=request("admin-key", "r3"))
    assert updated.status_code == 200
    assert (await client.delete(target, headers=request("admin-key", "r4"))).status_code == 200
    again = await client.post(BASE, json=summary_body(hours=151), headers=request("writer-key", "r5"))
    assert again.status_code == 201

    history = (await client.get(f"{target}/history")).json()
    writer, admin = env_id("writer-key"), env_id("admin-key")
    assert [summary(entry) for entry in history["data"]] == [
        ("created", "post", writer, "r1", None, ("in_progress", 60)),
        ("achieved", "post", writer, "r2", "in_progress", ("achieved", 150)),
        ("updated", "put", admin, "r3", "achieved", ("achieved", 150)),
        ("deleted", "delete", admin, "r4", "achieved", None),
        ("achieved", "post", writer, "r5", None, ("achieved", 151)),
    ]
    first, second = history["data"][0], history["data"][1]
    assert first["period"] == {"start_date": "2025-01-01", "end_date": "2025-12-31"}
    assert first["at"] == "2026-03-01T12:00:00Z"
    assert second["at"] == "2026-03-02T00:00:00Z"
    assert history["data"][2]["after"]["achieved_value"] == 155
    assert history["data"][2]["after"]["set_by_person"] is True
    assert "period" not in history["data"][2]
    assert history["pagination"] == {"page": 1, "limit": 20}


async def test_a_repeated_post_writes_no_history(client: Client) -> None:
    assert (await client.post(BASE, json=summary_body())).status_code == 201
    before = (await client.get("/api/v1/mentors/mentor_001/history", params={"limit": 100})).json()["data"]
    assert before
    assert (await client.post(BASE, json=summary_body())).status_code == 200
    after = (await client.get("/api/v1/mentors/mentor_001/history", params={"limit": 100})).json()["data"]
    assert after == before
    assert all(entry["actor"] == "anonymous" for entry in after)


async def test_a_mentors_history_pages_with_a_cursor_oldest_first(client: Client) -> None:
    for hours in (5, 60, 120, 320):
        assert (await client.post(BASE, json=summary_body(hours=hours))).status_code == 201
    whole = (await client.get("/api/v1/mentors/mentor_001/history", params={"limit": 100})).json()["data"]
    walked: list[Any] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = (await client.get("/api/v1/mentors/mentor_001/history", params=params)).json()
        walked += page["data"]
        if "next_cursor" not in page["pagination"]:
            break
        params = {"limit": 3, "cursor": page["pagination"]["next_cursor"]}
    assert walked == whole
    assert len(whole) > 6
    ten_hours = [e for e in whole if e["milestone_id"] == "mentor_001~10h"]
    assert [e["transition"] for e in ten_hours] == ["created", "achieved"]


async def test_a_deleted_milestone_keeps_its_history_and_an_unknown_one_is_404(client: Client) -> None:
    await client.post(BASE, json=summary_body())
    await client.delete(f"{BASE}/mentor_001~100h")
    kept = await client.get(f"{BASE}/mentor_001~100h/history")
    assert kept.status_code == 200
    assert [e["transition"] for e in kept.json()["data"]] == ["achieved", "deleted"]
    assert (await client.get(f"{BASE}/mentor_001~nothing/history")).status_code == 404
    assert (await client.get(f"{BASE}/not-an-id/history")).status_code == 404
    unknown_mentor = await client.get("/api/v1/mentors/nobody/history")
    assert unknown_mentor.json() == {"data": [], "pagination": {"page": 1, "limit": 20}}


async def test_a_bad_cursor_is_422(client: Client) -> None:
    answer = await client.get("/api/v1/mentors/mentor_001/history", params={"cursor": "bm9wZQ"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


async def test_reading_history_needs_a_key_when_reads_do(settings: Settings, clock: FakeClock) -> None:
    keys = parse_key_list("reader-key:read")
    app = create_app(settings.model_copy(update={"api_keys": keys, "read_requires_key": True}), clock=clock)
    async with AsyncTestClient(app=app) as client:
        for path in (f"{BASE}/mentor_001~100h/history", "/api/v1/mentors/mentor_001/history"):
            assert (await client.get(path)).status_code == 401
            allowed = await client.get(path, headers={"Authorization": "Bearer reader-key"})
            assert allowed.status_code in (200, 404)
