"""Concurrent writers of one mentor across worker processes: no 5xx, no duplicates, a serializable outcome."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from milestones.domain import milestone_id
from tests.deployment import BEHIND_HAPROXY, ONE_HOST, Balanced, serving_api
from tests.redis_server import RedisServer
from tests.reliability.servers import (
    MILESTONES_PATH,
    POSTGRES_SKIP_REASON,
    POSTGRES_URL,
    Service,
    create_postgres_database,
    drop_postgres_database,
    postgres_rows,
    run,
    running,
    summary_for,
)

MENTOR = "concurrent-mentor"
POSTS = 50
PUTS = 10
DELETES = 10
# The seed reaches 10 and 25 contacts on its own and sits at 30 of 50; the concurrent POSTs add no contacts,
# so the contact records change only through the PUTs and DELETEs below.
SEED = summary_for(MENTOR, 0, hours=5, contacts=30, activities=0)
PUT_TARGET = milestone_id(MENTOR, "50contacts")
DELETE_TARGET = milestone_id(MENTOR, "10contacts")
# Contact rungs a PUT can change: 50contacts itself, and the next rung detection opens once it is achieved.
PUT_AFFECTED = {PUT_TARGET, milestone_id(MENTOR, "100contacts")}
DUPLICATES = (
    "SELECT mentor_id, definition_key, count(*) FROM milestones GROUP BY mentor_id, definition_key HAVING count(*) > 1"
)


def post_body(n: int) -> dict[str, Any]:
    """The n-th concurrent POST (1..POSTS): its own month, one activity, and hours no other POST has."""
    return summary_for(MENTOR, n, hours=round(1 + (n * 37 % POSTS) * 0.07, 2), contacts=0, activities=1)


def put_body(n: int) -> dict[str, Any]:
    """A person marks 50contacts achieved; each PUT names its own moment, so the stored one says which won."""
    return {"status": "achieved", "achieved_at": f"2010-01-{n + 1:02d}T12:00:00Z"}


@dataclass
class Load:
    posts: list[tuple[dict[str, Any], httpx.Response]]
    puts: list[tuple[dict[str, Any], httpx.Response]]
    deletes: list[httpx.Response]


async def apply_load(base_url: str) -> Load:
    """The seed, then every POST, PUT and DELETE at once, in a shuffled order."""
    limits = httpx.Limits(max_connections=POSTS + PUTS + DELETES)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:
        seeded = await http.post(MILESTONES_PATH, json=SEED)
        assert seeded.status_code == 201, seeded.text
        operations = (
            [("post", n) for n in range(1, POSTS + 1)]
            + [("put", n) for n in range(PUTS)]
            + [("delete", n) for n in range(DELETES)]
        )
        random.Random(20261129).shuffle(operations)

        async def one(kind: str, n: int) -> tuple[str, dict[str, Any], httpx.Response]:
            if kind == "post":
                body = post_body(n)
                return kind, body, await http.post(MILESTONES_PATH, json=body)
            if kind == "put":
                body = put_body(n)
                return kind, body, await http.put(f"{MILESTONES_PATH}/{PUT_TARGET}", json=body)
            return kind, {}, await http.delete(f"{MILESTONES_PATH}/{DELETE_TARGET}")

        done = await asyncio.gather(*(one(kind, n) for kind, n in operations))
    return Load(
        posts=[(body, r) for kind, body, r in done if kind == "post"],
        puts=[(body, r) for kind, body, r in done if kind == "put"],
        deletes=[r for kind, _, r in done if kind == "delete"],
    )


async def replay(base_url: str, bodies: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """POST the bodies one at a time, in order; the milestones each answered with."""
    pages = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        for body in bodies:
            response = await http.post(MILESTONES_PATH, json=body)
            assert response.status_code == 201, response.text
            pages.append(response.json()["data"])
    return pages


async def final_state(base_url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        items = await http.get(MILESTONES_PATH, params={"mentor_id": MENTOR, "limit": 100})
        periods = await http.get(f"/api/v1/mentors/{MENTOR}/periods")
    assert items.status_code == periods.status_code == 200
    return items.json()["data"], periods.json()["data"]


def in_progress_value(items: list[dict[str, Any]], metric: str) -> float:
    (value,) = [i["current_value"] for i in items if i["type"] == metric and i["status"] == "in_progress"]
    return float(value)


def split(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Records no PUT can touch, and those it can (by id)."""
    return [i for i in items if i["id"] not in PUT_AFFECTED], {i["id"]: i for i in items if i["id"] in PUT_AFFECTED}


def when(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["achieved_at"].replace("Z", "+00:00"))


def assert_serializable(
    load: Load,
    run_replay: Callable[[list[dict[str, Any]]], list[list[dict[str, Any]]]],
    final_items: list[dict[str, Any]],
    final_periods: list[dict[str, Any]],
) -> None:
    """The outcome of the concurrent load is that of running its requests one at a time.

    What the responses tell: each POST answers with the mentor's whole state after its own commit. Every
    POST adds exactly one activity, so the activity total in its answer is its rank in commit order among
    the POSTs (the seed has none). PUT and DELETE answers carry no such position, so where they fell between
    the POSTs cannot be read back. The check is therefore:

    - exact for everything independent of where PUTs and DELETEs fell: the POSTs' ranks are exactly 1..50
      (no two saw the same state: no lost update); replaying the seed and the POSTs one by one, in rank
      order, into a fresh database gives, at every rank, the same hours, activity and 10/25-contacts records
      as the concurrent answer of that rank (achieved_at and achieved_value depend on which periods were
      stored when a rung was crossed, so this also checks each POST saw exactly the POSTs ranked before it);
      10contacts is in every POST answer, because detection recreates a deleted record identically (the
      seed alone earns it, and the seed is the earliest period); the final periods are all 51; the final
      records match the last replayed answer;
    - order-consistent for the PUT-able records: 50contacts is in progress with the replay's values until
      some POST sees it achieved, and from then on every later POST sees it achieved (a person's decision
      sticks), always with the achieved_at of one of the PUTs; the final 50contacts is exactly the answer
      of the PUT whose achieved_at it holds (the last PUT committed); 10contacts is finally either as the
      seed made it or gone, and gone only if a DELETE succeeded (one committed after the last POST).
    """
    # Every request succeeded, or was a 404 only where a concurrent DELETE explains it.
    assert [r.status_code for _, r in load.posts] == [201] * POSTS
    assert [r.status_code for _, r in load.puts] == [200] * PUTS
    assert {r.status_code for r in load.deletes} <= {200, 404}
    assert any(r.status_code == 200 for r in load.deletes), "the first DELETE committed must find the record"

    answers = {round(in_progress_value(r.json()["data"], "activity_count")): (body, r) for body, r in load.posts}
    assert sorted(answers) == list(range(1, POSTS + 1)), "two POSTs saw the same state: an update was lost"
    in_commit_order = [answers[rank] for rank in range(1, POSTS + 1)]

    replayed = run_replay([SEED, *(body for body, _ in in_commit_order)])[1:]
    hours = SEED["summary"]["total_hours"]
    put_times = {datetime.fromisoformat(b["achieved_at"].replace("Z", "+00:00")) for b, _ in load.puts}
    seen_achieved = False
    for rank, ((body, response), expected) in enumerate(zip(in_commit_order, replayed, strict=True), start=1):
        items = response.json()["data"]
        hours += body["summary"]["total_hours"]
        assert in_progress_value(items, "hours_logged") == pytest.approx(hours), f"rank {rank} saw other hours"
        untouched, affected = split(items)
        replay_untouched, replay_affected = split(expected)
        assert untouched == replay_untouched, f"rank {rank} differs from the sequential replay"
        assert DELETE_TARGET in {i["id"] for i in untouched}
        target = affected[PUT_TARGET]
        if target["status"] == "in_progress":
            assert not seen_achieved, f"rank {rank}: a person's decision was undone"
            assert affected == replay_affected
        else:
            seen_achieved = True
            assert when(target) in put_times and target["achieved_value"] == 30
            assert affected[milestone_id(MENTOR, "100contacts")]["current_value"] == 30

    # The final state: periods exact, records as the last POST's replay, PUT-able records as the last PUT.
    expected_periods = [SEED, *(post_body(n) for n in range(1, POSTS + 1))]
    assert [(p["start_date"], p["summary"]) for p in final_periods] == [
        (b["period"]["start_date"], b["summary"]) for b in expected_periods
    ]
    untouched, affected = split(final_items)
    replay_untouched, _ = split(replayed[-1])
    if DELETE_TARGET in {i["id"] for i in untouched}:
        assert untouched == replay_untouched
    else:
        assert untouched == [i for i in replay_untouched if i["id"] != DELETE_TARGET]
    last_put = [r.json() for _, r in load.puts if when(r.json()) == when(affected[PUT_TARGET])]
    assert last_put == [affected[PUT_TARGET]]


class Reachable(Protocol):
    """Where the API answers: one host (`Service`) or the balancer in front of several (`Balanced`)."""

    @property
    def base_url(self) -> str: ...


def check_load(service: Reachable, replay_service: Reachable) -> tuple[list[dict[str, Any]], Load]:
    load = run(apply_load(service.base_url))
    final_items, final_periods = run(final_state(service.base_url))
    assert_serializable(load, lambda bodies: run(replay(replay_service.base_url, bodies)), final_items, final_periods)
    return final_items, load


# --- PostgreSQL: four worker processes of one host, or three hosts behind HAProxy ---------------------------


@pytest.fixture
def postgres_databases() -> Iterator[tuple[str, str]]:
    """Two fresh, migrated databases: one for the concurrent load, one for the sequential replay."""
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP_REASON)
    urls: list[str] = []
    try:
        urls.extend(create_postgres_database() for _ in range(2))
        yield urls[0], urls[1]
    finally:
        for url in urls:
            drop_postgres_database(url)


@pytest.mark.postgres
@pytest.mark.parametrize("layout", [ONE_HOST, BEHIND_HAPROXY])
def test_postgres_writers_of_one_mentor_are_serialized_across_processes(
    postgres_databases: tuple[str, str], tmp_path: Path, layout: str, request: pytest.FixtureRequest
) -> None:
    """One host's four workers, or three hosts that HAProxy hands the requests to in turn: either way each
    writer of the mentor waits for the one before, and the outcome is that of running them one at a time."""
    loaded, fresh = postgres_databases
    redis_url = request.getfixturevalue("redis_server").url if layout == BEHIND_HAPROXY else None
    replayer = Service(fresh, tmp_path / "replay", migrate_on_start=False, MILESTONES_POSTGRES_POOL_SIZE="2")
    with (
        running(replayer),
        serving_api(
            layout, loaded, tmp_path / "load", workers=4, redis_url=redis_url, MILESTONES_POSTGRES_POOL_SIZE="5"
        ) as app,
    ):
        final_items, _ = check_load(app, replayer)
        if isinstance(app, Balanced):
            # Each host took its share of the writers, so they were serialized across hosts, not within one.
            assert all(count >= 10 for count in app.requests_served(MILESTONES_PATH)), app.requests_served(
                MILESTONES_PATH
            )

    # Straight from the database: one record per (mentor, definition), and exactly the records served.
    assert run(postgres_rows(loaded, DUPLICATES)) == []
    assert {r[0] for r in run(postgres_rows(loaded, "SELECT id FROM milestones"))} == {i["id"] for i in final_items}
    assert run(postgres_rows(loaded, "SELECT count(*) FROM periods"))[0][0] == POSTS + 1


IDEMPOTENT_BODY = summary_for("idempotent-mentor", 0, hours=12, contacts=3, activities=2)
AT_ONCE = 12


async def at_once(base_url: str, count: int) -> list[httpx.Response]:
    """The same keyed POST `count` times at once, each on a connection of its own (through the balancer, each
    to the next host in turn)."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        headers = {"Idempotency-Key": "retry-storm-1"}
        return list(
            await asyncio.gather(
                *(http.post(MILESTONES_PATH, json=IDEMPOTENT_BODY, headers=headers) for _ in range(count))
            )
        )


@pytest.mark.postgres
def test_postgres_one_idempotency_key_sent_at_once_to_every_host_is_written_once(
    empty_postgres_database: str, tmp_path: Path, redis_server: RedisServer
) -> None:
    """A client retrying one keyed write at once, as a retry storm would, through the balancer: whichever host
    each copy reaches, the key's claim in the database lets one of them write, and every other copy is either
    that write's answer replayed or a 409 saying the key is still in use; once it is done, every retry
    replays it. (Within one host, tests/web/test_idempotency.py claims the key from a second connection as
    another worker would.)"""
    with serving_api(BEHIND_HAPROXY, empty_postgres_database, tmp_path, redis_url=redis_server.url) as app:
        storm = run(at_once(app.base_url, AT_ONCE))
        later = run(at_once(app.base_url, AT_ONCE))
        assert isinstance(app, Balanced)
        assert all(count >= 6 for count in app.requests_served(MILESTONES_PATH))

    written = [r for r in storm if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(written) == 1, [(r.status_code, r.headers.get("idempotent-replayed")) for r in storm]
    first = written[0]
    for response in storm:
        if response is first:
            continue
        if response.status_code == 409:
            assert response.json()["type"] == "/problems/idempotency-key-in-use"
        else:
            assert (response.status_code, response.headers["idempotent-replayed"]) == (201, "true")
            assert response.content == first.content
    assert [(r.status_code, r.headers.get("idempotent-replayed"), r.content) for r in later] == [
        (201, "true", first.content)
    ] * AT_ONCE
    mentor = IDEMPOTENT_BODY["mentor_id"]
    assert run(postgres_rows(empty_postgres_database, "SELECT count(*) FROM periods"))[0][0] == 1
    assert run(postgres_rows(empty_postgres_database, "SELECT count(*) FROM history WHERE mentor_id = $1", mentor)) == [
        (1,)
    ]


# --- SQLite, two worker processes ----------------------------------------------------------------------


def test_sqlite_two_workers_queue_writers_and_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "load.sqlite3"
    app = Service(f"sqlite:///{path}", tmp_path / "load", workers=2)
    replayer = Service(f"sqlite:///{tmp_path / 'replay.sqlite3'}", tmp_path / "replay")
    with running(app, replayer):
        final_items, load = check_load(app, replayer)

    # No writer failed: not even a 503 while the other worker process held the write lock.
    statuses = [r.status_code for _, r in load.posts + load.puts] + [r.status_code for r in load.deletes]
    assert all(status < 500 for status in statuses)
    with sqlite3.connect(path) as db:
        assert db.execute(DUPLICATES).fetchall() == []
        assert {r[0] for r in db.execute("SELECT id FROM milestones")} == {i["id"] for i in final_items}
        assert db.execute("SELECT count(*) FROM periods").fetchone() == (POSTS + 1,)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
