"""The event feed over HTTP: CloudEvents in commit order, filtered and paged, refused clearly when asked badly."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from milestones.access.keys import parse_key_list
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.conftest import FakeClock
from tests.database_contents import events_settled
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
FEED = "/api/v1/events"
Client = AsyncTestClient[FrontDoor]
# The database of the test running: PostgreSQL's feed is read once the writes before are below its horizon.
_database: list[Settings] = []


@pytest.fixture(autouse=True)
def _settles(settings: Settings) -> Iterator[None]:
    _database.append(settings)
    yield
    _database.pop()


async def feed(client: Client, **params: Any) -> dict[str, Any]:
    await events_settled(_database[-1])
    answer = await client.get(FEED, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def every_event(client: Client, **params: Any) -> list[dict[str, Any]]:
    """The whole feed, page by page, until a page comes back empty."""
    events: list[dict[str, Any]] = []
    page = await feed(client, **params)
    while page["data"]:
        events.extend(page["data"])
        page = await feed(client, **{**params, "cursor": page["pagination"]["next_cursor"]})
    return events


async def end_of_feed(client: Client) -> str:
    """The cursor after every event there is now."""
    page = await feed(client)
    while page["data"]:
        page = await feed(client, cursor=page["pagination"]["next_cursor"])
    cursor: str = page["pagination"]["next_cursor"]
    return cursor


async def test_a_post_writes_its_events_as_cloudevents_with_the_milestone_as_the_api_shows_it(client: Client) -> None:
    posted = await client.post("/api/v1/milestones", json=summary_body(), headers={"X-Request-ID": "req-1"})
    assert posted.status_code == 201
    events = (await feed(client))["data"]
    shown = {m["id"]: m for m in posted.json()["data"]} if "data" in posted.json() else {}
    assert events, "a POST that achieves milestones writes events"
    for event in events:
        assert set(event) == {"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data"}
        assert (event["specversion"], event["source"], event["datacontenttype"]) == (
            "1.0",
            "/milestones",
            "application/json",
        )
        assert event["type"] in {"milestone.achieved", "milestone.progressed"}
        data = event["data"]
        assert (data["cause"], data["actor"], data["request_id"], data["notify"]) == (
            "post",
            "anonymous",
            "req-1",
            True,
        )
        assert event["subject"] == data["milestone_id"] == data["milestone"]["id"]
        served = (await client.get(f"/api/v1/milestones/{event['subject']}")).json()
        assert data["milestone"] == served
        if shown:
            assert data["milestone"] == shown[event["subject"]]
    assert len({event["id"] for event in events}) == len(events)
    achieved = [e for e in events if e["type"] == "milestone.achieved"]
    assert all(e["data"]["transition"] == "achieved" for e in achieved)
    assert {e["data"]["transition"] for e in events if e["type"] == "milestone.progressed"} <= {"created", "progressed"}


async def test_a_change_that_alters_nothing_writes_no_event(client: Client) -> None:
    assert (await client.post("/api/v1/milestones", json=summary_body())).status_code == 201
    before = await every_event(client)
    assert (await client.post("/api/v1/milestones", json=summary_body())).status_code == 200
    assert await every_event(client) == before


async def test_put_and_delete_write_updated_and_deleted(client: Client) -> None:
    await client.post("/api/v1/milestones", json=summary_body(hours=50, contacts=1, activities=1))
    page = await feed(client, types="milestone.achieved")
    target = page["data"][0]["subject"]
    latest = await end_of_feed(client)
    put = await client.put(f"/api/v1/milestones/{target}", json={"achieved_value": 60})
    assert put.status_code == 200, put.text
    assert (await client.delete(f"/api/v1/milestones/{target}")).status_code == 200
    events = (await feed(client, cursor=latest))["data"]
    assert [(e["type"], e["subject"], e["data"]["cause"]) for e in events] == [
        ("milestone.updated", target, "put"),
        ("milestone.deleted", target, "delete"),
    ]
    assert events[0]["data"]["milestone"]["achieved_value"] == 60
    # A deleted milestone is shown as it was.
    assert events[1]["data"]["milestone"]["achieved_value"] == 60


async def test_paging_one_at_a_time_gives_every_event_once_in_order(client: Client) -> None:
    for mentor in ("m1", "m2"):
        await client.post("/api/v1/milestones", json=summary_body(mentor))
    whole = (await feed(client, limit=100))["data"]
    assert len(whole) > 4
    assert await every_event(client, limit=1) == whole
    assert await every_event(client, limit=3) == whole


async def test_types_and_mentor_filter_the_feed(client: Client) -> None:
    for mentor in ("m1", "m2"):
        await client.post("/api/v1/milestones", json=summary_body(mentor))
    whole = (await feed(client, limit=100))["data"]
    achieved = await every_event(client, types="milestone.achieved", limit=2)
    assert achieved == [e for e in whole if e["type"] == "milestone.achieved"]
    both = await every_event(client, types="milestone.achieved, milestone.progressed")
    assert both == whole
    assert await every_event(client, mentor_id="m2") == [e for e in whole if e["data"]["mentor_id"] == "m2"]
    assert await every_event(client, types="milestone.deleted") == []


async def test_latest_starts_at_the_tail(client: Client, settings: Settings) -> None:
    await client.post("/api/v1/milestones", json=summary_body("m1"))
    tail = await feed(client, cursor="latest")
    assert tail["data"] == []
    await client.post("/api/v1/milestones", json=summary_body("m2"))
    after = await every_event(client, cursor=tail["pagination"]["next_cursor"])
    m2 = [e for e in await every_event(client) if e["data"]["mentor_id"] == "m2"]
    assert m2 and [e for e in after if e["data"]["mentor_id"] == "m2"] == m2
    if settings.is_sqlite:
        assert after == m2
    # On PostgreSQL the tail is the oldest transaction still running anywhere on the server: events committed
    # after it began may come again (never one lost), so m1's may show when another session is open.
    # An empty page keeps its place: polling with its cursor later finds what came after.
    empty = await feed(client, cursor=tail["pagination"]["next_cursor"], types="milestone.deleted")
    assert empty["data"] == [] and empty["pagination"]["next_cursor"]


async def test_a_cursor_older_than_the_retention_is_gone_and_names_the_oldest(client: Client, clock: FakeClock) -> None:
    await client.post("/api/v1/milestones", json=summary_body())
    cursor = (await feed(client, limit=1))["pagination"]["next_cursor"]
    clock.now += timedelta(days=31)
    answer = await client.get(FEED, params={"cursor": cursor})
    assert answer.status_code == 410
    problem = answer.json()
    assert problem["type"] == "/problems/cursor-expired"
    assert "the oldest kept is 1-0, from 2026-03-01" in problem["detail"]
    assert "30 days" in problem["detail"]


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"cursor": "bm90LWEtY3Vyc29y"}, ["cursor"]),
        ({"cursor": base64.urlsafe_b64encode(b"1.2.3").decode().rstrip("=")}, ["cursor"]),
        ({"types": "milestone.won"}, ["types"]),
        ({"limit": "0"}, ["limit"]),
        ({"limit": "many"}, ["limit"]),
        (
            {"cursor": "bm90LWEtY3Vyc29y", "types": "x,milestone.achieved", "mentor_id": "a b"},
            ["cursor", "types", "mentor_id"],
        ),
        ({"limit": "101", "types": "milestone.won", "mentor_id": "a b"}, ["limit", "types", "mentor_id"]),
    ],
)
async def test_bad_parameters_are_named_in_a_422(client: Client, params: dict[str, str], fields: list[str]) -> None:
    answer = await client.get(FEED, params=params)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["type"] == "/problems/invalid-request"
    assert sorted(error["field"] for error in problem["errors"]) == sorted(fields)


async def test_the_source_is_the_public_url(settings: Settings, clock: FakeClock) -> None:
    app = create_app(settings.model_copy(update={"public_url": "https://milestones.example.org/"}), clock=clock)
    async with AsyncTestClient(app=app) as client:
        await client.post("/api/v1/milestones", json=summary_body())
        events = (await feed(client))["data"]
    assert {e["source"] for e in events} == {"https://milestones.example.org"}


@pytest.fixture
async def keyed(settings: Settings, clock: FakeClock) -> AsyncIterator[Client]:
    keys = parse_key_list("reader-key:read, admin-key")
    app = create_app(settings.model_copy(update={"api_keys": keys, "read_requires_key": True}), clock=clock)
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_reading_the_feed_follows_the_read_rule(keyed: Client) -> None:
    assert (await keyed.get(FEED)).status_code == 401
    assert (await keyed.get(FEED, headers={"Authorization": "Bearer reader-key"})).status_code == 200


async def test_erasure_leaves_only_the_hashed_mentor_erased(keyed: Client) -> None:
    admin = {"Authorization": "Bearer admin-key"}
    for mentor in ("gone", "kept"):
        await keyed.post("/api/v1/milestones", json=summary_body(mentor), headers=admin)
    erased = await keyed.delete("/api/v1/mentors/gone", headers=admin)
    assert erased.status_code == 200, erased.text
    mentor_hash = erased.json()["mentor_hash"]
    await events_settled(_database[-1])
    page = await keyed.get(FEED, params={"limit": 100}, headers=admin)
    events = page.json()["data"]
    assert "gone" not in page.text
    erasures = [e for e in events if e["type"] == "mentor.erased"]
    assert [(e["subject"], e["data"]["mentor_hash"], e["data"]["cause"]) for e in erasures] == [
        (mentor_hash, mentor_hash, "erasure")
    ]
    assert {e["data"]["mentor_id"] for e in events if e["type"] != "mentor.erased"} == {"kept"}
