"""`milestones credentials rotate-key`: a new key signs credentials from now on; the old one stays to verify."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from milestones.cli.arguments import command
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import require_database
from milestones.cli.output import OK
from milestones.service import MilestoneService


def add_credential_commands(commands: Any) -> None:
    credentials = command(
        commands,
        "credentials",
        "manage the keys that sign Open Badges credentials",
        "The keys the service made for itself to sign credentials, kept in the database (a quick start; in\n"
        "production give MILESTONES_CREDENTIAL_KEY or MILESTONES_CREDENTIAL_KEY_FILE instead). A rotation adds a\n"
        "key of MILESTONES_CREDENTIAL_ALGORITHM and retires the keys in use: /.well-known/jwks.json keeps serving\n"
        "retired keys, so credentials signed before still verify.",
        "milestones credentials rotate-key",
    )
    actions = credentials.add_subparsers(dest="action", required=True)
    actions.add_parser("rotate-key", help="add a signing key and retire the one in use")
    credentials.set_defaults(run=run_credentials)


def run_credentials(args: argparse.Namespace) -> int:
    settings = read_settings()
    catalog = read_catalog(settings)
    require_database(settings)

    async def run() -> int:
        service = await MilestoneService.open(settings, catalog)
        try:
            key, retired = await service.credentials.rotate_key()
        finally:
            await service.close()
        print(key.kid)
        gone = ", ".join(retired) if retired else "none"
        print(f"Credentials are signed with {key.kid} ({key.algorithm}) from now on; retired: {gone}", file=sys.stderr)
        return OK

    return asyncio.run(run())
