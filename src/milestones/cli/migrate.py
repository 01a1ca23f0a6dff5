"""`milestones migrate`: bring the configured database's schema up to date."""

from __future__ import annotations

import argparse
from typing import Any

from milestones.cli.arguments import command
from milestones.cli.configuration import read_settings
from milestones.cli.database import database_named, migrate_database
from milestones.cli.output import OK


def add_migrate(commands: Any) -> None:
    migrate_command = command(
        commands,
        "migrate",
        "apply the schema migrations to the configured database",
        "Bring the configured database's schema up to date (creates a SQLite file if there is none).",
        "milestones migrate",
        "MILESTONES_DATABASE_URL=postgresql://milestones@db:5432/milestones milestones migrate",
    )
    migrate_command.set_defaults(run=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    settings = read_settings()
    print(migrate_database(settings).described(database_named(settings)))
    return OK
