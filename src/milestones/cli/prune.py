"""`milestones prune`: remove events, and history entries, older than the retentions the settings give."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from milestones.cli.arguments import at_least_one, command
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import require_database, with_repository
from milestones.cli.output import OK, counted
from milestones.service import MilestoneService
from milestones.storage import MilestoneRepository


def add_prune(commands: Any) -> None:
    prune = command(
        commands,
        "prune",
        "remove events and history entries older than their retentions",
        "Remove events older than MILESTONES_EVENT_RETENTION_DAYS days (default 30), and history entries older\n"
        "than MILESTONES_HISTORY_RETENTION_DAYS days (or --days; unset, history is kept), a small batch per\n"
        "transaction, so writers never wait long. `serve` does the same once an hour; one process prunes at a time.",
        "MILESTONES_HISTORY_RETENTION_DAYS=365 milestones prune",
        "milestones prune --days 30",
    )
    prune.add_argument("--days", type=at_least_one, help="keep this many days of history (default the setting)")
    prune.set_defaults(run=run_prune)


def run_prune(args: argparse.Namespace) -> int:
    settings = read_settings()
    days = args.days or settings.history_retention_days
    require_database(settings)
    catalog = read_catalog(settings)

    async def prune(repository: MilestoneRepository) -> tuple[int | None, int | None]:
        service = MilestoneService(repository, catalog, event_retention_days=settings.event_retention_days)
        events = await service.prune_events()
        return events, None if days is None else await service.prune_history(days)

    events, history = asyncio.run(with_repository(settings, prune))
    if events is None:
        print("another process is pruning the events now; events left alone")
    else:
        print(f"removed {counted(events, 'event', 'events')} older than {settings.event_retention_days} days")
    if days is None:
        print("history is kept: set MILESTONES_HISTORY_RETENTION_DAYS or give --days to prune it")
    elif history is None:
        print("another process is pruning the history now; history left alone")
    else:
        print(f"removed {counted(history, 'history entry', 'history entries')} older than {days} days")
    return OK
