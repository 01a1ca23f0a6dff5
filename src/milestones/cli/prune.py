"""`milestones prune`: remove history entries older than the retention the settings (or --days) give."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from milestones.cli.arguments import at_least_one, command
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import require_database, with_repository
from milestones.cli.output import OK, CommandError, counted
from milestones.service import MilestoneService
from milestones.storage import MilestoneRepository


def add_prune(commands: Any) -> None:
    prune = command(
        commands,
        "prune",
        "remove history entries older than MILESTONES_HISTORY_RETENTION_DAYS",
        "Remove history entries older than MILESTONES_HISTORY_RETENTION_DAYS days, a small batch per transaction,\n"
        "so writers never wait long. `serve` does the same once an hour; one process prunes at a time.",
        "MILESTONES_HISTORY_RETENTION_DAYS=365 milestones prune",
        "milestones prune --days 30",
    )
    prune.add_argument("--days", type=at_least_one, help="keep this many days (default the setting)")
    prune.set_defaults(run=run_prune)


def run_prune(args: argparse.Namespace) -> int:
    settings = read_settings()
    days = args.days or settings.history_retention_days
    if days is None:
        raise CommandError("set MILESTONES_HISTORY_RETENTION_DAYS or give --days: without either, history is kept")
    require_database(settings)
    catalog = read_catalog(settings)

    async def prune(repository: MilestoneRepository) -> int | None:
        return await MilestoneService(repository, catalog).prune_history(days)

    removed = asyncio.run(with_repository(settings, prune))
    if removed is None:
        print("another process is pruning the history now; nothing done")
    else:
        print(f"removed {counted(removed, 'history entry', 'history entries')} older than {days} days")
    return OK
