"""The `milestones` command: serve the API, migrate, detect in bulk, export, check a catalog, load a demo, keys,
signed page links."""

from __future__ import annotations

import argparse
import asyncio
import codecs
import csv
import dataclasses
import io
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import ExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, NoReturn
from urllib.parse import quote

from pydantic import ValidationError

from milestones import __version__
from milestones.bulk import BulkReport, Rejected, detect_lines, detect_numbered
from milestones.catalog import CatalogError, load_catalog
from milestones.contract import MENTOR_ID_RULE
from milestones.demo import DEMO_MENTORS, demo_summaries
from milestones.domain import Definition, MetricType, is_mentor_id
from milestones.errors import MilestonesError
from milestones.formats import (
    MILESTONE_COLUMNS,
    SUMMARY_COLUMNS,
    TEXT_CHECK_BYTES,
    FileNotUsable,
    Writer,
    csv_bodies,
    csv_row_of_body,
    milestone_record,
    period_body,
    period_cells,
    refuse_unless_text,
)
from milestones.keys import Scope
from milestones.logs import configure_logging, event
from milestones.metrics import MULTIPROCESS_DIR
from milestones.page_links import parse_ttl, signed_query
from milestones.service import MilestoneService, utc_now
from milestones.settings import Settings
from milestones.storage import MilestoneRepository, head_revision, migrate, open_repository

# Exit statuses: everything went in; some lines were rejected; nothing could be done (a bad option, file,
# configuration or catalog, or a database that cannot be reached).
OK, REJECTED, CANNOT_RUN = 0, 1, 2


class CommandError(Exception):
    """A reason the command cannot go on, said in one line; `main` prints it and exits with `status`."""

    def __init__(self, message: str, status: int = CANNOT_RUN) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse, with each usage error in one line that points at --help, instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(CANNOT_RUN, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` and return its exit status. Every error is one line on standard error."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
        return status
    except CommandError as exc:
        print(f"milestones: {exc}", file=sys.stderr)
        return exc.status
    except MilestonesError as exc:  # a database that is down or busy, mostly
        print(f"milestones: {one_line(exc.detail)}", file=sys.stderr)
        return CANNOT_RUN
    except KeyboardInterrupt:
        print("milestones: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`milestones export | head`): nothing left to say, and nowhere to say it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return REJECTED
    except Exception as exc:  # the last resort: still one line, never a traceback
        print(f"milestones: unexpected error: {type(exc).__name__}: {one_line(str(exc))}", file=sys.stderr)
        return CANNOT_RUN


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="milestones",
        description="Detects, stores and serves mentoring milestones. Settings come from MILESTONES_* variables.",
        epilog=_examples(
            "milestones serve --port 8000",
            "milestones demo && milestones export --mentor demo_ada",
            "milestones detect summaries.jsonl",
            "milestones detect --help",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"milestones {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve(commands)
    add_migrate(commands)
    add_detect(commands)
    add_export(commands)
    add_catalog(commands)
    add_demo(commands)
    add_key_commands(commands)
    add_page_link(commands)
    return parser


def _command(commands: Any, name: str, summary: str, description: str, *examples: str) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=_examples(*examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return command


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


# --- serve and migrate ---------------------------------------------------------------------------------------


def add_serve(commands: Any) -> None:
    serve = _command(
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
    serve.add_argument("--port", type=_port, help="port (default MILESTONES_PORT or 8000)")
    serve.add_argument("--workers", type=_at_least_one, help="worker processes (default MILESTONES_WORKERS or 1)")
    serve.add_argument(
        "--wait-for-database",
        type=_seconds,
        default=0,
        metavar="SECONDS",
        help="keep trying to reach the database for this long before giving up (default 0: try once)",
    )
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    _catalog(settings)  # checked once here, so a bad catalog stops with one line instead of a worker's traceback
    if settings.read_requires_key and settings.page_link_secret is None:
        raise CommandError(
            "reads need a key (MILESTONES_READ_REQUIRES_KEY), so mentors' pages need signed links: set "
            "MILESTONES_PAGE_LINK_SECRET (16 characters or more) to a random secret"
        )
    revision = _database_ready(settings, args.wait_for_database)
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    workers = args.workers or settings.workers
    event(
        f"milestones {__version__} serving http://{host}:{port}{settings.root_path} with {workers} "
        f"worker{'s' if workers > 1 else ''}; database {redacted(settings.database_url)} at schema {revision}",
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
    run_server(settings, host=host, port=port, workers=workers)
    event("stopped")
    return OK


def _database_ready(settings: Settings, wait_seconds: float) -> str:
    """Migrate (or, with MILESTONES_MIGRATE_ON_START=false, check) the database, trying again for up to
    `wait_seconds` while it cannot be reached; returns the schema revision it is at."""
    deadline = time.monotonic() + wait_seconds
    waiting = False
    while True:
        try:
            _migrated(settings)
            revision = asyncio.run(_schema_revision(settings))
        except (CommandError, MilestonesError, OSError) as exc:
            if time.monotonic() >= deadline:
                raise CommandError(str(exc) if isinstance(exc, CommandError) else one_line(str(exc))) from None
            if not waiting:
                event(f"waiting up to {wait_seconds:g} s for the database", database=redacted(settings.database_url))
                waiting = True
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            continue
        expected = head_revision()
        if revision != expected:
            raise CommandError(
                f"the database {redacted(settings.database_url)} is at schema {revision}, this version needs "
                f"{expected}: run `milestones migrate`"
            )
        if settings.migrate_on_start:
            event("database migrated", database=redacted(settings.database_url), schema=revision)
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


def run_server(settings: Settings, *, host: str, port: int, workers: int) -> None:
    import uvicorn

    from milestones.web.head_timeout import HeadTimeoutProtocol

    # Worker processes build their app from the environment, so hand them the resolved settings.
    os.environ["MILESTONES_DATABASE_URL"] = settings.database_url
    with ExitStack() as stack:
        if workers > 1:
            # Each worker keeps its metrics in a file here, and /metrics adds them up (prometheus-client's
            # multiprocess mode); a fresh directory, so that no earlier run's counts are added in.
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="milestones-metrics-"))
            os.environ[MULTIPROCESS_DIR] = directory
        uvicorn.run(
            "milestones.web.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop" if sys.platform != "win32" else "asyncio",
            http=HeadTimeoutProtocol,  # httptools, with a deadline for request heads
            access_log=False,  # the front door writes one line per request instead
            log_config=None,  # the service's own logging, configured above and in each worker
            log_level=settings.log_level,
            proxy_headers=False,
            root_path=settings.root_path,
            timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        )


def add_migrate(commands: Any) -> None:
    migrate_command = _command(
        commands,
        "migrate",
        "apply the schema migrations to the configured database",
        "Bring the configured database's schema up to date (creates a SQLite file if there is none).",
        "milestones migrate",
        "MILESTONES_DATABASE_URL=postgresql://milestones@db:5432/milestones milestones migrate",
    )
    migrate_command.set_defaults(run=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    _migrate(settings)
    print(f"migrated {redacted(settings.database_url)}")
    return OK


# --- detect --------------------------------------------------------------------------------------------------


def add_detect(commands: Any) -> None:
    detect = _command(
        commands,
        "detect",
        "store summaries from a JSON Lines or CSV file and detect their milestones",
        "Store each summary of FILE and detect its mentor's milestones, exactly as POST /api/v1/milestones\n"
        "would, in file order, in one transaction per batch. Running the same file again changes nothing.\n"
        "\n"
        "JSON Lines: one POST body per line. CSV: a header naming the columns\n"
        f"  {','.join(SUMMARY_COLUMNS)}\n"
        "then one summary per row. Rejected lines are listed on standard error in line order, each as\n"
        "'line N: field: reason' (N counts the file's lines from 1, a CSV header included); the others go in.\n"
        "On a terminal a progress bar shows the rate and the time left; otherwise only the summary is printed.\n"
        "\n"
        "exit status: 0 every line went in; 1 some lines were rejected; 2 nothing could be done (a missing\n"
        "file, a directory, a file that is not text, a bad option, configuration or catalog, no database).",
        "milestones detect summaries.jsonl",
        "milestones detect summaries.csv --rejects rejected.csv   # fix rejected.csv, then: milestones detect it",
        "zcat summaries.jsonl.gz | milestones detect - --batch-size 10000",
        "milestones detect nightly.csv --metrics-file /var/lib/node_exporter/milestones.prom --json",
    )
    detect.add_argument("file", help="a JSON Lines or CSV file of summaries; - reads standard input")
    detect.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        help="the file's format (default: csv for a .csv file, else jsonl)",
    )
    detect.add_argument(
        "--batch-size", type=_at_least_one, default=5000, metavar="N", help="summaries per transaction (default 5000)"
    )
    detect.add_argument(
        "--rejects", type=Path, metavar="FILE", help="also write the rejected lines to FILE, in the input's format"
    )
    detect.add_argument(
        "--metrics-file",
        type=Path,
        metavar="FILE",
        help="write the summary's counts to FILE in Prometheus text format (for a scheduler or node_exporter)",
    )
    detect.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    detect.set_defaults(run=run_detect)


def run_detect(args: argparse.Namespace) -> int:
    """Bulk detection; the summary on standard output, rejected lines on standard error."""
    settings = _settings()
    catalog = _catalog(settings)
    file_format = args.format or ("csv" if args.file.lower().endswith(".csv") else "jsonl")
    for extra in (args.rejects, args.metrics_file):
        if extra is not None and not extra.parent.is_dir():
            raise CommandError(f"{extra}: the folder {extra.parent} does not exist")
    with ExitStack() as stack:
        stream, size = _open_input(args.file, stack)
        shown = _Shown(args.file, size, stack)
        rejects = None if args.rejects is None else _RejectsFile(args.rejects, file_format, stack)

        def reject(rejected: Rejected) -> None:
            shown.rejected(rejected)
            if rejects is not None:
                rejects.write(rejected)

        def progress(report: BulkReport) -> None:
            shown.progress(report, _position(stream, size))

        _migrated(settings)
        now = utc_now()

        async def detect(repository: MilestoneRepository) -> BulkReport:
            if file_format == "csv":
                text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
                bodies = csv_bodies(text)
                return await detect_numbered(bodies, repository, catalog, now, reject, args.batch_size, progress)
            return await detect_lines(stream, repository, catalog, now, reject, args.batch_size, progress)

        try:
            report = asyncio.run(_with_repository(settings, detect))
        except FileNotUsable as exc:
            raise CommandError(f"{_shown_name(args.file)}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{_shown_name(args.file)}: is not UTF-8 text ({exc.reason})") from None
        shown.done(report)
    if args.metrics_file is not None:
        write_metrics(args.metrics_file, report, time.time())
    print(json.dumps(dataclasses.asdict(report)) if args.json else describe(report))
    return REJECTED if report.rejected else OK


def _open_input(name: str, stack: ExitStack) -> tuple[IO[bytes], int | None]:
    """The input as a binary stream positioned after any byte order mark, and its size when it has one;
    stops at once on a missing file, a directory or a file that is not text."""
    if name == "-":
        stream: IO[bytes] = sys.stdin.buffer
        if sys.stdin.isatty():  # nothing piped in: say what it waits for rather than seem to hang
            print("milestones: reading summaries from the terminal; end with Ctrl-D", file=sys.stderr)
    else:
        path = Path(name)
        if path.is_dir():
            raise CommandError(f"{name}: is a directory; give a JSON Lines or CSV file (or - for standard input)")
        try:
            stream = stack.enter_context(path.open("rb"))
        except FileNotFoundError:
            raise CommandError(f"{name}: no such file") from None
        except OSError as exc:
            raise CommandError(f"{name}: cannot be read ({exc.strerror})") from None
    # Looked at without consuming it: standard input cannot be read twice. Buffered streams (files, and
    # standard input) can peek; anything else goes unchecked here and is refused line by line instead.
    peek = getattr(stream, "peek", None)
    head: bytes = peek(TEXT_CHECK_BYTES)[:TEXT_CHECK_BYTES] if peek is not None else b""
    try:
        refuse_unless_text(head)
    except FileNotUsable as exc:
        raise CommandError(f"{_shown_name(name)}: {exc}") from None
    if head.startswith(codecs.BOM_UTF8):
        stream.read(len(codecs.BOM_UTF8))
    size = None
    if name != "-" or stream.seekable():
        size = os.fstat(stream.fileno()).st_size or None
    return stream, size


def _position(stream: IO[bytes], size: int | None) -> int | None:
    if size is None:
        return None
    try:
        return stream.tell()
    except (OSError, ValueError):
        return None


def _shown_name(name: str) -> str:
    return "standard input" if name == "-" else name


class _Shown:
    """What a run shows on standard error: rejected lines, and on a terminal a progress bar with the rate and
    the time left, updated once per batch. Elsewhere (a pipe, a log) only the rejected lines."""

    def __init__(self, name: str, size: int | None, stack: ExitStack) -> None:
        from rich.console import Console

        self._console = Console(stderr=True, highlight=False, soft_wrap=True)
        self._bar: Any = None
        self._started = time.perf_counter()
        if self._console.is_terminal:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

            self._bar = stack.enter_context(
                Progress(
                    TextColumn("[bold]detect[/]"),
                    BarColumn(),
                    TaskProgressColumn(),
                    TextColumn("{task.fields[lines]:,} lines, {task.fields[rate]:,.0f} lines/s"),
                    TimeRemainingColumn(),
                    console=self._console,
                    auto_refresh=False,  # redrawn per batch: no drawing thread competing with the writer
                    transient=False,
                )
            )
            self._task = self._bar.add_task(_shown_name(name), total=size, lines=0, rate=0.0)

    def rejected(self, rejected: Rejected) -> None:
        for field, reason in rejected.errors:
            message = f"line {rejected.line}: {field}: {reason}"
            if self._bar is not None:
                self._console.print(message, markup=False)
            else:
                print(message, file=sys.stderr)

    def progress(self, report: BulkReport, position: int | None) -> None:
        if self._bar is None:
            return
        elapsed = max(time.perf_counter() - self._started, 1e-6)
        self._bar.update(self._task, completed=position or 0, lines=report.lines, rate=report.lines / elapsed)
        self._bar.refresh()

    def done(self, report: BulkReport) -> None:
        if self._bar is not None:
            total = self._bar.tasks[0].total
            self._bar.update(self._task, completed=total or 0, lines=report.lines)
            self._bar.refresh()


class _RejectsFile:
    """Rejected lines written back in the input's format (CSV under its header), to be corrected and fed back."""

    def __init__(self, path: Path, file_format: str, stack: ExitStack) -> None:
        try:
            self._out = stack.enter_context(path.open("w", encoding="utf-8", newline=""))
        except OSError as exc:
            raise CommandError(f"{path}: cannot be written ({exc.strerror})") from None
        self._csv = csv.writer(self._out, lineterminator="\n") if file_format == "csv" else None
        if self._csv is not None:
            self._csv.writerow(SUMMARY_COLUMNS)

    def write(self, rejected: Rejected) -> None:
        if self._csv is not None:
            self._csv.writerow(csv_row_of_body(rejected.text))
        else:
            self._out.write(rejected.text.rstrip(b"\r\n").decode("utf-8", "replace") + "\n")


def describe(report: BulkReport) -> str:
    """The summary of a run, in one line."""
    return (
        f"{report.lines:,} lines read: {report.summaries:,} summaries stored, {report.rejected:,} lines rejected; "
        f"{report.mentors_changed:,} mentors changed, {report.milestones_achieved:,} milestones newly achieved, "
        f"{report.milestones_in_progress:,} in progress created or moved ({report.seconds:,.1f} s)"
    )


def write_metrics(path: Path, report: BulkReport, finished_at: float) -> None:
    """The summary's counts in Prometheus text format, written whole (node_exporter never reads half a file)."""
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    counts = {
        "lines_read": ("Non-blank lines read", report.lines),
        "summaries_stored": ("Summaries stored (or already stored)", report.summaries),
        "lines_rejected": ("Lines rejected", report.rejected),
        "mentors_changed": ("Mentors whose periods or milestones changed", report.mentors_changed),
        "milestones_achieved": ("Milestones newly achieved", report.milestones_achieved),
        "milestones_in_progress": ("In-progress milestones created or moved", report.milestones_in_progress),
        "duration_seconds": ("How long the run took", report.seconds),
        "last_run_timestamp_seconds": ("When the run finished, in Unix time", finished_at),
    }
    for name, (description, value) in counts.items():
        Gauge(f"milestones_detect_{name}", description, registry=registry).set(value)
    try:
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise CommandError(f"{path}: cannot be written ({exc.strerror})") from None


# --- export --------------------------------------------------------------------------------------------------


def add_export(commands: Any) -> None:
    export = _command(
        commands,
        "export",
        "write stored milestones, or stored summaries, as JSON Lines or CSV",
        "Write the stored milestones (id order; one mentor's in catalog order) with their values in the API's\n"
        "units, or with --periods the stored summaries as the POST bodies that store them, which\n"
        "`milestones detect` takes back. Streams page by page, in constant memory however much is stored.\n"
        "\n"
        "CSV columns of milestones, and of summaries (--periods):\n"
        f"  {','.join(MILESTONE_COLUMNS)}\n"
        f"  {','.join(SUMMARY_COLUMNS)}",
        "milestones export --mentor demo_ada",
        "milestones export --format csv --output milestones.csv",
        "milestones export --periods --output backup.jsonl   # later: milestones detect backup.jsonl",
    )
    export.add_argument("--mentor", type=_mentor_id, metavar="ID", help="only this mentor's")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="default jsonl")
    export.add_argument("--output", type=Path, metavar="FILE", help="write to FILE (default standard output)")
    export.add_argument("--periods", action="store_true", help="the stored summaries instead of the milestones")
    export.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    settings = _settings()
    with ExitStack() as stack:
        if args.output is None:
            out: IO[str] = sys.stdout
        else:
            try:
                out = stack.enter_context(args.output.open("w", encoding="utf-8", newline=""))
            except OSError as exc:
                raise CommandError(f"{args.output}: cannot be written ({exc.strerror})") from None
        _migrated(settings)
        asyncio.run(_with_repository(settings, lambda repository: export(repository, args, out)))
    return OK


async def export(repository: MilestoneRepository, args: argparse.Namespace, out: IO[str]) -> None:
    if args.periods:
        writer = Writer(out, args.format, SUMMARY_COLUMNS)
        async for periods in repository.period_rows(args.mentor):
            if args.format == "csv":
                writer.rows(map(period_cells, periods))
            else:
                writer.records(map(period_body, periods))
    else:
        writer = Writer(out, args.format, MILESTONE_COLUMNS)
        async for milestones in repository.milestone_rows(args.mentor):
            writer.records(map(milestone_record, milestones))
    out.flush()


# --- catalog check -------------------------------------------------------------------------------------------


def add_catalog(commands: Any) -> None:
    catalog = _command(
        commands,
        "catalog",
        "work with milestone catalogs",
        "Work with catalogs of milestone definitions (TOML, as the packaged one; MILESTONES_CATALOG_PATH\n"
        "selects the one the service uses).",
        "milestones catalog check my-catalog.toml",
    )
    actions = catalog.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = _command(
        actions,
        "check",
        "validate a catalog and print its ladder",
        "Validate a catalog file and print its ladder: for each type, the thresholds in order with their keys\n"
        "and names. Exit status 0 when it is valid, 1 when it is not (the reason in one line), 2 when the file\n"
        "cannot be read.",
        "milestones catalog check my-catalog.toml",
        "milestones catalog check src/milestones/catalog.toml",
    )
    check.add_argument("file", type=Path, help="the catalog file (TOML) to check")
    check.set_defaults(run=run_catalog_check)


def run_catalog_check(args: argparse.Namespace) -> int:
    path: Path = args.file
    if path.is_dir():
        raise CommandError(f"{path}: is a directory; give a catalog file (TOML)")
    try:
        definitions = load_catalog(path)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: is not UTF-8 text, so not a catalog", REJECTED) from None
    except OSError as exc:
        raise CommandError(f"{path}: cannot be read ({exc.strerror})") from None
    except CatalogError as exc:
        raise CommandError(f"invalid catalog: {one_line(str(exc))}", REJECTED) from None
    print(f"{path}: a valid catalog of {len(definitions)} milestones")
    print("\n".join(ladder_lines(definitions)))
    return OK


def ladder_lines(definitions: Iterable[Definition]) -> list[str]:
    """Each type's rungs in the order a mentor reaches them: threshold, key and name."""
    by_type: dict[MetricType, list[Definition]] = {}
    for definition in definitions:
        by_type.setdefault(definition.type, []).append(definition)
    lines = []
    for metric, rungs in by_type.items():
        lines.append(f"{metric.value}:")
        ordered = sorted(rungs, key=lambda d: (d.threshold, d.position))
        width = max(len(f"{d.threshold.normalize():,f}") for d in ordered)
        key_width = max(len(d.key) for d in ordered)
        lines.extend(f"  {d.threshold.normalize():>{width},f}  {d.key:<{key_width}}  {d.name}" for d in ordered)
    return lines


# --- demo ----------------------------------------------------------------------------------------------------


def add_demo(commands: Any) -> None:
    demo = _command(
        commands,
        "demo",
        "load a small demo data set (three dozen mentors over three years)",
        f"Load {len(DEMO_MENTORS)} demo mentors (ids demo_ada, demo_grace, ...) with summaries for the last three\n"
        "calendar years into the configured database, through the same path as `detect`. The data is made\n"
        "by code and the same on every run, so loading it again changes nothing.",
        "milestones demo",
        "milestones demo && milestones serve   # then: curl localhost:8000/api/v1/milestones/demo_ada/in-progress",
        "milestones export --mentor demo_grace",
    )
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    settings = _settings()
    catalog = _catalog(settings)
    _migrated(settings)
    now = utc_now()
    last_year = now.year - 1
    refused: list[Rejected] = []

    async def load(repository: MilestoneRepository) -> BulkReport:
        return await detect_lines(demo_summaries(last_year), repository, catalog, now, refused.append)

    report = asyncio.run(_with_repository(settings, load))
    if refused:  # a period overlapping one stored before under a demo mentor's id
        first = refused[0]
        raise CommandError(
            f"{report.rejected} demo summaries were refused, first: {first.errors[0][0]}: {first.errors[0][1]}",
            REJECTED,
        )
    loaded = "loaded" if report.periods_written else "already loaded, nothing changed"
    print(
        f"demo {loaded}: {len(DEMO_MENTORS)} mentors, {report.summaries} summaries for {last_year - 2}-{last_year}, "
        f"{report.milestones_achieved} milestones newly achieved, into {redacted(settings.database_url)}"
    )
    print("try:")
    print("  milestones export --mentor demo_ada")
    print("  milestones serve   # and then")
    print("  curl -s localhost:8000/api/v1/milestones/demo_ada/in-progress")
    print("  curl -s 'localhost:8000/api/v1/milestones?status=achieved&limit=5'")
    return OK


# --- keys ----------------------------------------------------------------------------------------------------


def add_key_commands(commands: Any) -> None:
    keys = _command(
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
    settings = _settings()
    catalog = _catalog(settings)
    _migrated(settings)

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


# --- page-link -----------------------------------------------------------------------------------------------


def add_page_link(commands: Any) -> None:
    link = _command(
        commands,
        "page-link",
        "print a signed, expiring link to a mentor's page (for when reads need a key)",
        "Print a link that opens a mentor's page, card and card image until it expires, signed with\n"
        "MILESTONES_PAGE_LINK_SECRET. Without MILESTONES_READ_REQUIRES_KEY the pages need no link.",
        "milestones page-link mentor_001 --ttl 7d",
        "milestones page-link mentor_001 --ttl 12h --base-url https://milestones.example.org",
    )
    link.add_argument("mentor", type=_mentor_id, help="the mentor's id")
    link.add_argument("--ttl", type=_ttl, default="7d", help="how long it works: 30m, 12h, 7d, 2w (default 7d)")
    link.add_argument(
        "--base-url", help="where the service is reached (default http://MILESTONES_HOST:MILESTONES_PORT)"
    )
    link.set_defaults(run=run_page_link)


def run_page_link(args: argparse.Namespace) -> int:
    settings = _settings()
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


async def stored_keys_exist(settings: Settings) -> bool:
    repository = await open_repository(settings)
    try:
        return bool(await repository.access_keys())
    finally:
        await repository.close()


# --- shared --------------------------------------------------------------------------------------------------


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise CommandError(f"invalid configuration: {configuration_errors(exc)}") from None


def configuration_errors(exc: ValidationError) -> str:
    """Each bad setting as its environment variable and the reason, on one line; never the value given, which
    may be a key or a password."""
    return "; ".join(
        f"MILESTONES_{'_'.join(str(part) for part in error['loc'][:1]).upper()}: "
        f"{error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors()
    )


def _catalog(settings: Settings) -> tuple[Definition, ...]:
    try:
        return load_catalog(settings.catalog_path)
    except (CatalogError, OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"invalid catalog: {one_line(str(exc))}") from None


def _migrate(settings: Settings) -> None:
    try:
        migrate(settings)
    except Exception as exc:  # SQLAlchemy's, asyncpg's or the OS's: the database cannot be reached or written
        cause = exc.__cause__ or exc
        raise CommandError(
            f"the database {redacted(settings.database_url)} cannot be migrated: {type(cause).__name__}: "
            f"{one_line(str(cause).split(chr(10))[0])}"
        ) from None


def _migrated(settings: Settings) -> None:
    if settings.migrate_on_start:
        _migrate(settings)


async def _with_repository(settings: Settings, work: Callable[[MilestoneRepository], Any]) -> Any:
    async with _repository(settings) as repository:
        return await work(repository)


@asynccontextmanager
async def _repository(settings: Settings) -> AsyncIterator[MilestoneRepository]:
    repository = await open_repository(settings, batch_job=True)
    try:
        yield repository
    finally:
        await repository.close()


def one_line(text: str) -> str:
    return " ".join(text.split())


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"must be a number of seconds from 0 to 86400, got {text!r}")
    return value


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {text!r}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return int(text)


def _mentor_id(text: str) -> str:
    if not is_mentor_id(text):
        raise argparse.ArgumentTypeError(f"{MENTOR_ID_RULE}, got {text!r}")
    return text


def redacted(url: str) -> str:
    """The URL without its password, for printing."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
