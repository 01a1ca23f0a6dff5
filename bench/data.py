"""Benchmark data: summary bodies, seeding over HTTP, checking stored summaries, bulk JSON Lines files."""

from __future__ import annotations

import asyncio
import bisect
import json
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bench.harness import BenchError

T = TypeVar("T")

SEED = 20_251_129
CONCURRENCY = 32
MILESTONES = "/api/v1/milestones"


def seed_mentor_id(index: int) -> str:
    """The id of the 0-based index-th seeded mentor; bench/post.lua builds the same ids."""
    return f"bench-{index + 1:06d}"


def summary_body(mentor_id: str, hours_centi: int, contacts: int, activities: int, identifiers: str = "") -> str:
    """A summary line; `identifiers`, when given, is the text of a `contacts` array (`contacts` its length)."""
    # Plain formatting: json.dumps per line would dominate generating a million of them.
    evidence = f',"contacts":[{identifiers}]' if identifiers else ""
    return (
        f'{{"mentor_id":"{mentor_id}","period":{{"year":2025,"start_date":"2025-01-01","end_date":"2025-12-31"}},'
        f'"summary":{{"total_hours":{hours_centi // 100}.{hours_centi % 100:02d},'
        f'"unique_contacts_helped":{contacts},"activity_count":{activities}}}{evidence}}}'
    )


MAX_HOURS_CENTI, MAX_CONTACTS, MAX_ACTIVITIES = 60_000, 120, 400


def random_values(rng: random.Random) -> tuple[int, int, int]:
    """Hours 0-600 in hundredths, contacts 0-120, activities 0-400."""
    # random() rather than randint(): a third of the cost, which shows over a million lines.
    draw = rng.random
    return (
        int(draw() * (MAX_HOURS_CENTI + 1)),
        int(draw() * (MAX_CONTACTS + 1)),
        int(draw() * (MAX_ACTIVITIES + 1)),
    )


async def gather_limited(jobs: Iterable[Callable[[], Awaitable[T]]], limit: int = CONCURRENCY) -> list[T]:
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


@dataclass(frozen=True)
class Seeded:
    mentors: int
    hours_centi: list[int]
    mentor_id: str
    milestone_id: str
    mentor_items: int


def pick(responses: dict[str, list[dict[str, Any]]]) -> tuple[str, str, int]:
    """The mentor with the most milestones among those with both achieved and in-progress ones, and one of its
    achieved milestones: the heaviest realistic page, so the GET rows do not flatter the service."""
    best: tuple[int, str] | None = None
    for mentor_id, items in responses.items():
        statuses = {item["status"] for item in items}
        if {"achieved", "in_progress"} <= statuses and (best is None or len(items) > best[0]):
            best = (len(items), mentor_id)
    if best is None:
        raise BenchError("no seeded mentor has both achieved and in-progress milestones")
    items = responses[best[1]]
    milestone_id = next(item["id"] for item in items if item["status"] == "achieved")
    return best[1], milestone_id, best[0]


async def seed(base_url: str, mentors: int) -> Seeded:
    """POST one 2025 summary per mentor, about CONCURRENCY at a time."""
    rng = random.Random(SEED)
    values = [random_values(rng) for _ in range(mentors)]
    responses: dict[str, list[dict[str, Any]]] = {}
    failures: list[str] = []
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as client:

        def post(index: int) -> Callable[[], Awaitable[None]]:
            async def send() -> None:
                mentor_id = seed_mentor_id(index)
                body = summary_body(mentor_id, *values[index])
                response = await client.post(MILESTONES, content=body, headers={"content-type": "application/json"})
                if response.status_code != 201:
                    failures.append(f"{mentor_id}: {response.status_code} {response.text[:200]}")
                    return
                responses[mentor_id] = response.json()["data"]

            return send

        await gather_limited(post(i) for i in range(mentors))
    if failures:
        raise BenchError(f"seeding failed for {len(failures)} of {mentors} mentors, e.g. {failures[0]}")
    mentor_id, milestone_id, items = pick(responses)
    return Seeded(mentors, [v[0] for v in values], mentor_id, milestone_id, items)


async def stored_hours(base_url: str, mentor_ids: list[str]) -> dict[str, float | None]:
    """Each mentor's stored 2025 total_hours, read back through GET /api/v1/mentors/{id}/periods."""
    found: dict[str, float | None] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:

        def read(mentor_id: str) -> Callable[[], Awaitable[None]]:
            async def get() -> None:
                response = await client.get(f"/api/v1/mentors/{mentor_id}/periods")
                periods = response.json()["data"] if response.status_code == 200 else []
                hours = [p["summary"]["total_hours"] for p in periods if p["start_date"] == "2025-01-01"]
                found[mentor_id] = hours[0] if hours else None

            return get

        await gather_limited(read(m) for m in mentor_ids)
    return found


def post_cycles(hours: dict[str, float | None]) -> dict[str, int]:
    """The last post.lua cycle stored per mentor (hours 601.25 is cycle 0); mentors it never reached are absent."""
    return {m: int(h) - 601 for m, h in hours.items() if h is not None and h > 600}


def post_accounting(cycles: list[int | None], threads: int, first_cycle: int) -> tuple[int, int]:
    """From each seeded mentor's last stored cycle (by mentor index), the summaries the POST run stored, and how
    many mentors hold an older summary than their neighbours say they were sent.

    A post.lua thread walks its mentors in order, so after S requests its mentors' cycles form a staircase: K for
    the first S mod n, K - 1 for the rest. The best-fitting staircase counts what was sent; a mentor off it was
    overtaken: an earlier, slower request for it finished after a later one and replaced it."""
    sent = stale = 0
    for thread in range(threads):
        seen = [first_cycle - 1 if c is None or c < first_cycle else c for c in cycles[thread::threads]]
        top = max(seen)
        # misfit[j]: mentors off the staircase that steps down from top to top - 1 after position j.
        misfit = [sum(1 for c in seen if c != top - 1)]
        for c in seen:
            misfit.append(misfit[-1] + (c != top) - (c != top - 1))
        step = min(range(len(misfit)), key=misfit.__getitem__)
        stale += misfit[step]
        sent += step * (top - first_cycle + 1) + (len(seen) - step) * (top - first_cycle)
    # wrk calls the first thread's request() once to check the script and never sends that request.
    return max(sent - 1, 0), stale


async def fetch(base_url: str, path: str) -> tuple[list[tuple[str, str]], bytes]:
    """The exact body and the app's own headers (not date, server or length, which the server adds)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        response = await client.get(path)
    if response.status_code != 200:
        raise BenchError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
    skip = {"date", "server", "content-length", "transfer-encoding"}
    headers = [(name, value) for name, value in response.headers.items() if name.lower() not in skip]
    return headers, response.content


# --- bulk files --------------------------------------------------------------------------------------------


# Skewed, as a platform's mentors are (most log a few hours, few log hundreds): with this catalog a summary
# stores about 5 milestone rows, the performance issue's "realistic values".
BULK_HOURS_CENTI, BULK_CONTACTS, BULK_ACTIVITIES = 20_000, 40, 120


def bulk_values(rng: random.Random) -> tuple[int, int, int]:
    """Hours 0-200 in hundredths, contacts 0-40, activities 0-120: each its maximum times a uniform draw cubed."""
    draw = rng.random
    return (
        int(draw() ** 3 * (BULK_HOURS_CENTI + 1)),
        int(draw() ** 3 * (BULK_CONTACTS + 1)),
        int(draw() ** 3 * (BULK_ACTIVITIES + 1)),
    )


def milestone_tables() -> tuple[list[int], list[int], list[int]]:
    """Milestone rows detection stores for a fresh summary, per hours (in hundredths), contacts and activities
    value: every reached rung plus the next unreached one of each type. Lets the generator size a file by stored
    rows rather than by summaries; tables, because a million bisects per type would double the generation time."""
    from milestones.catalog import load_catalog

    thresholds: dict[str, list[int]] = {}
    for definition in load_catalog():
        thresholds.setdefault(definition.type.value, []).append(int(definition.threshold * 100))

    def table(metric: str, top: int, scale: int) -> list[int]:
        ladder = sorted(thresholds.get(metric, []))
        reached = [bisect.bisect_right(ladder, value * scale) for value in range(top + 1)]
        return [n + (1 if n < len(ladder) else 0) for n in reached]

    return (
        table("hours_logged", BULK_HOURS_CENTI, 1),
        table("contacts_helped", BULK_CONTACTS, 100),
        table("activity_count", BULK_ACTIVITIES, 100),
    )


@dataclass(frozen=True)
class BulkFile:
    path: Path
    summaries: int
    milestones: int


def write_bulk(
    path: Path, summaries: int, prefix_path: Path, prefix_milestones: int, identifiers: int = 0
) -> tuple[BulkFile, BulkFile]:
    """Write `summaries` lines for mentors bulk-0000001...; the shortest head of it that stores at least
    `prefix_milestones` rows also goes to prefix_path, so the small and large databases share their mentors.
    With `identifiers`, each line carries that many contact identifiers (`c-<line>-<n>`, 12 to 14 characters),
    and its unique_contacts_helped is their number."""
    rng = random.Random(SEED + 1)
    by_hours, by_contacts, by_activities = milestone_tables()
    rows = 0
    prefix: BulkFile | None = None
    chunk: list[str] = []
    with path.open("w", encoding="ascii") as out, prefix_path.open("w", encoding="ascii") as head:
        for index in range(summaries):
            hours, contacts, activities = bulk_values(rng)
            listed = ""
            if identifiers:
                contacts = identifiers
                listed = ",".join(f'"c-{index + 1:07d}-{n}"' for n in range(identifiers))
            chunk.append(summary_body(f"bulk-{index + 1:07d}", hours, contacts, activities, listed))
            chunk.append("\n")
            rows += by_hours[hours] + by_contacts[min(contacts, BULK_CONTACTS)] + by_activities[activities]
            if prefix is None:
                head.write(chunk[-2] + "\n")
                if rows >= prefix_milestones:
                    prefix = BulkFile(prefix_path, index + 1, rows)
            if len(chunk) >= 20_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))
    return BulkFile(path, summaries, rows), prefix or BulkFile(prefix_path, summaries, rows)


def parse_detect_output(stdout: str) -> dict[str, Any] | None:
    """The JSON object `milestones detect` prints last, if it printed one."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        return value if isinstance(value, dict) else None
    return None
