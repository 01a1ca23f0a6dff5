"""A soak with faults (`python -m bench.faults --minutes N [--database postgres|sqlite]`); prints the figures.

`milestones serve` with 2 workers takes mixed reads and writes from several clients for N minutes. On PostgreSQL
(a cluster of its own: initdb on a free port, never the shared server) the database is restarted every few
minutes, alternating a fast shutdown (every session told FATAL 57P01, then closed) and an immediate one (a
crash: recovery from the write-ahead log on start); on SQLite a worker is killed with SIGKILL instead, and the
server starts another. At the end every acknowledged write is looked up in the database with its exact values,
and the service's log is read back: one JSON object per line, no unhandled error. The exit status is 0 only
when nothing acknowledged was lost and no answer was a 5xx other than a 503 problem with Retry-After.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from tests.reliability.servers import (
    MILESTONES_PATH,
    Answer,
    PostgresCluster,
    Service,
    create_cluster_database,
    postgres_rows,
    run,
    send,
    summary_for,
)

WORKERS = 2
# Each client cycles through its own mentors, one new month per write, so every write is a distinct period
# whose acknowledgement can be checked row for row; many mentors keep the dates within a few decades.
MENTORS_PER_CLIENT = 25
PERIOD_ROWS = (
    "SELECT mentor_id, start_date, end_date, total_hours_centi, unique_contacts_helped, activity_count "
    "FROM periods WHERE mentor_id LIKE 'soak-%'"
)
Row = tuple[str, str, str, int, int, int]


@dataclass
class Tally:
    """What the clients sent and what came back: counts only, so that a long run keeps little in memory."""

    requests: int = 0
    unavailable: int = 0  # 503 problem details with a Retry-After: the expected answer while a fault lasts
    no_answer: int = 0  # no HTTP answer at all (refused, reset): expected only of a worker being killed
    statuses: Counter[int] = field(default_factory=Counter)
    other_5xx: Counter[str] = field(default_factory=Counter)  # by operation and status
    acknowledged: dict[tuple[str, str, str], Row] = field(default_factory=dict)
    sent: set[tuple[str, str, str]] = field(default_factory=set)

    def count(self, answer: Answer) -> None:
        self.requests += 1
        self.statuses[answer.status] += 1
        if answer.well_formed_503:
            self.unavailable += 1
        elif answer.status >= 500:
            self.other_5xx[f"{answer.kind} {answer.status}"] += 1
        elif answer.status == 0:
            self.no_answer += 1


@dataclass
class Fault:
    """One fault: when (seconds into the run), what, and how long until /readyz answered 200 again."""

    at: float
    what: str
    recovered_in: float | None = None


@dataclass
class Memory:
    """Resident memory of each of the service's processes, sampled through the run."""

    samples: list[tuple[float, dict[int, tuple[str, int]]]] = field(default_factory=list)

    def sample(self, at: float, supervisor: int) -> None:
        processes = {supervisor: ("supervisor", rss_kib(supervisor))}
        for pid in children(supervisor):
            rss = rss_kib(pid)
            if rss:
                processes[pid] = (role(pid), rss)
        self.samples.append((at, processes))


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def role(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    return "resource tracker" if "resource_tracker" in command else "worker"


def worker_pids(supervisor: int) -> list[int]:
    return [pid for pid in children(supervisor) if role(pid) == "worker"]


def values_of(body: dict[str, Any]) -> Row:
    s, p = body["summary"], body["period"]
    hours = round(s["total_hours"] * 100)
    return (body["mentor_id"], p["start_date"], p["end_date"], hours, s["unique_contacts_helped"], s["activity_count"])


async def client(http: httpx.AsyncClient, number: int, tally: Tally, stop: asyncio.Event) -> None:
    """Writes a new month for one of its mentors, then reads (one of four kinds, in turn), now and then
    marks a milestone achieved; until stopped."""
    mentors = [f"soak-{number}-{m}" for m in range(MENTORS_PER_CLIENT)]
    milestone_ids: dict[str, str] = {}
    turn = 0
    while not stop.is_set():
        mentor, month = mentors[turn % MENTORS_PER_CLIENT], turn // MENTORS_PER_CLIENT
        turn += 1
        body = summary_for(
            mentor,
            month,
            hours=round(0.25 + (month * 7 + number) % 40 * 0.75, 2),
            contacts=(month + number) % 5,
            activities=1 + month % 4,
        )
        row = values_of(body)
        tally.sent.add(row[:3])
        answer, page = await send(http, "post", "POST", MILESTONES_PATH, json=body)
        tally.count(answer)
        if page is not None:
            tally.acknowledged[row[:3]] = row
            if page["data"]:
                milestone_ids[mentor] = page["data"][-1]["id"]
        kind = turn % 4
        if kind == 0:
            answer, _ = await send(http, "list", "GET", MILESTONES_PATH, params={"mentor_id": mentor})
        elif kind == 1:
            answer, _ = await send(http, "in_progress", "GET", f"{MILESTONES_PATH}/{mentor}/in-progress")
        elif kind == 2:
            answer, _ = await send(http, "periods", "GET", f"/api/v1/mentors/{mentor}/periods")
        elif mentor in milestone_ids:
            answer, _ = await send(http, "get", "GET", f"{MILESTONES_PATH}/{milestone_ids[mentor]}")
        tally.count(answer)
        if turn % 10 == 0 and mentor in milestone_ids:
            path = f"{MILESTONES_PATH}/{milestone_ids[mentor]}"
            answer, _ = await send(http, "put", "PUT", path, json={"status": "achieved"})
            tally.count(answer)
        await asyncio.sleep(0.005)


async def ready_again(http: httpx.AsyncClient, since: float, limit: float = 120) -> float | None:
    """Seconds from `since` until /readyz answers 200 on both workers' turns (None: not within `limit`)."""
    streak = 0
    while time.monotonic() - since < limit:
        answer, _ = await send(http, "readyz", "GET", "/readyz")
        streak = streak + 1 if answer.status == 200 else 0
        if streak >= WORKERS:
            return time.monotonic() - since
        await asyncio.sleep(0.1)
    return None


@dataclass
class Run:
    """One soak: its settings, and everything it saw."""

    database: str
    minutes: float
    every: float
    clients: int
    tally: Tally = field(default_factory=Tally)
    faults: list[Fault] = field(default_factory=list)
    memory: Memory = field(default_factory=Memory)
    stored: dict[tuple[str, str, str], Row] = field(default_factory=dict)
    log_lines: int = 0
    log_not_json: list[str] = field(default_factory=list)
    log_unhandled: list[str] = field(default_factory=list)
    log_events: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def lost(self) -> list[Row]:
        return [row for key, row in self.tally.acknowledged.items() if key not in self.stored]

    @property
    def wrong(self) -> list[tuple[Row, Row]]:
        return [
            (row, self.stored[key])
            for key, row in self.tally.acknowledged.items()
            if key in self.stored and self.stored[key] != row
        ]

    @property
    def unsent(self) -> list[Row]:
        """Rows stored that no client sent: wanted none."""
        return [row for key, row in self.stored.items() if key not in self.tally.sent]

    @property
    def passed(self) -> bool:
        return not (
            self.tally.other_5xx
            or self.lost
            or self.wrong
            or self.unsent
            or self.log_not_json
            or self.log_unhandled
            or (self.database == "postgres" and self.tally.no_answer)
            or any(f.recovered_in is None for f in self.faults)
            or len(self.faults) == 0
        )

    async def soak(self, service: Service, fault: Any) -> None:
        """Traffic for the whole run, a fault every `every` seconds, memory sampled throughout."""
        assert service.process is not None
        supervisor = service.process.pid
        stop = asyncio.Event()
        started = time.monotonic()
        limits = httpx.Limits(max_connections=self.clients * 2)
        timeout = httpx.Timeout(60.0, connect=10.0)
        sample_every = max(5.0, self.minutes * 60 / 15)

        async def sampler() -> None:
            while not stop.is_set():
                self.memory.sample(time.monotonic() - started, supervisor)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), sample_every)
            self.memory.sample(time.monotonic() - started, supervisor)

        async with httpx.AsyncClient(base_url=service.base_url, limits=limits, timeout=timeout) as http:
            clients = [asyncio.create_task(client(http, n, self.tally, stop)) for n in range(self.clients)]
            sampling = asyncio.create_task(sampler())
            deadline = started + self.minutes * 60
            next_fault = started + self.every
            while next_fault < deadline - 5:
                await asyncio.sleep(max(0.0, next_fault - time.monotonic()))
                at = time.monotonic()
                what = await fault(len(self.faults))
                done = Fault(at - started, what)
                self.faults.append(done)
                done.recovered_in = await ready_again(http, at)
                print(
                    f"  {done.at:6.0f} s  {what}; ready again in {done.recovered_in or float('nan'):.1f} s", flush=True
                )
                next_fault += self.every
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            stop.set()
            await asyncio.gather(*clients, sampling)
        self.seconds = time.monotonic() - started

    def read_log(self, service: Service) -> None:
        for line in service.log_text().splitlines():
            if line.startswith("--- start"):  # the harness's own marker between starts
                continue
            self.log_lines += 1
            try:
                entry = json.loads(line)
            except ValueError:
                self.log_not_json.append(line)
                continue
            if not isinstance(entry, dict):
                self.log_not_json.append(line)
                continue
            event = str(entry.get("event", ""))
            if event == "request":
                continue
            if entry.get("level") == "error" or "Exception in ASGI application" in event:
                self.log_unhandled.append(event.splitlines()[0][:200] if event else line[:200])
            self.log_events[event.splitlines()[0][:80] if event else "?"] += 1


# --- the two databases -----------------------------------------------------------------------------


def postgres_run(soak: Run, workdir: Path) -> None:
    with PostgresCluster() as cluster:
        url = create_cluster_database(cluster)
        print(f"PostgreSQL {cluster.bin.parent.name} cluster on port {cluster.port} ({cluster.directory})", flush=True)
        service = Service(
            url, workdir / "postgres", workers=WORKERS, migrate_on_start=False, MILESTONES_LOG_FORMAT="json"
        )
        with service:

            async def restart(number: int) -> str:
                mode = ("fast", "immediate")[number % 2]
                await asyncio.to_thread(cluster.restart, mode)
                return f"database restarted ({mode} shutdown)"

            run(soak.soak(service, restart))
        soak.read_log(service)
        soak.stored = {row[:3]: row for row in _rows(run(postgres_rows(url, PERIOD_ROWS)))}


def sqlite_run(soak: Run, workdir: Path) -> None:
    path = workdir / "soak.sqlite3"
    service = Service(f"sqlite:///{path}", workdir / "sqlite", workers=WORKERS, MILESTONES_LOG_FORMAT="json")
    with service:
        assert service.process is not None
        supervisor = service.process.pid

        async def kill_worker(number: int) -> str:
            workers = worker_pids(supervisor)
            victim = workers[number % len(workers)]
            os.kill(victim, signal.SIGKILL)
            # The server starts another worker in its place; until then the other one answers alone.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                now = worker_pids(supervisor)
                if len(now) >= WORKERS and victim not in now:
                    break
                await asyncio.sleep(0.1)
            return f"worker {victim} killed (SIGKILL)"

        run(soak.soak(service, kill_worker))
    soak.read_log(service)
    with sqlite3.connect(path) as db:
        soak.stored = {row[:3]: row for row in _rows(db.execute(PERIOD_ROWS).fetchall())}


def _rows(items: list[Any]) -> list[Row]:
    return [(m, str(s), str(e), int(h), int(c), int(a)) for m, s, e, h, c, a in items]


# --- the report ------------------------------------------------------------------------------------


def report(soak: Run, command: str) -> None:
    t = soak.tally
    print()
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    print(f"`{command}`: {when}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    minutes = soak.seconds / 60
    shape = f"{soak.database}, {WORKERS} workers, {soak.clients} clients"
    print(f"{shape}, {minutes:.1f} minutes, a fault every {soak.every:.0f} s")
    print()
    rows = [
        ("requests", t.requests),
        (
            "faults (" + ("database restarts" if soak.database == "postgres" else "workers killed") + ")",
            len(soak.faults),
        ),
        ("503 problem + Retry-After", t.unavailable),
        ("other 5xx (wanted 0)", sum(t.other_5xx.values())),
        ("no answer (in flight at a kill)", t.no_answer),
        ("acknowledged writes", len(t.acknowledged)),
        ("lost (wanted 0)", len(soak.lost)),
        ("stored with other values (wanted 0)", len(soak.wrong)),
        ("stored, never sent (wanted 0)", len(soak.unsent)),
        (
            "stored, not acknowledged (503 or no answer after commit)",
            len(soak.stored) - len(t.acknowledged) + len(soak.lost),
        ),
        (
            "slowest recovery (readyz 200 after a fault), s",
            max((f.recovered_in or float("nan") for f in soak.faults), default=0.0),
        ),
        ("log lines, not JSON (wanted 0)", f"{soak.log_lines}, {len(soak.log_not_json)}"),
        ("log errors (wanted 0)", len(soak.log_unhandled)),
    ]
    print("| figure | value |")
    print("| --- | --- |")
    for name, value in rows:
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        print(f"| {name} | {shown} |")
    print()
    print("statuses: " + ", ".join(f"{status or 'none'} x{n}" for status, n in sorted(t.statuses.items())))
    print("log events (other than requests): " + ", ".join(f"{e!r} x{n}" for e, n in soak.log_events.most_common()))
    print()
    print("memory (resident, MiB) per process over time:")
    pids: dict[int, str] = {}
    for _, processes in soak.memory.samples:
        for pid, (kind, _) in processes.items():
            pids.setdefault(pid, kind)
    print("| s | " + " | ".join(f"{kind} {pid}" for pid, kind in pids.items()) + " |")
    print("| --- |" + " --- |" * len(pids))
    for at, processes in soak.memory.samples:
        cells = [f"{processes[pid][1] / 1024:.1f}" if pid in processes else "" for pid in pids]
        print(f"| {at:.0f} | " + " | ".join(cells) + " |")
    for label, values in (
        ("other 5xx", [f"{k} x{n}" for k, n in t.other_5xx.items()]),
        ("lost", soak.lost[:10]),
        ("wrong (acknowledged, stored)", soak.wrong[:10]),
        ("never sent", soak.unsent[:10]),
        ("log lines not JSON", soak.log_not_json[:5]),
        ("log errors", soak.log_unhandled[:10]),
    ):
        if values:
            print(f"FAILED: {label}: {values}")
    print(f"verdict: {'PASS' if soak.passed else 'FAIL'}")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so every finally block stops the cluster and the service it started.
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, required=True, help="how long the traffic runs")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--every",
        type=float,
        help="seconds between faults (default 180, or a third of the run when shorter: two faults at least)",
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    args = parser.parse_args()
    every = args.every or min(180.0, args.minutes * 60 / 3)
    soak = Run(args.database, args.minutes, every, args.clients)
    command = "python -m bench.faults " + " ".join(sys.argv[1:])
    print(f"{command}: {args.minutes:g} minutes on {args.database}, a fault every {every:.0f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="milestones-faults-") as scratch:
        workdir = Path(scratch)
        try:
            (postgres_run if args.database == "postgres" else sqlite_run)(soak, workdir)
        except KeyboardInterrupt:
            print("interrupted: the cluster and the service are stopped; no figures", file=sys.stderr)
            sys.exit(130)
        finally:
            for name in ("postgres", "sqlite"):
                log = workdir / name / "serve.log"
                if log.exists() and not soak.passed:
                    kept = Path(tempfile.gettempdir()) / f"milestones-faults-{name}-serve.log"
                    kept.write_bytes(log.read_bytes())
                    print(f"the service's log is kept in {kept}")
    report(soak, command)
    sys.exit(0 if soak.passed else 1)


if __name__ == "__main__":
    main()
