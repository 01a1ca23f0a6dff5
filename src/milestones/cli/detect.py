"""`milestones detect`: bulk detection from a JSON Lines or CSV file, with its progress, rejects and summary."""

from __future__ import annotations

import argparse
import asyncio
import codecs
import csv
import dataclasses
import io
import json
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from milestones.bulk.detection import BulkReport, Rejected, detect_lines, detect_numbered
from milestones.bulk.formats import (
    SUMMARY_COLUMNS,
    TEXT_CHECK_BYTES,
    FileNotUsable,
    csv_bodies,
    csv_row_of_body,
    refuse_unless_text,
)
from milestones.cli.arguments import at_least_one, command
from milestones.cli.configuration import read_catalog, read_settings, start_traces
from milestones.cli.database import migrate_if_asked, with_repository
from milestones.cli.output import INTERRUPTED, OK, REJECTED, CommandError, counted
from milestones.errors import CatalogMoved
from milestones.ops import traces
from milestones.service import utc_now
from milestones.storage import MilestoneRepository
from milestones.storage.base import latest_catalog


def add_detect(commands: Any) -> None:
    detect = command(
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
        "--batch-size", type=at_least_one, default=5000, metavar="N", help="summaries per transaction (default 5000)"
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
    detect.add_argument(
        "--no-notify",
        action="store_true",
        help="record the run's events as not to be pushed (a backfill): the feed shows them, webhooks skip them",
    )
    detect.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    detect.set_defaults(run=run_detect)


def run_detect(args: argparse.Namespace) -> int:
    """Bulk detection; the summary on standard output, rejected lines on standard error."""
    settings = read_settings()
    catalog = read_catalog(settings)
    file_format = args.format or ("csv" if args.file.lower().endswith(".csv") else "jsonl")
    for extra in (args.rejects, args.metrics_file):
        if extra is not None and not extra.parent.is_dir():
            raise CommandError(f"{extra}: the folder {extra.parent} does not exist")
    with ExitStack() as stack:
        if start_traces():  # one span per batch; what is pending is exported before the command ends
            stack.callback(traces.stop)
        stream, size = _open_input(args.file, stack)
        shown = _Shown(args.file, size, stack)
        rejects = None if args.rejects is None else _RejectsFile(args.rejects, file_format, stack)

        def reject(rejected: Rejected) -> None:
            shown.rejected(rejected)
            if rejects is not None:
                rejects.write(rejected)

        committed = BulkReport()

        def progress(report: BulkReport) -> None:
            nonlocal committed
            committed = dataclasses.replace(report)  # called once a batch is committed
            shown.progress(report, _position(stream, size))

        migrate_if_asked(settings)
        now = utc_now()

        async def detect(repository: MilestoneRepository) -> BulkReport:
            stored = await latest_catalog(repository, catalog, now)
            if file_format == "csv":
                text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
                bodies = csv_bodies(text)
                return await detect_numbered(
                    bodies,
                    repository,
                    stored,
                    now,
                    reject,
                    args.batch_size,
                    progress,
                    notify=not args.no_notify,
                    on_lost_threshold=settings.on_lost_threshold,
                )
            return await detect_lines(
                stream,
                repository,
                stored,
                now,
                reject,
                args.batch_size,
                progress,
                notify=not args.no_notify,
                on_lost_threshold=settings.on_lost_threshold,
            )

        try:
            report = asyncio.run(with_repository(settings, detect))
        except FileNotUsable as exc:
            raise CommandError(f"{_shown_name(args.file)}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{_shown_name(args.file)}: is not UTF-8 text ({exc.reason})") from None
        except CatalogMoved as exc:
            raise CommandError(
                f"the catalog changed while detecting (version {exc.latest} was published); "
                f"{counted(committed.lines, 'line was', 'lines were')} committed under the one before. Run the same "
                "file again to continue under the new version: what went in already is not done twice"
            ) from None
        except KeyboardInterrupt:
            raise CommandError(
                f"interrupted; {counted(committed.lines, 'line was', 'lines were')} committed before it stopped "
                f"({counted(committed.summaries, 'summary', 'summaries')} stored). Running the same file again "
                "is safe: what went in already changes nothing",
                INTERRUPTED,
            ) from None
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
        f"{counted(report.lines, 'line', 'lines')} read: {counted(report.summaries, 'summary', 'summaries')} "
        f"stored, {counted(report.rejected, 'line', 'lines')} rejected; "
        f"{counted(report.mentors_changed, 'mentor', 'mentors')} changed, "
        f"{counted(report.milestones_achieved, 'milestone', 'milestones')} newly achieved, "
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
