"""The `milestones` command: serve the API or migrate the database."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from milestones.settings import Settings
from milestones.storage import migrate


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="milestones", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API (migrates the database first)")
    serve.add_argument("--host", help="address to bind (default MILESTONES_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default MILESTONES_PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default MILESTONES_WORKERS or 1)")
    commands.add_parser("migrate", help="apply the schema migrations to the configured database")
    args = parser.parse_args(argv)

    try:
        settings = Settings()
    except ValidationError as exc:
        sys.exit(f"milestones: invalid configuration:\n{exc}")

    if args.command == "migrate":
        migrate(settings)
        print(f"migrated {redacted(settings.database_url)}")
        return

    if settings.migrate_on_start:
        migrate(settings)
    run_server(
        settings,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
        workers=args.workers or settings.workers,
    )


def run_server(settings: Settings, *, host: str, port: int, workers: int) -> None:
    import uvicorn

    # Worker processes build their app from the environment, so hand them the resolved settings.
    os.environ["MILESTONES_DATABASE_URL"] = settings.database_url
    uvicorn.run(
        "milestones.web.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http="httptools",
        access_log=False,
        log_level=settings.log_level,
        proxy_headers=False,
    )


def redacted(url: str) -> str:
    """The URL without its password, for printing."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
