"""`python -m bench.bulk`: the bulk `milestones detect` rows alone, optionally with contact identifiers on every
line and for several builds in turn, so that two commits' bulk throughput can be compared on one machine."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.data import write_bulk
from bench.harness import PostgresDatabases, log, milestones_command
from bench.report import markdown_table
from bench.scale import BULK_HEADER, DetectRun, bulk_cells, bulk_rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bulk", description=__doc__)
    parser.add_argument("--summaries", type=int, default=200_000, help="lines in the file (default 200,000)")
    parser.add_argument("--identifiers", type=int, default=0, help="contact identifiers on each line (default 0)")
    parser.add_argument("--postgres", metavar="URL", help="also run into a fresh PostgreSQL database there")
    parser.add_argument(
        "--command",
        action="append",
        metavar="PATH",
        help="a `milestones` executable to measure (repeatable, run in turn; default this venv's)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="times to run every command, interleaved (default 1)")
    args = parser.parse_args(argv)
    if args.summaries < 1 or args.identifiers < 0 or args.rounds < 1:
        parser.error("--summaries and --rounds must be positive, --identifiers not negative")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    commands = args.command or [milestones_command()]
    with tempfile.TemporaryDirectory(prefix="milestones-bulk-") as tmp_name:
        tmp = Path(tmp_name)
        bulk, _ = write_bulk(tmp / "bulk.jsonl", args.summaries, tmp / "head.jsonl", 1, args.identifiers)
        log(f"bulk file: {bulk.summaries:,} lines, {args.identifiers} identifiers each, {bulk.path.stat().st_size:,} B")
        notes: list[str] = []
        rows: list[list[str]] = []
        postgres = PostgresDatabases(args.postgres) if args.postgres else None
        for round_number in range(args.rounds):
            for index, command in enumerate(commands):
                label = f"build {index + 1}, round {round_number + 1}"
                runs: list[DetectRun] = bulk_rows(
                    "sqlite", f"sqlite:///{tmp / f'{index}-{round_number}.sqlite3'}", bulk, notes, command
                )
                if postgres is not None:
                    url = postgres.create()
                    try:
                        runs += bulk_rows("postgresql", url, bulk, notes, command)
                    finally:
                        postgres.drop(url)
                for i, run in enumerate(runs):
                    rows.append([label, *bulk_cells(run, runs[i - 1] if run.label == "re-run" else None)])
        builds = "\n".join(f"- build {i + 1}: `{command}`" for i, command in enumerate(commands))
        print(markdown_table(["build", *BULK_HEADER], rows))
        print(f"\n{builds}\n- {bulk.summaries:,} lines, {args.identifiers} identifiers each")


if __name__ == "__main__":
    main()
