"""`milestones serve`: migrate (or check) the database, then run uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import socket
import sys
import tempfile
import time
from contextlib import ExitStack
from typing import Any

from milestones import __version__
from milestones.cli.arguments import at_least_one, command, port_number, seconds
from milestones.cli.configuration import check_traces, read_catalog, read_settings
from milestones.cli.database import catalog_source, migrate_if_asked, settle_catalog
from milestones.cli.output import OK, CommandError, counted, one_line
from milestones.errors import MilestonesError
from milestones.ops.logs import configure_logging, event, redacted
from milestones.ops.metrics import MULTIPROCESS_DIR
from milestones.settings import Settings
from milestones.storage import head_revision, open_repository


def add_serve(commands: Any) -> None:
    serve = command(
        commands,
        "serve",
        "serve the HTTP API (migrates the database first)",
        "Serve the HTTP API with uvicorn. The database (MILESTONES_DATABASE_URL, a SQLite file by default) is\n"
        "migrated first unless MILESTONES_MIGRATE_ON_START=false.",
        "milestones serve",
        "milestones serve --host 0.0.0.0 --port 8080 --workers 4",
        "MILESTONES_DATABASE_URL=postgresql://milestones@db:5432/milestones milestones serve",
    )
    serve.add_argument("--host", help="address to bind (default MILESTONES_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=port_number, help="port (default MILESTONES_PORT or 8000)")
    serve.add_argument("--workers", type=at_least_one, help="worker processes (default MILESTONES_WORKERS or 1)")
    serve.add_argument(
        "--wait-for-database",
        type=seconds,
        default=0,
        metavar="SECONDS",
        help="keep trying to reach the database for this long before giving up (default 0: try once)",
    )
    serve.add_argument(
        "--publish-catalog",
        action="store_true",
        help="publish the configured catalog file as the latest version first, if it differs from it (without\n"
        "this, a file that differs is said in one line and the stored latest is served)",
    )
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    settings = read_settings()
    configure_logging(settings.log_format, settings.log_level)
    configured = read_catalog(settings)  # checked once here: a bad catalog stops with one line, not a traceback
    check_traces()  # likewise: each worker starts its own exporter
    if settings.read_requires_key and settings.page_link_secret is None:
        raise CommandError(
            "reads need a key (MILESTONES_READ_REQUIRES_KEY), so mentors' pages need signed links: set "
            "MILESTONES_PAGE_LINK_SECRET (16 characters or more) to a random secret"
        )
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    workers = args.workers or settings.workers
    # Bound before anything is announced or migrated: a port in use is said at once, in one line.
    listening = listening_socket(host, port)
    revision = _database_ready(settings, args.wait_for_database)
    # Every worker serves the stored latest version, whatever file each was started with.
    catalog = asyncio.run(settle_catalog(settings, configured, publish=args.publish_catalog))
    if catalog.published or catalog.differs:
        event(
            catalog.described(catalog_source(settings)),
            logging.WARNING if catalog.differs else logging.INFO,
            catalog_version=catalog.latest,
        )
    event(
        f"milestones {__version__} serving http://{host}:{port}{settings.root_path} with "
        f"{counted(workers, 'worker', 'workers')}; database {redacted(settings.database_url)} at schema {revision}",
        version=__version__,
        address=f"http://{host}:{port}{settings.root_path}",
        workers=workers,
        database=redacted(settings.database_url),
        schema=revision,
    )
    if not settings.api_keys and not asyncio.run(stored_keys_exist(settings)):
        event(
            "WARNING: no access keys are configured, so anyone who can reach this port can write; "
            "set MILESTONES_API_KEYS or run `milestones keys create` before exposing it",
            logging.WARNING,
        )
    run_server(settings, listening, workers=workers)
    event("stopped")
    return OK


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to the address, as uvicorn would bind it, for uvicorn to listen on; a CommandError
    saying in plain words why it cannot be had."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listening = socket.socket(family=family)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as exc:
        listening.close()
        raise CommandError(f"cannot listen on {host}:{port}: {_why_not_bound(host, exc)}") from None
    listening.set_inheritable(True)  # the worker processes listen on it too
    return listening


def _why_not_bound(host: str, exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"{host} is not an address, nor a name this host can look up"
    if exc.errno == errno.EADDRINUSE:
        return "the port is in use (another `milestones serve`?); stop that, or choose another with --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this host; use 127.0.0.1, 0.0.0.0 (every address) or one of its own"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges); choose another with --port"
    return str(exc.strerror or exc)


def _database_ready(settings: Settings, wait_seconds: float) -> str:
    """Migrate (or, with MILESTONES_MIGRATE_ON_START=false, check) the database, trying again for up to
    `wait_seconds` while it cannot be reached (counted from the first failed attempt, so that a slow first one
    does not use up the wait); returns the schema revision it is at."""
    deadline: float | None = None
    while True:
        try:
            migration = migrate_if_asked(settings)
            revision = asyncio.run(_schema_revision(settings))
        except (CommandError, MilestonesError, OSError) as exc:
            if deadline is None and wait_seconds > 0:
                deadline = time.monotonic() + wait_seconds
                event(f"waiting up to {wait_seconds:g} s for the database", database=redacted(settings.database_url))
            if deadline is None or time.monotonic() >= deadline:
                raise CommandError(str(exc) if isinstance(exc, CommandError) else one_line(str(exc))) from None
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            continue
        expected = head_revision()
        if revision != expected:
            raise CommandError(
                f"the database {redacted(settings.database_url)} is at schema {revision}, this version needs "
                f"{expected}: run `milestones migrate`"
            )
        if migration is not None and migration.changed:
            event(
                f"database migrated from {migration.before or 'no schema'} to schema {migration.after}",
                database=redacted(settings.database_url),
                schema=revision,
            )
        return str(revision)


async def _schema_revision(settings: Settings) -> str | None:
    try:
        repository = await open_repository(settings)
    except Exception as exc:  # asyncpg's and the OS's ways of saying the database is not there
        raise CommandError(
            f"the database {redacted(settings.database_url)} cannot be reached: {type(exc).__name__}: "
            f"{one_line(str(exc))}"
        ) from None
    try:
        return await repository.schema_revision()
    finally:
        await repository.close()


def run_server(settings: Settings, listening: socket.socket, *, workers: int) -> None:
    """uvicorn on the bound socket, as `uvicorn.run` would run it on an address it bound itself."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from milestones.web.request_head import RequestHeadProtocol

    # Worker processes build their app from the environment, so hand them the resolved settings.
    os.environ["MILESTONES_DATABASE_URL"] = settings.database_url
    with ExitStack() as stack:
        stack.callback(listening.close)
        if workers > 1:
            # Each worker keeps its metrics in a file here, and /metrics adds them up (prometheus-client's
            # multiprocess mode); a fresh directory, so that no earlier run's counts are added in.
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="milestones-metrics-"))
            os.environ[MULTIPROCESS_DIR] = directory
        config = uvicorn.Config(
            "milestones.web.app:app_from_environment",
            factory=True,
            workers=workers,
            loop="uvloop" if sys.platform != "win32" else "asyncio",
            http=RequestHeadProtocol,  # httptools, with a deadline and a size limit for request heads
            access_log=False,  # the front door writes one line per request instead
            log_config=None,  # the service's own logging, configured above and in each worker
            log_level=settings.log_level,
            proxy_headers=False,
            root_path=settings.root_path,
            timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        )
        server = uvicorn.Server(config)
        try:
            if workers > 1:
                Multiprocess(config, sockets=[listening]).run()
            else:
                server.run(sockets=[listening])
        except KeyboardInterrupt:
            pass  # Ctrl-C: uvicorn has already shut down
        if workers == 1 and not server.started:
            raise CommandError("the server stopped while starting; the lines above say why")


async def stored_keys_exist(settings: Settings) -> bool:
    repository = await open_repository(settings)
    try:
        return bool(await repository.access_keys())
    finally:
        await repository.close()
