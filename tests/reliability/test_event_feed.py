"""The event feed under concurrent writers: `milestones serve --workers 4`, 50 writers posting at once and a
follower reading the feed while they run. On PostgreSQL writers of different mentors commit out of id order
(per-mentor locks), which is what would make a plain `id > cursor` read lose events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from milestones.settings import Settings
from tests.database_contents import events_settled
from tests.factories import summary_body
from tests.served import clean_environment, serving

WRITERS = 50
MENTORS = 20
POSTS_EACH = 6


async def write(client: httpx.AsyncClient, writer: int) -> int:
    """Posts a writer's summaries; writers share mentors, each with periods of its own."""
    mentor = f"mentor-{writer % MENTORS}"
    first_year = 1900 + 10 * (writer // MENTORS)
    written = 0
    for year in range(first_year, first_year + POSTS_EACH):
        body = summary_body(mentor, year=year, hours=25 + 40 * (year - first_year), contacts=3, activities=5)
        answer = await client.post("/api/v1/milestones", json=body)
        assert answer.status_code in (200, 201), answer.text
        written += answer.status_code == 201
    return written


async def follow(client: httpx.AsyncClient, done: asyncio.Event, settings: Settings) -> list[dict[str, Any]]:
    """Reads the feed from the start while the writers run, then until it has caught up with them."""
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    caught_up = False
    while True:
        params = {"limit": "37"} if cursor is None else {"limit": "37", "cursor": cursor}
        page = (await client.get("/api/v1/events", params=params)).json()
        seen.extend(page["data"])
        cursor = page["pagination"]["next_cursor"]
        if not page["data"]:
            if caught_up:
                return seen
            if done.is_set():
                # Every writer has had its answer: once the horizon is past their transactions, read to the end.
                await events_settled(settings)
                caught_up = True
            else:
                await asyncio.sleep(0.01)


@pytest.mark.parametrize("workers", ["4"])
def test_a_follower_sees_every_event_once_in_commit_order(settings: Settings, tmp_path: Path, workers: str) -> None:
    env = clean_environment(MILESTONES_DATABASE_URL=settings.database_url, MILESTONES_POSTGRES_POOL_SIZE="8")
    with serving("--workers", workers, cwd=tmp_path, env=env) as server:

        async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[tuple[str, str]]]]:
            limits = httpx.Limits(max_connections=WRITERS + 2)
            async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
                done = asyncio.Event()
                follower = asyncio.create_task(follow(client, done, settings))
                written = await asyncio.gather(*(write(client, writer) for writer in range(WRITERS)))
                done.set()
                followed = await follower
                assert sum(written) == WRITERS * POSTS_EACH
                await events_settled(settings)
                whole: list[dict[str, Any]] = []
                page = (await client.get("/api/v1/events", params={"limit": "100"})).json()
                while page["data"]:
                    whole.extend(page["data"])
                    cursor = page["pagination"]["next_cursor"]
                    page = (await client.get("/api/v1/events", params={"limit": "100", "cursor": cursor})).json()
                histories = {}
                for number in range(MENTORS):
                    mentor = f"mentor-{number}"
                    entries: list[dict[str, Any]] = []
                    params = {"limit": "100"}
                    while True:
                        page = (await client.get(f"/api/v1/mentors/{mentor}/history", params=params)).json()
                        entries.extend(page["data"])
                        if "next_cursor" not in page["pagination"]:
                            break
                        params = {"limit": "100", "cursor": page["pagination"]["next_cursor"]}
                    histories[mentor] = [
                        (e["milestone_id"], e["transition"]) for e in entries if e["transition"] != "revised"
                    ]
                return followed, whole, histories

        followed, whole, histories = asyncio.run(run())
    ids = [event["id"] for event in followed]
    assert len(ids) == len(set(ids)), "an event came twice"
    assert followed == whole, "the follower missed events, or saw them in another order"
    assert len(whole) >= WRITERS * POSTS_EACH
    # Each mentor's events are its history, in the order its changes were made.
    for mentor, transitions in histories.items():
        mine = [(e["subject"], e["data"]["transition"]) for e in whole if e["data"]["mentor_id"] == mentor]
        assert mine == transitions, mentor
