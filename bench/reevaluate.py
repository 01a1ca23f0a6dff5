"""`python -m bench.reevaluate`: `milestones reevaluate` over N stored mentors after a catalog change (a rung added
to each ladder, the 50-hour rung raised to 60), on SQLite and, with `--postgres URL`, PostgreSQL: the dry run, the
run, and a run again (every mentor already at the latest version)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from bench.data import write_bulk
from bench.harness import ROOT, PostgresDatabases, log, milestones_command
from bench.report import markdown_table

HEADER = ["database", "run", "mentors", "seconds", "mentors/s", "re-evaluated", "skipped", "changed", "transitions"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reevaluate", description=__doc__)
    parser.add_argument("--mentors", type=int, default=1_000_000, help="stored mentors (default 1,000,000)")
    parser.add_argument("--postgres", metavar="URL", help="also run in a fresh PostgreSQL database there")
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    args = parser.parse_args(argv)
    if args.mentors < 1:
        parser.error("--mentors must be positive")
    return args


def changed_catalog(path: Path) -> Path:
    """The packaged catalog, version bench-2, with a rung added to each ladder and the 50-hour rung raised to 60."""
    text = Path(str(resources.files("milestones").joinpath("catalog.toml"))).read_text(encoding="utf-8")
    text = 'version = "bench-2"\n' + text.replace('threshold = 50\ntier = "silver"', 'threshold = 60\ntier = "silver"')
    for key, kind, threshold in (
        ("25h", "hours_logged", 25),
        ("5c", "contacts_helped", 5),
        ("25a", "activity_count", 25),
    ):
        text += f'\n[[milestone]]\nkey = "{key}"\nname = "{key}"\ntype = "{kind}"\nthreshold = {threshold}\n'
    path.write_text(text, encoding="utf-8")
    return path


def milestones(database_url: str, *args: str) -> tuple[float, str]:
    """`milestones ARGS` on the database: its wall-clock seconds and standard output; fails loudly."""
    env = {**os.environ, "MILESTONES_DATABASE_URL": database_url}
    started = time.perf_counter()
    done = subprocess.run([milestones_command(), *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"milestones {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return seconds, done.stdout


def measure(database: str, url: str, bulk: Path, catalog: Path, mentors: int) -> list[list[str]]:
    log(f"{database}: migrate, detect {mentors:,} summaries (setup)")
    milestones(url, "migrate")
    detect_seconds, _ = milestones(url, "detect", "--no-notify", str(bulk))
    log(f"  detect: {detect_seconds:,.1f} s; publish the changed catalog")
    milestones(url, "catalog", "publish", str(catalog))
    rows = []
    for label, extra in (("dry run", ("--dry-run",)), ("run", ()), ("run again", ())):
        log(f"  reevaluate {label}")
        seconds, out = milestones(url, "reevaluate", "--json", *extra)
        report = json.loads(out)
        transitions = ", ".join(f"{kind} {count:,}" for kind, count in sorted(report["transitions"].items()))
        rows.append(
            [
                database,
                label,
                f"{mentors:,}",
                f"{seconds:,.1f}",
                f"{mentors / seconds:,.0f}",
                f"{report['mentors']:,}",
                f"{report['skipped']:,}",
                f"{report['mentors_changed']:,}",
                transitions or "-",
            ]
        )
        log(f"    {seconds:,.1f} s")
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="milestones-reevaluate-") as tmp_name:
        tmp = Path(tmp_name)
        bulk, _ = write_bulk(tmp / "bulk.jsonl", args.mentors, tmp / "head.jsonl", 1)
        catalog = changed_catalog(tmp / "changed.toml")
        rows: list[list[str]] = []
        if not args.no_sqlite:
            rows += measure("sqlite", f"sqlite:///{tmp / 'bench.sqlite3'}", bulk.path, catalog, args.mentors)
        if args.postgres:
            postgres = PostgresDatabases(args.postgres)
            url = postgres.create()
            try:
                rows += measure("postgresql", url, bulk.path, catalog, args.mentors)
            finally:
                postgres.drop_all()
    print(markdown_table(HEADER, rows))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\nlargest child process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
