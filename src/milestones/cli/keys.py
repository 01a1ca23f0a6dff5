"""`milestones keys create | list | revoke`: the access keys stored in the database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from milestones.access.keys import Scope
from milestones.cli.arguments import command
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import migrate_if_asked, require_database
from milestones.service import MilestoneService


def add_key_commands(commands: Any) -> None:
    keys = command(
        commands,
        "keys",
        "create, list and revoke the access keys stored in the database",
        "Access keys stored in the database, as SHA-256 digests. Keys given in MILESTONES_API_KEYS are "
        "listed too, but are changed there.",
        "milestones keys create --name importer --scope write",
        "milestones keys list",
        "milestones keys revoke db:1a2b3c4d",
    )
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a key; it is printed once, on standard output")
    create.add_argument("--name", required=True, help="who or what uses the key (shown by `keys list`)")
    create.add_argument("--scope", required=True, choices=[s.label for s in Scope], help="what the key may do")
    actions.add_parser("list", help="every key: id, scope, name, when created and revoked")
    revoke = actions.add_parser("revoke", help="stop a stored key working (within a second, in every worker)")
    revoke.add_argument("id", help="the key's id, as `keys list` shows it (db:...)")
    keys.set_defaults(run=run_keys)


def run_keys(args: argparse.Namespace) -> int:
    settings = read_settings()
    catalog = read_catalog(settings)
    if args.action == "create":
        migrate_if_asked(settings)  # a first key may come before anything else: it creates the database
    else:
        require_database(settings)  # listing or revoking in a database made for the purpose would say nothing

    async def run() -> int:
        service = await MilestoneService.open(settings, catalog)
        try:
            if args.action == "create":
                name = args.name.strip()
                if not name or len(name) > 200:
                    print("milestones: --name must be 1 to 200 characters", file=sys.stderr)
                    return 2
                key, secret = await service.create_access_key(name, Scope.named(args.scope))
                print(
                    f"Created {key.id} ({key.scope.label}) for {name!r}. "
                    "This is the only time the key is shown; keep it now:",
                    file=sys.stderr,
                )
                print(secret)
            elif args.action == "list":
                print("id\tscope\tcreated\tstate\tname")
                for key in [*settings.api_keys, *await service.access_keys()]:
                    created = key.created_at.isoformat(timespec="seconds") if key.created_at else "-"
                    state = f"revoked {key.revoked_at.isoformat(timespec='seconds')}" if key.revoked_at else "live"
                    print(f"{key.id}\t{key.scope.label}\t{created}\t{state}\t{key.name}")
            else:
                if any(key.id == args.id for key in settings.api_keys):
                    print(f"milestones: {args.id} comes from MILESTONES_API_KEYS; remove it there", file=sys.stderr)
                    return 1
                stored = {key.id: key for key in await service.access_keys()}.get(args.id)
                if stored is not None and stored.revoked_at is not None:
                    when = stored.revoked_at.isoformat(timespec="seconds")
                    print(f"milestones: {args.id} ({stored.name!r}) was already revoked at {when}", file=sys.stderr)
                    return 1
                revoked = await service.revoke_access_key(args.id)
                if revoked is None:
                    unknown = f"milestones: no stored key has the id {args.id!r} (see `milestones keys list`)"
                    print(unknown, file=sys.stderr)
                    return 1
                print(f"Revoked {revoked.id} ({revoked.name!r}); it stops working within a second.")
            return 0
        finally:
            await service.close()

    return asyncio.run(run())
