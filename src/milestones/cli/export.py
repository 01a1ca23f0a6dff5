"""`milestones export`: stored milestones or summaries as JSON Lines or CSV."""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from milestones.bulk.formats import (
    MILESTONE_COLUMNS,
    SUMMARY_COLUMNS,
    Writer,
    milestone_record,
    period_body,
    period_cells,
)
from milestones.cli.arguments import command, mentor_id
from milestones.cli.configuration import read_settings
from milestones.cli.database import require_database, with_repository
from milestones.cli.output import OK, CommandError, counted
from milestones.storage import MilestoneRepository


def add_export(commands: Any) -> None:
    export = command(
        commands,
        "export",
        "write stored milestones, or stored summaries, as JSON Lines or CSV",
        "Write the stored milestones (id order; one mentor's in catalog order) with their values in the API's\n"
        "units, or with --periods the stored summaries as the POST bodies that store them, which\n"
        "`milestones detect` takes back. Streams page by page, in constant memory however much is stored.\n"
        "\n"
        "CSV columns of milestones, and of summaries (--periods):\n"
        f"  {','.join(MILESTONE_COLUMNS)}\n"
        f"  {','.join(SUMMARY_COLUMNS)}",
        "milestones export --mentor demo_ada",
        "milestones export --format csv --output milestones.csv",
        "milestones export --periods --output backup.jsonl   # later: milestones detect backup.jsonl",
    )
    export.add_argument("--mentor", type=mentor_id, metavar="ID", help="only this mentor's")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="default jsonl")
    export.add_argument("--output", type=Path, metavar="FILE", help="write to FILE (default standard output)")
    export.add_argument("--periods", action="store_true", help="the stored summaries instead of the milestones")
    export.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    settings = read_settings()
    require_database(settings)  # before the output file, which a missing database should not leave behind
    with ExitStack() as stack:
        if args.output is None:
            out: IO[str] = sys.stdout
        else:
            try:
                out = stack.enter_context(args.output.open("w", encoding="utf-8", newline=""))
            except OSError as exc:
                raise CommandError(f"{args.output}: cannot be written ({exc.strerror})") from None
        written: int = asyncio.run(with_repository(settings, lambda repository: export(repository, args, out)))
    what = ("summary", "summaries") if args.periods else ("milestone", "milestones")
    if not written:
        whose = f" for the mentor {args.mentor}" if args.mentor else ""
        print(f"milestones: no {what[1]} stored{whose}", file=sys.stderr)
    if args.output is not None:
        print(f"wrote {counted(written, *what)} to {args.output}")
    return OK


async def export(repository: MilestoneRepository, args: argparse.Namespace, out: IO[str]) -> int:
    """Writes the stored records; returns how many."""
    written = 0
    if args.periods:
        writer = Writer(out, args.format, SUMMARY_COLUMNS)
        async for periods in repository.period_rows(args.mentor):
            if args.format == "csv":
                writer.rows(map(period_cells, periods))
            else:
                writer.records(map(period_body, periods))
            written += len(periods)
    else:
        writer = Writer(out, args.format, MILESTONE_COLUMNS)
        async for milestones in repository.milestone_rows(args.mentor):
            writer.records(map(milestone_record, milestones))
            written += len(milestones)
    out.flush()
    return written
