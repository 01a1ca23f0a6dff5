"""The fast read path answers exactly what the framework would, and hands everything else over."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from milestones.settings import Settings
from milestones.web.app import create_app
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
JSON = {"content-type": "application/json"}


@pytest.fixture
async def both(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[Any, Any]]:
    """A client through the fast path and one to a framework-only app, both on the same database."""
    async with (
        AsyncTestClient(app=create_app(settings, clock=clock)) as fast,
        AsyncTestClient(app=create_app(settings, clock=clock, fast_path=False)) as direct,
    ):
        await fast.post(BASE, json=summary_body("alice"))
        await fast.post(BASE, json=summary_body("bob", hours=20, contacts=5, activities=7))
        yield fast, direct


@pytest.mark.parametrize(
    "path",
    [
        "?mentor_id=alice",
        "?mentor_id=alice&page=2&limit=3",
        "?mentor_id=bob&type=hours_logged&status=in_progress",
        "/alice/in-progress",
        "/alice/in-progress?limit=1&page=2",
        "/nobody/in-progress",
        "/api/v1/milestones/alice/in-progress",
    ],
)
async def test_fast_and_framework_paths_answer_the_same(both: tuple[Any, Any], path: str) -> None:
    fast, direct = both
    ours, theirs = await fast.get(BASE + path), await direct.get(BASE + path)
    assert ours.status_code == theirs.status_code == 200
    assert ours.content == theirs.content
    assert ours.headers["content-type"] == theirs.headers["content-type"]


async def test_get_one_matches_including_the_etag(both: tuple[Any, Any]) -> None:
    fast, direct = both
    item = (await fast.get(BASE, params={"mentor_id": "alice"})).json()["data"][0]
    ours, theirs = await fast.get(f"{BASE}/{item['id']}"), await direct.get(f"{BASE}/{item['id']}")
    assert ours.content == theirs.content
    assert ours.headers["etag"] == theirs.headers["etag"]
    assert ours.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ms_unknown", 404),
        ("?mentor_id=alice&limit=0", 422),
        ("?mentor_id=alice&page=1&page=2", 200),
        ("?mentor_id=bad%20id", 422),
        ("?mentor_id=alice&status=done", 422),
        ("/alice/in-progress?limit=101", 422),
        ("/alice/in-progress?extra=1", 200),
    ],
)
async def test_unusual_requests_fall_through_to_the_framework(both: tuple[Any, Any], path: str, status: int) -> None:
    fast, direct = both
    ours, theirs = await fast.get(BASE + path), await direct.get(BASE + path)
    assert ours.status_code == theirs.status_code == status
    assert ours.content == theirs.content


# --- POST ---------------------------------------------------------------------------------------------


def with_mentor(body: dict[str, Any], mentor_id: str) -> bytes:
    return json.dumps({**body, "mentor_id": mentor_id}).encode()


@pytest.mark.parametrize(
    "bodies",
    [
        [summary_body(hours=312.5)],
        [summary_body(hours=312.5), summary_body(hours=312.5)],  # the same again: 200, nothing changed
        [summary_body(year=2024, hours=60), summary_body(year=2025, hours=60.25, contacts=20)],
        [summary_body(hours=0, contacts=0, activities=0)],
        [summary_body(hours=1e12, contacts=47.0)],
        # With evidence: identifiers, dated activity and a name are the fast path's too.
        [summary_body(contacts=2, identifiers=["c-1", "c-2"])],
        [
            summary_body(
                year=2024,
                hours=3,
                contacts=2,
                activities=2,
                display_name="Zoë",
                dated=[["2024-03-02", 1.5, "c-1"], ["2024-07-01", 1.5, "c-2"]],
            ),
            summary_body(year=2025, hours=312.5, contacts=2, identifiers=["c-2", "c-3"]),
        ],
        [summary_body(contacts=1, identifiers=["sha256:" + "ab" * 32])],
    ],
)
async def test_post_answers_what_the_framework_answers(both: tuple[Any, Any], bodies: list[dict[str, Any]]) -> None:
    fast, direct = both
    for body in bodies:
        ours = await fast.post(BASE, content=with_mentor(body, "fast-m"), headers=JSON)
        theirs = await direct.post(BASE, content=with_mentor(body, "direct-m"), headers=JSON)
        assert ours.status_code == theirs.status_code
        assert ours.content.replace(b"fast-m", b"direct-m") == theirs.content
        assert ours.headers["content-type"] == theirs.headers["content-type"]
        assert ours.headers["x-frame-options"] == "DENY"
    assert await stored(fast, "fast-m") == await stored(fast, "direct-m")


async def test_a_mentor_whose_identifiers_are_plain_is_refused_hashed_ones_alike_on_both_paths(
    both: tuple[Any, Any],
) -> None:
    """Refused in the write's transaction (the stored periods decide), answered by the fast path itself."""
    fast, direct = both
    first = summary_body(year=2024, contacts=1, identifiers=["c-1"])
    second = summary_body(year=2025, contacts=1, identifiers=["sha256:" + "cd" * 32])
    answers = []
    for client, mentor in ((fast, "fast-x"), (direct, "slow-x")):
        assert (await client.post(BASE, content=with_mentor(first, mentor), headers=JSON)).status_code == 201
        answers.append(await client.post(BASE, content=with_mentor(second, mentor), headers=JSON))
    ours, theirs = answers
    assert (ours.status_code, theirs.status_code) == (422, 422)
    assert ours.content.replace(b"fast-x", b"slow-x") == theirs.content
    assert ours.json()["errors"] == [{"field": "contacts", "message": ours.json()["detail"]}]
    assert len(await stored(fast, "fast-x")) == len(await stored(fast, "slow-x"))
    periods = (await fast.get("/api/v1/mentors/fast-x/periods")).json()["data"]
    assert [p["year"] for p in periods] == [2024]


async def test_post_through_the_contract_alias_path(both: tuple[Any, Any]) -> None:
    fast, _ = both
    response = await fast.post(BASE + BASE, content=with_mentor(summary_body(), "alias-m"), headers=JSON)
    assert response.status_code == 201
    assert len(await stored(fast, "alias-m")) == len(response.json()["data"])


PLAIN = json.dumps(summary_body("odd-m"))


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        # A repeated key, which msgspec alone would accept (the later value wins).
        (PLAIN.replace('"summary"', '"mentor_id": "other", "summary"'), JSON, 422),
        # Escapes in a key: the same repeated key, spelled differently.
        (PLAIN.replace('"summary"', '"mentor\\u005fid": "other", "summary"'), JSON, 422),
        (PLAIN.replace("312.5", '"312.5"'), JSON, 422),
        (PLAIN.replace("312.5", "NaN"), JSON, 400),
        (PLAIN[:-1], JSON, 400),
        (PLAIN, {"content-type": "text/plain"}, 415),
        (PLAIN, {"content-type": "application/json; charset=utf-8"}, 201),
        (PLAIN.replace("2025-12-31", "2025-06-30"), JSON, 201),  # a legitimate body with more spaces
        (PLAIN.replace("2025-12-31", "2026-06-30"), JSON, 422),
        (PLAIN.replace('"year": 2025', '"year": 2024'), JSON, 422),
        # Evidence: a repeated contacts key (msgspec alone keeps the later), a disagreeing count, a mix.
        (PLAIN[:-1] + ', "contacts": ["a"], "contacts": ["b"]}', JSON, 422),
        (PLAIN[:-1] + ', "contacts": ["a", "b"]}', JSON, 422),
        (PLAIN[:-1] + ', "contacts": ["a", "sha256:' + "0" * 64 + '"]}', JSON, 422),
        (PLAIN[:-1] + ', "activities": [{"date": "2025-01-01", "hours": 1}]}', JSON, 422),
        (PLAIN[:-1] + ', "mentor_display_name": ""}', JSON, 422),
    ],
)
async def test_unusual_posts_fall_through_to_the_framework(
    both: tuple[Any, Any], content: str, headers: dict[str, str], status: int
) -> None:
    fast, direct = both
    # Mentor ids of one length: some problems quote a character position.
    ours = await fast.post(BASE, content=content.replace("odd-m", "fast-odd").encode(), headers=headers)
    theirs = await direct.post(BASE, content=content.replace("odd-m", "slow-odd").encode(), headers=headers)
    assert (ours.status_code, theirs.status_code) == (status, status), ours.text
    assert ours.content.replace(b"fast-odd", b"slow-odd") == theirs.content


async def test_a_post_that_overlaps_gets_the_frameworks_problem_and_changes_nothing(both: tuple[Any, Any]) -> None:
    fast, _ = both
    before = await stored(fast, "alice")
    overlapping = summary_body("alice", start_date="2025-06-01", end_date="2026-05-31", year=2025)
    response = await fast.post(BASE, content=json.dumps(overlapping).encode(), headers=JSON)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert await stored(fast, "alice") == before


async def test_a_post_with_an_idempotency_key_is_the_frameworks(both: tuple[Any, Any]) -> None:
    fast, _ = both
    headers = {**JSON, "Idempotency-Key": "fast-path-key"}
    first = await fast.post(BASE, content=with_mentor(summary_body(), "idem-m"), headers=headers)
    replay = await fast.post(BASE, content=with_mentor(summary_body(), "idem-m"), headers=headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.content == first.content
    changed = await fast.post(BASE, content=with_mentor(summary_body(hours=1), "idem-m"), headers=headers)
    assert changed.status_code == 422  # the key was used with another body


async def stored(client: Any, mentor_id: str) -> list[tuple[Any, ...]]:
    data = (await client.get(BASE, params={"mentor_id": mentor_id, "limit": 100})).json()["data"]
    return [(m["name"], m["status"], m.get("achieved_value"), m.get("achieved_at")) for m in data]


async def test_a_refused_post_is_answered_once_with_one_transaction(settings: Settings, clock: FakeClock) -> None:
    """A 409 (or a 503 after waiting for a busy database) is the fast path's to answer: handing it to the
    framework would run the write again, a second transaction or a second wait."""
    app = create_app(settings, clock=clock)
    async with AsyncTestClient(app=app) as client:
        await client.post(BASE, json=summary_body("alice"))
        repository = app.app.state.service.repository  # type: ignore[attr-defined]
        writes: list[object] = []
        change = repository.change

        async def counted(*args: Any, **kwargs: Any) -> Any:
            writes.append(args)
            return await change(*args, **kwargs)

        repository.change = counted
        overlapping = summary_body("alice", start_date="2025-06-01", end_date="2026-05-31", year=2025)
        refused = await client.post(BASE, content=json.dumps(overlapping).encode(), headers=JSON)
        assert refused.status_code == 409
        assert refused.json()["type"] == "/problems/period-overlap"
        assert len(writes) == 1
