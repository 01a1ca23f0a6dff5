"""`milestones migrate`: bring the configured database's schema up to date."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from milestones.cli.arguments import command
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import catalog_source, database_named, migrate_database, settle_catalog
from milestones.cli.output import OK


def add_migrate(commands: Any) -> None:
    migrate_command = command(
        commands,
        "migrate",
        "apply the schema migrations to the configured database",
        "Bring the configured database's schema up to date (creates a SQLite file if there is none). A database\n"
        "with no stored catalog gets the configured one (MILESTONES_CATALOG_PATH, or the packaged one) as its\n"
        "first version; a file that differs from the stored latest is said, and left to `catalog publish`.",
        "milestones migrate",
        "MILESTONES_DATABASE_URL=postgresql://milestones@db:5432/milestones milestones migrate",
    )
    migrate_command.set_defaults(run=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    settings = read_settings()
    configured = read_catalog(settings)
    print(migrate_database(settings).described(database_named(settings)))
    # A database with no catalog gets the configured file (or the packaged one) as its first version.
    print(asyncio.run(settle_catalog(settings, configured)).described(catalog_source(settings)))
    return OK
