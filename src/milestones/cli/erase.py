"""`milestones erase MENTOR_ID`: remove everything stored about a mentor, in one transaction."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from milestones.cli.arguments import command, mentor_id
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import require_database
from milestones.cli.output import OK, REJECTED, CommandError, counted
from milestones.domain.changes import COMMAND_LINE
from milestones.errors import MentorNotFound
from milestones.service import Erasure, MilestoneService


def add_erase(commands: Any) -> None:
    erase = command(
        commands,
        "erase",
        "remove everything stored about a mentor (a deletion request)",
        "Remove a mentor's periods, milestones, history, stored idempotent answers and name in one transaction.\n"
        "History keeps one entry that the erasure happened, naming the mentor only by a salted hash. Backups,\n"
        "proxies' logs, replicas that have not replayed yet and files exported earlier are out of its reach.\n"
        "Asks for confirmation on a terminal; --yes skips the question (and is needed when not on one).",
        "milestones erase mentor_001",
        "milestones erase mentor_001 --yes",
    )
    erase.add_argument("mentor", type=mentor_id, metavar="MENTOR_ID", help="the platform's id for the mentor")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(run=run_erase)


def run_erase(args: argparse.Namespace) -> int:
    settings = read_settings()
    require_database(settings)
    catalog = read_catalog(settings)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CommandError("erasing cannot be undone: confirm with --yes when not on a terminal")
        answer = input(f"Erase everything stored about {args.mentor!r}? This cannot be undone. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing erased", file=sys.stderr)
            return REJECTED

    async def erase() -> Erasure:
        service = await MilestoneService.open(settings, catalog)
        try:
            return await service.erase(args.mentor, COMMAND_LINE)
        finally:
            await service.close()

    try:
        erasure = asyncio.run(erase())
    except MentorNotFound:
        raise CommandError(f"nothing is stored about {args.mentor!r}; nothing erased", REJECTED) from None
    removed = ", ".join(counted(count, *_WORDS.get(kind, (kind, kind))) for kind, count in erasure.removed.items())
    print(f"erased {args.mentor!r}: {removed} removed; history names the mentor {erasure.mentor_hash}")
    return OK


# The erasure's kinds of rows (`MentorTable.counted_as`), one and several.
_WORDS = {
    "periods": ("period", "periods"),
    "milestones": ("milestone", "milestones"),
    "history_entries": ("history entry", "history entries"),
    "events": ("event", "events"),
    "idempotency_records": ("stored idempotent answer", "stored idempotent answers"),
    "mentor_records": ("record of the mentor's name", "records of the mentor's name"),
    "webhook_deliveries": ("webhook delivery", "webhook deliveries"),
    "credential_status_entries": ("credential's place in the status list", "credentials' places in the status list"),
}
