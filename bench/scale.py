"""The --scale rows: bulk `milestones detect` runs, and read latency at ~10,000 against ~10,000,000 milestones."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench.data import MILESTONES, BulkFile, parse_detect_output, write_bulk
from bench.harness import (
    ROOT,
    BenchError,
    PostgresDatabases,
    WrkResult,
    log,
    migrate,
    milestones_command,
    service_server,
    wrk,
)
from bench.report import markdown_table

BULK_TARGET_SUMMARIES = 1_000_000
BULK_TARGET_SECONDS = {"sqlite": 45.0, "postgresql": 90.0}
BULK_MAX_RSS_MB = 500.0
FLAT_SMALL_MILESTONES = 10_000
FLAT_LARGE_MILESTONES = 10_000_000
FLAT_SECONDS = 5
FLAT_MAX_RATIO = 1.5
# Mentors the flat-cost rows may pick from; the head of the bulk file, so both databases hold them.
FLAT_CANDIDATES = 50

# Runs the command in a fresh interpreter so RUSAGE_CHILDREN covers it alone, not the servers this harness ran.
# ru_maxrss is the largest single descendant's peak (in KiB on Linux), not a sum over processes.
_MEASURED = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({
    "rc": done.returncode,
    "seconds": time.perf_counter() - start,
    "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    "stdout": done.stdout[-4000:],
    "stderr": done.stderr[-4000:],
}))
"""


# Report keys that count writes: the brief's "changed", and what the command prints today.
_CHANGED_KEYS = ("changed", "mentors_changed")
_WRITE_KEYS = ("changed", "mentors_changed", "periods_written", "milestones_written", "milestones_deleted")


@dataclass(frozen=True)
class DetectRun:
    database: str
    label: str
    summaries_in_file: int
    seconds: float = 0.0
    peak_mb: float = 0.0
    exit_code: int = 0
    report: dict[str, Any] | None = None
    stderr_tail: str = ""
    error: str | None = None

    def counted(self, *keys: str) -> int | None:
        for key in keys:
            value = None if self.report is None else self.report.get(key)
            if isinstance(value, int):
                return value
        return None

    @property
    def changed(self) -> int | None:
        return self.counted(*_CHANGED_KEYS)

    @property
    def wrote_nothing(self) -> bool:
        writes = [self.counted(key) for key in _WRITE_KEYS]
        return any(w is not None for w in writes) and all(not w for w in writes)

    @property
    def rejected(self) -> int:
        return self.counted("rejected") or 0


def detect_available() -> bool:
    done = subprocess.run(
        [milestones_command(), "detect", "--help"], capture_output=True, text=True, check=False, cwd=ROOT
    )
    return done.returncode == 0


def run_detect(database: str, label: str, database_url: str, bulk: BulkFile, command: str | None = None) -> DetectRun:
    """`command` (default: this venv's `milestones`) can be another build's, to compare two."""
    log(f"  milestones detect ({label}) on {database}: {bulk.summaries:,} summaries")
    env = {**os.environ, "MILESTONES_DATABASE_URL": database_url}
    argv = [sys.executable, "-c", _MEASURED, command or milestones_command(), "detect", "--json", str(bulk.path)]
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return DetectRun(database, label, bulk.summaries, error=f"wrapper failed: {done.stderr[-300:]}")
    measured = json.loads(done.stdout)
    report = parse_detect_output(measured["stdout"])
    stderr = measured["stderr"].strip().splitlines()
    if report is None:
        reason = stderr or measured["stdout"].strip().splitlines()
        return DetectRun(
            database, label, bulk.summaries, error=f"exit {measured['rc']}: {reason[-1] if reason else 'no report'}"
        )
    return DetectRun(
        database,
        label,
        bulk.summaries,
        seconds=measured["seconds"],
        peak_mb=measured["peak_kib"] / 1024,
        exit_code=measured["rc"],
        report=report,
        stderr_tail=stderr[-1] if stderr else "",
    )


_FINGERPRINT = (
    "SELECT count(*), sum(current_centi), sum(achieved_centi), min(achieved_at), max(achieved_at) FROM milestones",
    "SELECT count(*), sum(total_hours_centi), sum(unique_contacts_helped), sum(activity_count) FROM periods",
)


def fingerprint(database_url: str) -> str:
    """A cheap summary of the stored rows, to show that a re-run changed nothing."""
    try:
        if database_url.startswith("sqlite:///"):
            with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
                return repr([connection.execute(q).fetchone() for q in _FINGERPRINT])
        return asyncio.run(_postgres_fingerprint(database_url))
    except Exception as exc:  # the schema may have moved on; the row then says so instead of failing the run
        return f"unavailable ({type(exc).__name__}: {exc})"


async def _postgres_fingerprint(database_url: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        return repr([tuple(await connection.fetchrow(q)) for q in _FINGERPRINT])
    finally:
        await connection.close()


def bulk_rows(
    database: str, database_url: str, bulk: BulkFile, notes: list[str], command: str | None = None
) -> list[DetectRun]:
    """Two detect runs of one file into one fresh database (with `command`, another build's `milestones`)."""
    migrate(database_url, command)
    first = run_detect(database, "first run", database_url, bulk, command)
    if first.error is not None:
        return [first]
    stored = fingerprint(database_url)
    again = run_detect(database, "re-run", database_url, bulk, command)
    runs = [first, again]
    if again.error is None:
        same = fingerprint(database_url) == stored
        notes.append(
            f"{database} re-run left the stored rows {'unchanged' if same else 'CHANGED'} (row counts and sums)."
        )
        if not same:
            runs[1] = replace(again, error="re-run changed the stored rows")
    for run in runs:
        if run.report is not None:
            notes.append(f"{database} {run.label} printed {json.dumps(run.report)}")
        if run.rejected:
            notes.append(f"{database} {run.label} rejected {run.rejected:,} lines, e.g. {run.stderr_tail}")
    return runs


def bulk_cells(run: DetectRun, first: DetectRun | None) -> list[str]:
    if run.error is not None:
        return [run.label, run.database, f"{run.summaries_in_file:,}", "-", "-", "-", "-", "-", run.error]
    changed = run.changed
    full_size = run.summaries_in_file == BULK_TARGET_SUMMARIES
    clean = run.exit_code == 0 and run.rejected == 0
    if first is None:
        limit = BULK_TARGET_SECONDS[run.database]
        target = f"<= {limit:g} s, RSS < {BULK_MAX_RSS_MB:g} MB"
        complete = run.counted("summaries") == run.summaries_in_file
        met = clean and complete and run.seconds <= limit and run.peak_mb < BULK_MAX_RSS_MB
    else:
        target = f"<= first run's {first.seconds:.1f} s, changes nothing, RSS < {BULK_MAX_RSS_MB:g} MB"
        met = clean and run.wrote_nothing and run.seconds <= first.seconds and run.peak_mb < BULK_MAX_RSS_MB
    result = ("pass" if met else "short") if full_size else "-"
    if not clean:
        result += f" ({run.rejected:,} rejected, exit {run.exit_code})"
    return [
        run.label,
        run.database,
        f"{run.summaries_in_file:,}",
        f"{run.seconds:.1f}",
        f"{run.summaries_in_file / run.seconds:,.0f}",
        f"{run.peak_mb:,.0f}",
        "?" if changed is None else f"{changed:,}",
        target if full_size else f"- (targets are for {BULK_TARGET_SUMMARIES:,})",
        result,
    ]


BULK_HEADER = ["run", "database", "summaries", "seconds", "summaries/s", "peak RSS MB", "changed", "target", "result"]


# --- flat cost ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlatSide:
    milestones: int
    results: dict[str, WrkResult]


def flat_paths(client: httpx.Client) -> tuple[list[tuple[str, str]], str]:
    """The three read paths for the head-of-file mentor with the most milestones of both statuses."""
    best: tuple[int, str, str] | None = None
    for index in range(1, FLAT_CANDIDATES + 1):
        mentor_id = f"bulk-{index:07d}"
        items = client.get(MILESTONES, params={"mentor_id": mentor_id, "limit": 100}).json()["data"]
        achieved = [item["id"] for item in items if item["status"] == "achieved"]
        if achieved and len(achieved) < len(items) and (best is None or len(items) > best[0]):
            best = (len(items), mentor_id, achieved[0])
    if best is None:
        raise BenchError("no mentor at the head of the bulk file has both achieved and in-progress milestones")
    _, mentor_id, milestone_id = best
    paths = [
        ("GET one", f"{MILESTONES}/{quote(milestone_id, safe='')}"),
        ("mentor's list", f"{MILESTONES}?mentor_id={mentor_id}"),
        ("mentor's in-progress", f"{MILESTONES}/{mentor_id}/in-progress"),
    ]
    return paths, mentor_id


def flat_side(
    args: argparse.Namespace, tmp: Path, name: str, database_url: str, paths: list[tuple[str, str]] | None
) -> tuple[FlatSide, list[tuple[str, str]], str]:
    server = service_server(database_url, args.workers, tmp / f"serve-flat-{name}.log")
    try:
        server.start("/readyz", timeout=180)
        with httpx.Client(base_url=server.base_url, timeout=600) as client:
            total = int(client.get(MILESTONES, params={"limit": 1}).json()["pagination"]["total"])
            picked, mentor_id = flat_paths(client) if paths is None else (paths, "")
        log(f"  flat cost on {total:,} milestones")
        results = {}
        for label, path in picked:
            if args.warmup:
                wrk(server.base_url + path, args.warmup, threads=1, connections=1)
            results[label] = wrk(server.base_url + path, FLAT_SECONDS, threads=1, connections=1)
        server.check_alive()
    finally:
        server.stop()
    return FlatSide(total, results), picked, mentor_id


_SYNTHETIC_ROWS = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
INSERT INTO milestones (id, mentor_id, definition_key, name, type, threshold_centi, position, status,
                        current_centi, achieved_centi, achieved_at, set_by_person)
SELECT printf('synthetic-%08d~k%d', i / 10, i % 10), printf('synthetic-%08d', i / 10), 'k' || (i % 10),
       'Synthetic', 'hours_logged', 10000, i % 10, 'achieved', 31250, 31250, '2025-12-31T23:59:59.000000Z', 0
FROM n
"""


def synthesize_large(small: Path, large: Path, rows: int) -> None:
    """The small database plus `rows` milestones of other mentors, written straight into the file.

    Loading ten million rows through `milestones detect` takes far longer than the reads being measured;
    the rows' content does not matter to lookups by key, only how many there are and where they sit.
    """
    log(f"  flat cost: copying the small database and adding {rows:,} synthetic milestones")
    started = time.perf_counter()
    large.write_bytes(small.read_bytes())
    conn = sqlite3.connect(large, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        conn.execute(_SYNTHETIC_ROWS, (rows,))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    log(f"  flat cost: synthesized in {time.perf_counter() - started:.0f} s")


def flat_cost(args: argparse.Namespace, tmp: Path, small: BulkFile) -> str:
    title = "## Flat cost (SQLite, wrk -t1 -c1 -d5s, p50)"
    small_path = tmp / "flat-small.sqlite3"
    small_url = f"sqlite:///{small_path}"
    migrate(small_url)
    loaded = run_detect("sqlite", "flat-cost small database", small_url, small)
    if loaded.error is not None:
        return f"{title}\n\nnot available: loading the small database failed: {loaded.error}"
    large_path = tmp / "flat-large.sqlite3"
    synthesize_large(small_path, large_path, FLAT_LARGE_MILESTONES)
    large_url = f"sqlite:///{large_path}"
    low, paths, mentor_id = flat_side(args, tmp, "small", small_url, None)
    high, _, _ = flat_side(args, tmp, "large", large_url, paths)
    applies = high.milestones >= FLAT_LARGE_MILESTONES
    rows = []
    for label, _ in paths:
        a, b = low.results[label], high.results[label]
        ratio = b.p50_ms / a.p50_ms
        errors = a.non_2xx + b.non_2xx + a.socket_errors + b.socket_errors
        rows.append(
            [
                label,
                f"{a.p50_ms:.3f}",
                f"{b.p50_ms:.3f}",
                f"{ratio:.2f}x",
                f"<= {FLAT_MAX_RATIO:g}x" if applies else f"- (needs >= {FLAT_LARGE_MILESTONES:,} rows)",
                ("pass" if ratio <= FLAT_MAX_RATIO and errors == 0 else "short") if applies else "-",
            ]
        )
    header = [
        "endpoint",
        f"p50 ms at {low.milestones:,} milestones",
        f"p50 ms at {high.milestones:,} milestones",
        "ratio",
        "target",
        "result",
    ]
    return (
        f"{title}\n\n{markdown_table(header, rows)}\n\n- Both databases hold mentor {mentor_id} with the same "
        f"summary (the small one is the head of the bulk file), so each endpoint returns the same body on both."
    )


def run_scale(args: argparse.Namespace, tmp: Path, postgres: PostgresDatabases | None) -> list[str]:
    """Markdown sections for the bulk and flat-cost runs."""
    log("scale: generating bulk files")
    started = time.perf_counter()
    bulk, small = write_bulk(tmp / "bulk.jsonl", args.bulk_summaries, tmp / "flat-small.jsonl", FLAT_SMALL_MILESTONES)
    notes = [
        f"Bulk file: {bulk.summaries:,} summaries (~{bulk.milestones:,} milestones once detected), "
        f"generated in {time.perf_counter() - started:.1f} s; peak RSS is the largest single process's."
    ]
    bulk_title = "## Bulk `milestones detect FILE`"
    if not detect_available():
        return [
            f"{bulk_title}\n\nnot available: `milestones detect` does not exist in this build.",
            "## Flat cost\n\nnot available: it loads its databases with `milestones detect`.",
        ]
    sqlite_url = f"sqlite:///{tmp / 'bulk.sqlite3'}"
    runs = bulk_rows("sqlite", sqlite_url, bulk, notes)
    if postgres is not None:
        postgres_url = postgres.create()
        try:
            runs += bulk_rows("postgresql", postgres_url, bulk, notes)
        finally:
            # Free the server's disk before the flat-cost runs rather than at exit.
            postgres.drop(postgres_url)
    cells = [bulk_cells(run, runs[i - 1] if run.label == "re-run" else None) for i, run in enumerate(runs)]
    bulk_section = "\n".join([bulk_title, "", markdown_table(BULK_HEADER, cells), "", *(f"- {n}" for n in notes)])
    return [bulk_section, flat_cost(args, tmp, small)]
