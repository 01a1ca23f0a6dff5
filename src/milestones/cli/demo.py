"""`milestones demo`: load the demo data set through the path `detect` takes."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from milestones.bulk.demo import DEMO_MENTORS, demo_summaries
from milestones.bulk.detection import BulkReport, Rejected, detect_lines
from milestones.cli.arguments import command
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import database_named, migrate_if_asked, with_repository
from milestones.cli.output import OK, REJECTED, CommandError, counted
from milestones.service import utc_now
from milestones.storage import MilestoneRepository
from milestones.storage.base import latest_catalog


def add_demo(commands: Any) -> None:
    demo = command(
        commands,
        "demo",
        "load a small demo data set (three dozen mentors over three years)",
        f"Load {len(DEMO_MENTORS)} demo mentors (ids demo_ada, demo_grace, ...) with summaries for the last three\n"
        "calendar years into the configured database, through the same path as `detect`. The data is made\n"
        "by code and the same on every run, so loading it again changes nothing.",
        "milestones demo",
        "milestones demo && milestones serve   # then: curl localhost:8000/api/v1/milestones/demo_ada/in-progress",
        "milestones export --mentor demo_grace",
    )
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    settings = read_settings()
    catalog = read_catalog(settings)
    migrate_if_asked(settings)
    now = utc_now()
    last_year = now.year - 1
    refused: list[Rejected] = []

    async def load(repository: MilestoneRepository) -> BulkReport:
        stored = await latest_catalog(repository, catalog, now)
        return await detect_lines(demo_summaries(last_year), repository, stored, now, refused.append)

    report = asyncio.run(with_repository(settings, load))
    if refused:  # a period overlapping one stored before under a demo mentor's id
        first = refused[0]
        raise CommandError(
            f"{counted(report.rejected, 'demo summary was', 'demo summaries were')} refused, first: "
            f"{first.errors[0][0]}: {first.errors[0][1]}",
            REJECTED,
        )
    mentors, years = counted(len(DEMO_MENTORS), "mentor", "mentors"), f"{last_year - 2}-{last_year}"
    if report.periods_written:
        print(
            f"demo loaded: {mentors}, {counted(report.periods_written, 'summary', 'summaries')} for {years} and "
            f"{counted(report.milestones_written, 'milestone', 'milestones')} written "
            f"({report.milestones_achieved:,} newly achieved), into {database_named(settings)}"
        )
    else:
        print(
            f"demo already loaded, nothing changed: {mentors}, {counted(report.summaries, 'summary', 'summaries')} "
            f"for {years}, in {database_named(settings)}"
        )
    print("try:")
    print("  milestones export --mentor demo_ada")
    print("  milestones serve   # and then")
    print("  curl -s localhost:8000/api/v1/milestones/demo_ada/in-progress")
    print("  curl -s 'localhost:8000/api/v1/milestones?status=achieved&limit=5'")
    return OK
