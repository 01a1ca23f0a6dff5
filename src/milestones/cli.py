"""The `milestones` command: serve the API or migrate the database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from milestones.bulk import BulkReport, detect_lines
from milestones.catalog import CatalogError, load_catalog
from milestones.service import utc_now
from milestones.settings import Settings
from milestones.storage import migrate, open_repository


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="milestones", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API (migrates the database first)")
    serve.add_argument("--host", help="address to bind (default MILESTONES_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default MILESTONES_PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default MILESTONES_WORKERS or 1)")
    commands.add_parser("migrate", help="apply the schema migrations to the configured database")
    detect = commands.add_parser("detect", help="store and evaluate a JSON Lines file of summaries (POST bodies)")
    detect.add_argument("file", type=Path, help="one POST /api/v1/milestones body per line; - for stdin")
    detect.add_argument("--batch-size", type=int, default=5000, help="summaries per transaction (default 5000)")
    args = parser.parse_args(argv)

    try:
        settings = Settings()
    except ValidationError as exc:
        sys.exit(f"milestones: invalid configuration:\n{exc}")

    if args.command == "migrate":
        migrate(settings)
        print(f"migrated {redacted(settings.database_url)}")
        return

    try:
        # Checked here, once, so that a bad catalog stops `serve` with one line instead of a worker's traceback.
        load_catalog(settings.catalog_path)
    except (CatalogError, OSError) as exc:
        sys.exit(f"milestones: invalid catalog: {exc}")

    if settings.migrate_on_start:
        migrate(settings)
    if args.command == "detect":
        sys.exit(run_detect(settings, args.file, args.batch_size))
    run_server(
        settings,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
        workers=args.workers or settings.workers,
    )


def run_server(settings: Settings, *, host: str, port: int, workers: int) -> None:
    import uvicorn

    from milestones.web.head_timeout import HeadTimeoutProtocol

    # Worker processes build their app from the environment, so hand them the resolved settings.
    os.environ["MILESTONES_DATABASE_URL"] = settings.database_url
    uvicorn.run(
        "milestones.web.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http=HeadTimeoutProtocol,  # httptools, with a deadline for request heads
        access_log=False,
        log_level=settings.log_level,
        proxy_headers=False,
    )


def run_detect(settings: Settings, path: Path, batch_size: int) -> int:
    """Bulk detection; prints a JSON report on stdout and rejected lines on stderr. 1 if any was rejected."""
    catalog = load_catalog(settings.catalog_path)

    def reject(line: int, message: str) -> None:
        print(f"line {line}: {message}", file=sys.stderr)

    async def run() -> BulkReport:
        repository = await open_repository(settings, batch_job=True)
        try:
            with path.open("rb") if str(path) != "-" else contextlib.nullcontext(sys.stdin.buffer) as lines:
                return await detect_lines(lines, repository, catalog, utc_now(), reject, batch_size)
        finally:
            await repository.close()

    report = asyncio.run(run())
    print(json.dumps(dataclasses.asdict(report)))
    return 1 if report.rejected else 0


def redacted(url: str) -> str:
    """The URL without its password, for printing."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
