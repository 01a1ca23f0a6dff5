"""`milestones demo`: load the demo data set through the path `detect` takes."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from milestones.bulk import BulkReport, Rejected, detect_lines
from milestones.cli.arguments import command
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import migrate_if_asked, with_repository
from milestones.cli.output import OK, REJECTED, CommandError, redacted
from milestones.demo import DEMO_MENTORS, demo_summaries
from milestones.service import utc_now
from milestones.storage import MilestoneRepository


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
        return await detect_lines(demo_summaries(last_year), repository, catalog, now, refused.append)

    report = asyncio.run(with_repository(settings, load))
    if refused:  # a period overlapping one stored before under a demo mentor's id
        first = refused[0]
        raise CommandError(
            f"{report.rejected} demo summaries were refused, first: {first.errors[0][0]}: {first.errors[0][1]}",
            REJECTED,
        )
    loaded = "loaded" if report.periods_written else "already loaded, nothing changed"
    print(
        f"demo {loaded}: {len(DEMO_MENTORS)} mentors, {report.summaries} summaries for {last_year - 2}-{last_year}, "
        f"{report.milestones_achieved} milestones newly achieved, into {redacted(settings.database_url)}"
    )
    print("try:")
    print("  milestones export --mentor demo_ada")
    print("  milestones serve   # and then")
    print("  curl -s localhost:8000/api/v1/milestones/demo_ada/in-progress")
    print("  curl -s 'localhost:8000/api/v1/milestones?status=achieved&limit=5'")
    return OK
