"""`milestones report`: the program's milestone report (as GET /api/v1/reports/milestones) as a table or CSV."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from typing import Any

from milestones.cli.arguments import command
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import require_database
from milestones.cli.output import OK, CommandError
from milestones.domain.rows import StalledMentor
from milestones.reports import DEFAULT_STALLED_DAYS, MilestoneReport, milestone_report
from milestones.service import MilestoneService

# Stalled mentors are read a page at a time; the command prints them all.
_PAGE = 1000
DEFINITION_COLUMNS = ("key", "achieved", "in_progress")
STALLED_COLUMNS = ("mentor_id", "last_period_end", "in_progress")


def add_report(commands: Any) -> None:
    report = command(
        commands,
        "report",
        "print the program's milestone report: achieved, in progress, and stalled mentors",
        "Print, per definition of the latest catalog version, how many mentors hold it achieved (revoked\n"
        "records not counted) and how many are on their way to it; then every mentor whose latest period\n"
        f"ended more than --stalled-days days ago (default {DEFAULT_STALLED_DAYS}) while a rung is in progress.\n"
        "The same numbers as GET /api/v1/reports/milestones. With --format csv, the definitions' lines as\n"
        "CSV, or with --stalled the stalled mentors' (in_progress: the keys, separated by spaces).\n"
        "\n"
        "CSV columns of definitions, and of stalled mentors (--stalled):\n"
        f"  {','.join(DEFINITION_COLUMNS)}\n"
        f"  {','.join(STALLED_COLUMNS)}",
        "milestones report",
        "milestones report --stalled-days 30",
        "milestones report --format csv > definitions.csv",
        "milestones report --format csv --stalled > stalled.csv",
    )
    report.add_argument("--format", choices=("table", "csv"), default="table", help="default table")
    report.add_argument(
        "--stalled-days", type=_days, default=DEFAULT_STALLED_DAYS, metavar="DAYS", help="default %(default)s"
    )
    report.add_argument("--stalled", action="store_true", help="CSV: the stalled mentors instead of the definitions")
    report.set_defaults(run=run_report)


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 3650:
        raise argparse.ArgumentTypeError(f"must be a whole number of days from 0 to 3650, not {text!r}")
    return value


def run_report(args: argparse.Namespace) -> int:
    settings = read_settings()
    require_database(settings)
    catalog = read_catalog(settings)
    if args.stalled and args.format != "csv":
        raise CommandError("--stalled chooses what --format csv prints; the table shows both")

    async def read() -> tuple[MilestoneReport, list[StalledMentor]]:
        service = await MilestoneService.open(settings, catalog)
        try:
            first = report = await milestone_report(service, args.stalled_days, "", _PAGE)
            stalled = list(report.stalled)
            while report.next_after is not None:
                report = await milestone_report(service, args.stalled_days, report.next_after, _PAGE)
                stalled.extend(report.stalled)
            return first, stalled
        finally:
            await service.close()

    report, stalled = asyncio.run(read())
    if args.format == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        if args.stalled:
            out.writerow(STALLED_COLUMNS)
            out.writerows((m.mentor_id, m.last_period_end, " ".join(m.in_progress)) for m in stalled)
        else:
            out.writerow(DEFINITION_COLUMNS)
            out.writerows((d.key, d.achieved, d.in_progress) for d in report.definitions)
        return OK
    print(f"catalog {report.catalog_version}: {report.mentors_with_period} mentors with a stored period")
    print()
    _table(("definition", "achieved", "in progress"), [(d.key, d.achieved, d.in_progress) for d in report.definitions])
    print()
    print(f"stalled (latest period ended more than {report.stalled_days} days ago, a rung in progress): {len(stalled)}")
    if stalled:
        print()
        _table(
            ("mentor", "latest period ended", "in progress"),
            [(m.mentor_id, m.last_period_end, " ".join(m.in_progress)) for m in stalled],
        )
    return OK


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Columns padded to their widest cell; numbers to the right."""
    cells = [header, *[tuple(str(cell) for cell in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(isinstance(row[i], int) for row in rows) and bool(rows) for i in range(len(header))]
    for row in cells:
        print(
            "  ".join(
                cell.rjust(width) if right else cell.ljust(width)
                for cell, width, right in zip(row, widths, numeric, strict=True)
            ).rstrip()
        )
