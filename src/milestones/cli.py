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
from milestones.keys import Scope
from milestones.service import MilestoneService, utc_now
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
    add_key_commands(commands)
    args = parser.parse_args(argv)

    try:
        settings = Settings()
    except ValidationError as exc:
        sys.exit(f"milestones: invalid configuration: {configuration_errors(exc)}")

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
    if args.command == "keys":
        sys.exit(run_keys(settings, args))
    if not settings.api_keys and not asyncio.run(stored_keys_exist(settings)):
        print(
            "milestones: WARNING: no access keys are configured, so anyone who can reach this port can write; "
            "set MILESTONES_API_KEYS or run `milestones keys create` before exposing it",
            file=sys.stderr,
        )
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


def configuration_errors(exc: ValidationError) -> str:
    """Each bad setting as its environment variable and the reason, on one line; never the value given, which
    may be a key or a password."""
    return "; ".join(
        f"MILESTONES_{'_'.join(str(part) for part in error['loc'][:1]).upper()}: "
        f"{error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors()
    )


def add_key_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser(
        "keys",
        help="create, list and revoke the access keys stored in the database",
        description="Access keys stored in the database, as SHA-256 digests. Keys given in MILESTONES_API_KEYS are "
        "listed too, but are changed there.",
        epilog="examples:\n  milestones keys create --name importer --scope write\n  milestones keys list\n"
        "  milestones keys revoke db:1a2b3c4d",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a key; it is printed once, on standard output")
    create.add_argument("--name", required=True, help="who or what uses the key (shown by `keys list`)")
    create.add_argument("--scope", required=True, choices=[s.label for s in Scope], help="what the key may do")
    actions.add_parser("list", help="every key: id, scope, name, when created and revoked")
    revoke = actions.add_parser("revoke", help="stop a stored key working (within a second, in every worker)")
    revoke.add_argument("id", help="the key's id, as `keys list` shows it (db:...)")


def run_keys(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> int:
        service = await MilestoneService.open(settings, load_catalog(settings.catalog_path))
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
                for key in [*settings.api_keys, *await service.access_keys()]:
                    created = key.created_at.isoformat(timespec="seconds") if key.created_at else "-"
                    state = f"revoked {key.revoked_at.isoformat(timespec='seconds')}" if key.revoked_at else "live"
                    print(f"{key.id}\t{key.scope.label}\t{created}\t{state}\t{key.name}")
            else:
                if any(key.id == args.id for key in settings.api_keys):
                    print(f"milestones: {args.id} comes from MILESTONES_API_KEYS; remove it there", file=sys.stderr)
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


async def stored_keys_exist(settings: Settings) -> bool:
    repository = await open_repository(settings)
    try:
        return bool(await repository.access_keys())
    finally:
        await repository.close()


def redacted(url: str) -> str:
    """The URL without its password, for printing."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
