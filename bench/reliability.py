"""A bounded reliability run against real servers (`python -m bench.reliability [--heavy]`); prints the figures."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tests.reliability.servers import (
    MILESTONES_PATH,
    Answer,
    FaultyProxy,
    Service,
    Traffic,
    crash_while_writing,
    create_postgres_database,
    drop_postgres_database,
    postgres_rows,
    postgres_target,
    run,
    running,
    send,
    summary_for,
    via_proxy,
)

DUPLICATES = (
    "SELECT count(*) FROM (SELECT mentor_id, definition_key FROM milestones "
    "GROUP BY mentor_id, definition_key HAVING count(*) > 1) AS d"
)


@dataclass(frozen=True)
class Plan:
    """How much of everything a run does."""

    crashes: int
    writes_per_crash: int
    outages: int
    outage_seconds: float
    stalls: int
    stall_seconds: float
    burst_mentors: int
    burst_posts: int
    burst_puts: int
    burst_deletes: int


DEFAULT = Plan(
    crashes=3,
    writes_per_crash=40,
    outages=2,
    outage_seconds=2.0,
    stalls=1,
    stall_seconds=12.0,
    burst_mentors=1,
    burst_posts=50,
    burst_puts=10,
    burst_deletes=10,
)
HEAVY = Plan(
    crashes=10,
    writes_per_crash=150,
    outages=6,
    outage_seconds=4.0,
    stalls=2,
    stall_seconds=15.0,
    burst_mentors=4,
    burst_posts=100,
    burst_puts=20,
    burst_deletes=20,
)


@dataclass
class Figures:
    """What one phase sent, broke and found."""

    phase: str
    requests: int = 0
    faults: int = 0
    unavailable: int = 0  # 503 problem details with Retry-After: the expected answer while a fault lasts
    other_5xx: int = 0  # anything else at or above 500, including a 503 without problem details or Retry-After
    no_answer: int = 0  # no HTTP answer at all: expected only from a server being killed
    acknowledged: int = 0
    found: int = 0
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def lost(self) -> int:
        return self.acknowledged - self.found

    def count(self, answers: list[Answer]) -> None:
        self.requests += len(answers)
        self.unavailable += sum(a.well_formed_503 for a in answers)
        self.other_5xx += sum(a.status >= 500 and not a.well_formed_503 for a in answers)
        self.no_answer += sum(a.status == 0 for a in answers)
        self.failures.update(f"{a.kind} {a.status}" for a in answers if a.status >= 500 and not a.well_formed_503)


def stored_rows(items: list[tuple[Any, ...]]) -> set[tuple[str, str, str, int, int, int]]:
    return {(m, str(s), str(e), int(h), int(c), int(a)) for m, s, e, h, c, a in items}


def acknowledged_rows(traffic: Traffic) -> set[tuple[str, str, str, int, int, int]]:
    rows = set()
    for w in traffic.acknowledged:
        s = w.summary
        rows.add((*w.key, round(s["total_hours"] * 100), s["unique_contacts_helped"], s["activity_count"]))
    return rows


PERIOD_ROWS = (
    "SELECT mentor_id, start_date, end_date, total_hours_centi, unique_contacts_helped, activity_count FROM periods"
)


# --- SQLite: SIGKILL mid-stream, restart, check -------------------------------------------------------


def sqlite_crashes(plan: Plan, workdir: Path) -> Figures:
    figures = Figures(f"sqlite: SIGKILL x{plan.crashes} mid-write")
    path = workdir / "crash.sqlite3"
    service = Service(f"sqlite:///{path}", workdir / "crash")
    acknowledged: set[tuple[str, str, str, int, int, int]] = set()
    for crash in range(plan.crashes):
        service.start()
        traffic = Traffic(
            service.base_url, prefix="crash", mentors_per_client=3, first_month=100 * crash, reads=False, pause=0
        )
        crash_while_writing(service, traffic, plan.writes_per_crash, seed=crash)
        figures.faults += 1
        figures.count(traffic.answers)
        acknowledged |= acknowledged_rows(traffic)
    figures.acknowledged = len(acknowledged)

    # Restart on the same file: the acknowledged writes must be there, and the milestones must be what
    # detection gives for the stored periods (posting a stored summary again then changes nothing).
    half_written = 0
    with running(service), httpx.Client(base_url=service.base_url, timeout=60) as http:
        with sqlite3.connect(path) as db:
            stored = stored_rows(db.execute(PERIOD_ROWS).fetchall())
        for mentor in sorted({row[0] for row in stored}):
            periods = http.get(f"/api/v1/mentors/{mentor}/periods").json()["data"]
            latest = periods[-1]
            body = {"mentor_id": mentor, "period": {k: latest[k] for k in ("year", "start_date", "end_date")}}
            body["summary"] = latest["summary"]
            half_written += http.post(MILESTONES_PATH, json=body).status_code != 200
    figures.found = len(acknowledged & stored)
    with sqlite3.connect(path) as db:
        figures.duplicates = db.execute(DUPLICATES).fetchone()[0]
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        journal = db.execute("PRAGMA journal_mode").fetchone()[0]
    figures.notes.append(
        f"in flight at a kill: {figures.no_answer}; stored without an answer: {len(stored - acknowledged)}; "
        f"half-written mentors: {half_written}; integrity_check: {integrity}; journal_mode: {journal}"
    )
    if half_written or integrity != "ok" or journal != "wal":
        figures.notes.append("FAILED: the database after the crashes is not consistent")
    return figures


# --- PostgreSQL: the database goes away under traffic ----------------------------------------------


def postgres_outages(plan: Plan, workdir: Path) -> Figures:
    figures = Figures(f"postgres: {plan.outages} outages, {plan.stalls} stalls, resets")
    url = create_postgres_database()
    recoveries: list[float] = []
    slowest = 0.0
    try:
        with FaultyProxy(*postgres_target(url)) as proxy:
            service = Service(via_proxy(url, proxy), workdir / "outage", migrate_on_start=False)
            with running(service):
                traffic = Traffic(service.base_url, prefix="outage")

                async def wait_ready(http: httpx.AsyncClient, since: float) -> None:
                    while time.monotonic() - since < 60:
                        answer, _ = await send(http, "readyz", "GET", "/readyz")
                        if answer.status == 200:
                            recoveries.append(time.monotonic() - since)
                            return
                        await asyncio.sleep(0.1)
                    figures.notes.append("FAILED: readiness did not come back within 60 s")

                async def scenario() -> None:
                    stop = asyncio.Event()
                    clients = asyncio.create_task(traffic.run(stop))
                    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
                        for _ in range(plan.outages):
                            await asyncio.sleep(1.0)
                            await asyncio.to_thread(proxy.outage)
                            await asyncio.sleep(plan.outage_seconds)
                            await asyncio.to_thread(proxy.resume)
                            await wait_ready(http, time.monotonic())
                            await asyncio.sleep(0.5)
                            await asyncio.to_thread(proxy.drop_connections)
                            figures.faults += 2
                        for _ in range(plan.stalls):
                            await asyncio.sleep(1.0)
                            await asyncio.to_thread(proxy.stall)
                            await asyncio.sleep(plan.stall_seconds)
                            await asyncio.to_thread(proxy.resume)
                            await wait_ready(http, time.monotonic())
                            figures.faults += 1
                        await asyncio.sleep(1.0)
                    stop.set()
                    await clients

                run(scenario())
                restarted = service.process is None or service.process.poll() is not None or service.starts != 1
        figures.count(traffic.answers)
        slowest = max(a.finished - a.started for a in traffic.answers)
        acknowledged = acknowledged_rows(traffic)
        stored = stored_rows([tuple(r) for r in run(postgres_rows(url, PERIOD_ROWS))])
        figures.acknowledged = len(acknowledged)
        figures.found = len(acknowledged & stored)
        figures.duplicates = run(postgres_rows(url, DUPLICATES))[0][0]
    finally:
        drop_postgres_database(url)
    figures.notes.append(
        f"recovered (readyz 200) within {max(recoveries, default=float('nan')):.1f} s of each fault ending; "
        f"slowest answer {slowest:.1f} s; same process throughout: {'no' if restarted else 'yes'}"
    )
    if restarted:
        figures.notes.append("FAILED: the service had to be restarted")
    return figures


# --- Concurrent writers of the same mentors ----------------------------------------------------------


async def burst(base_url: str, plan: Plan, tag: str) -> tuple[list[httpx.Response], int]:
    """For each mentor: a seed, then its POSTs (distinct months), PUTs and DELETEs all at once.

    Returns every answer, and how many of them showed a lost update: every POST adds one
    activity, so the activity totals the POSTs answered with must be exactly 1..n for each mentor.
    """
    mentors = [f"{tag}-{n}" for n in range(plan.burst_mentors)]
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:
        seeds = await asyncio.gather(
            *(http.post(MILESTONES_PATH, json=summary_for(m, 0, hours=5, contacts=30, activities=0)) for m in mentors)
        )
        targets = {m: [i["id"] for i in s.json()["data"]] for m, s in zip(mentors, seeds, strict=True)}
        requests: list[tuple[str, Any]] = []
        for m in mentors:
            requests += [
                ("post", summary_for(m, n, hours=round(1 + n % 7 * 0.31, 2), contacts=0, activities=1))
                for n in range(1, plan.burst_posts + 1)
            ]
            requests += [("put", (targets[m][-1], {"status": "achieved"})) for _ in range(plan.burst_puts)]
            requests += [("delete", targets[m][0]) for _ in range(plan.burst_deletes)]
        random.Random(tag).shuffle(requests)

        async def one(kind: str, arg: Any) -> tuple[str, Any, httpx.Response]:
            if kind == "post":
                return kind, arg, await http.post(MILESTONES_PATH, json=arg)
            if kind == "put":
                return kind, arg, await http.put(f"{MILESTONES_PATH}/{arg[0]}", json=arg[1])
            return kind, arg, await http.delete(f"{MILESTONES_PATH}/{arg}")

        done = await asyncio.gather(*(one(kind, arg) for kind, arg in requests))
    lost_updates = 0
    for m in mentors:
        totals = sorted(
            round(i["current_value"])
            for kind, arg, r in done
            if kind == "post" and arg["mentor_id"] == m and r.status_code == 201
            for i in r.json()["data"]
            if i["type"] == "activity_count" and i["status"] == "in_progress"
        )
        lost_updates += totals != list(range(1, plan.burst_posts + 1))
    return [*seeds, *(r for _, _, r in done)], lost_updates


def bursts(plan: Plan, workdir: Path, postgres: bool) -> list[Figures]:
    results = []
    setups: list[tuple[str, int, str | None]] = [("sqlite", 2, None)]
    if postgres:
        setups.insert(0, ("postgres", 4, create_postgres_database()))
    for backend, workers, url in setups:
        per_mentor = plan.burst_posts + plan.burst_puts + plan.burst_deletes
        figures = Figures(f"{backend}: {workers} workers, {plan.burst_mentors}x{per_mentor} racing writes")
        try:
            database = url or f"sqlite:///{workdir / f'burst-{workers}.sqlite3'}"
            service = Service(
                database, workdir / f"burst-{backend}", workers=workers, MILESTONES_POSTGRES_POOL_SIZE="5"
            )
            with running(service):
                started = time.monotonic()
                responses, lost_updates = run(burst(service.base_url, plan, f"burst-{backend}"))
                figures.notes.append(f"burst answered in {time.monotonic() - started:.1f} s")
            statuses = [r.status_code for r in responses]
            figures.requests = len(statuses)
            figures.unavailable = statuses.count(503)
            figures.other_5xx = sum(s >= 500 and s != 503 for s in statuses)
            unexpected = sorted({s for s in statuses if s not in (200, 201, 404) and s < 500})
            acknowledged = set()
            for r in responses:
                if r.request.method == "POST" and r.is_success:
                    body = json.loads(r.request.content)
                    s = body["summary"]
                    period = (body["mentor_id"], body["period"]["start_date"], body["period"]["end_date"])
                    hours = round(s["total_hours"] * 100)
                    acknowledged.add((*period, hours, s["unique_contacts_helped"], s["activity_count"]))
            if url:
                stored = stored_rows([tuple(r) for r in run(postgres_rows(url, PERIOD_ROWS))])
                figures.duplicates = run(postgres_rows(url, DUPLICATES))[0][0]
            else:
                with sqlite3.connect(workdir / f"burst-{workers}.sqlite3") as db:
                    stored = stored_rows(db.execute(PERIOD_ROWS).fetchall())
                    figures.duplicates = db.execute(DUPLICATES).fetchone()[0]
            # Every POST is a distinct period: all acknowledged ones must be stored, and nothing else.
            figures.acknowledged = len(acknowledged)
            figures.found = len(acknowledged & stored)
            figures.notes.append(f"mentors with a lost update: {lost_updates}; periods stored: {len(stored)}")
            if figures.unavailable:
                figures.notes.append("FAILED: 503s with no fault injected (waits for the pool or a lock timed out)")
            if lost_updates or unexpected or stored != acknowledged:
                figures.notes.append(f"FAILED: lost updates or unexpected answers {unexpected}")
        finally:
            if url:
                drop_postgres_database(url)
        results.append(figures)
    return results


# --- the report -------------------------------------------------------------------------------------


def report(all_figures: list[Figures], plan_name: str, seconds: float) -> bool:
    columns = ("requests", "faults", "503", "other 5xx", "no answer", "acked", "found", "lost", "dups")
    print(f"Milestones reliability run ({plan_name}), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, ", end="")
    print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    width = max(len(f.phase) for f in all_figures) + 2
    print("phase".ljust(width) + "".join(c.rjust(11) for c in columns))
    total = Figures("total")
    for f in all_figures:
        values = (f.requests, f.faults, f.unavailable, f.other_5xx, f.no_answer, f.acknowledged, f.found, f.lost)
        print(f.phase.ljust(width) + "".join(str(v).rjust(11) for v in (*values, f.duplicates)))
        for name in ("requests", "faults", "unavailable", "other_5xx", "no_answer", "acknowledged", "found"):
            setattr(total, name, getattr(total, name) + getattr(f, name))
        total.duplicates += f.duplicates
    values = (
        total.requests,
        total.faults,
        total.unavailable,
        total.other_5xx,
        total.no_answer,
        total.acknowledged,
        total.found,
        total.lost,
    )
    print("total".ljust(width) + "".join(str(v).rjust(11) for v in (*values, total.duplicates)))
    for f in all_figures:
        if f.failures:
            f.notes.append("FAILED: other 5xx by request: " + ", ".join(f"{k} x{n}" for k, n in f.failures.items()))
        for note in f.notes:
            print(f"  {f.phase}: {note}")
    failed = any("FAILED" in n for f in all_figures for n in f.notes)
    ok = total.other_5xx == 0 and total.lost == 0 and total.duplicates == 0 and not failed
    print(
        f"5xx seen: {total.unavailable + total.other_5xx} ({total.unavailable} of them 503 + Retry-After while a fault "
        f"lasted, {total.other_5xx} other)"
    )
    print(f"writes acknowledged: {total.acknowledged}, found afterwards: {total.found}, lost: {total.lost}")
    print(f"duplicates found: {total.duplicates}")
    print(f"verdict: {'PASS' if ok else 'FAIL'} ({seconds:.0f} s)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__)
    parser.add_argument("--heavy", action="store_true", help="more crashes, faults and racing writers")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MILESTONES_TEST_POSTGRES_URL"),
        help="admin URL of a PostgreSQL server for scratch databases (default MILESTONES_TEST_POSTGRES_URL); "
        "without one, the PostgreSQL phases are left out",
    )
    args = parser.parse_args()
    if args.postgres:
        os.environ["MILESTONES_TEST_POSTGRES_URL"] = args.postgres
        import tests.reliability.servers as servers

        servers.POSTGRES_URL = args.postgres
    plan = HEAVY if args.heavy else DEFAULT
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="milestones-reliability-") as scratch:
        workdir = Path(scratch)
        figures = [sqlite_crashes(plan, workdir)]
        if args.postgres:
            figures.append(postgres_outages(plan, workdir))
        else:
            print("PostgreSQL phases left out: set MILESTONES_TEST_POSTGRES_URL or pass --postgres URL")
        figures += bursts(plan, workdir, postgres=bool(args.postgres))
    sys.exit(0 if report(figures, "heavy" if args.heavy else "default", time.monotonic() - started) else 1)


if __name__ == "__main__":
    main()
