"""`milestones page-link`: a signed, expiring link to a mentor's page."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from milestones.access.page_links import TTL_UNITS, parse_ttl, signed_query
from milestones.cli.arguments import command, mentor_id
from milestones.cli.configuration import read_settings
from milestones.cli.output import OK, CommandError
from milestones.service import utc_now


def add_page_link(commands: Any) -> None:
    link = command(
        commands,
        "page-link",
        "print a signed, expiring link to a mentor's page (for when reads need a key)",
        "Print a link that opens a mentor's page, card and card image until it expires, signed with\n"
        "MILESTONES_PAGE_LINK_SECRET. Without MILESTONES_READ_REQUIRES_KEY the pages need no link.",
        "milestones page-link mentor_001 --ttl 7d",
        "milestones page-link mentor_001 --ttl 12h --base-url https://milestones.example.org",
    )
    link.add_argument("mentor", type=mentor_id, help="the mentor's id")
    link.add_argument(
        "--ttl",
        type=_ttl,
        default="7d",
        help=f"how long it works, a year at most: a whole number and a unit, {TTL_UNITS} (default 7d)",
    )
    link.add_argument(
        "--base-url", help="where the service is reached (default http://MILESTONES_HOST:MILESTONES_PORT)"
    )
    link.set_defaults(run=run_page_link)


def run_page_link(args: argparse.Namespace) -> int:
    settings = read_settings()
    if settings.page_link_secret is None:
        raise CommandError("set MILESTONES_PAGE_LINK_SECRET (the secret the service checks links with) first")
    base = (args.base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise CommandError(f"--base-url must start with http:// or https://, got {base!r}")
    expires_at = utc_now() + args.ttl
    query = signed_query(settings.page_link_secret, args.mentor, expires_at)
    print(f"{base}/mentors/{quote(args.mentor, safe='')}?{query}")
    print(f"valid until {expires_at.isoformat(timespec='seconds')}", file=sys.stderr)
    return OK


def _ttl(text: str) -> timedelta:
    try:
        return parse_ttl(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
