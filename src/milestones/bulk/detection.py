"""Bulk detection: streams numbered summaries (POST bodies) through detection into storage, in batches."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import gc
import multiprocessing
import operator
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple, TypeVar

import msgspec
from msgspec import UNSET

from milestones.catalog import CatalogVersion
from milestones.contract import (
    MalformedBody,
    RecordSummaryIn,
    RequestInvalid,
    cannot_repeat_a_key,
    decode_strict,
    decode_summary,
    exact,
)
from milestones.domain import ID_SEPARATOR, Definition, LostThreshold, Status, future_start
from milestones.domain.changes import COMMAND_LINE, Change
from milestones.domain.rows import MilestoneRow, PeriodRow, StoredRows, encode_time, period_to_row, to_centi
from milestones.domain.rules import RuleCatalog, record_summaries
from milestones.ops import traces
from milestones.storage import MilestoneRepository
from milestones.storage.base import PackedRows
from milestones.storage.write_path import prepared

# A batch's valid lines as period rows, with their line numbers.
Lines = list[tuple[int, PeriodRow]]
# Numbered lines as read, before decoding.
RawBatch = list[tuple[int, bytes]]
T = TypeVar("T")
_IN_PROGRESS = Status.IN_PROGRESS.value
_STATUS = operator.itemgetter(MilestoneRow._fields.index("status"))


class Rejected(NamedTuple):
    """A line that was not stored: its number, its text as read, and each reason as (field, reason) in the
    plain words of the API's errors."""

    line: int
    text: bytes
    errors: tuple[tuple[str, str], ...]


Reject = Callable[[Rejected], None]


@dataclass(slots=True)
class BulkReport:
    """What a bulk run did; `milestones detect` prints it as its summary (and, with --json, as JSON)."""

    lines: int = 0  # non-blank lines read (summaries and rejected lines)
    summaries: int = 0
    rejected: int = 0
    mentors_changed: int = 0  # counted once per batch that changed them
    periods_written: int = 0
    milestones_written: int = 0
    milestones_achieved: int = 0  # written as achieved and not achieved before
    milestones_in_progress: int = 0  # in-progress milestones created or moved
    milestones_deleted: int = 0
    seconds: float = 0.0


async def detect_lines(
    lines: Iterable[bytes],
    repository: MilestoneRepository,
    catalog: Sequence[Definition] | CatalogVersion,
    now: datetime,
    reject: Reject,
    batch_size: int = 5000,
    progress: Callable[[BulkReport], None] | None = None,
    *,
    notify: bool = True,
    on_lost_threshold: LostThreshold = LostThreshold.KEEP,
) -> BulkReport:
    """detect_numbered on lines numbered from 1, as a JSON Lines file's are."""
    return await detect_numbered(
        enumerate(lines, start=1),
        repository,
        catalog,
        now,
        reject,
        batch_size,
        progress,
        notify=notify,
        on_lost_threshold=on_lost_threshold,
    )


async def detect_numbered(
    lines: Iterable[tuple[int, bytes]],
    repository: MilestoneRepository,
    catalog: Sequence[Definition] | CatalogVersion,
    now: datetime,
    reject: Reject,
    batch_size: int = 5000,
    progress: Callable[[BulkReport], None] | None = None,
    *,
    notify: bool = True,
    on_lost_threshold: LostThreshold = LostThreshold.KEEP,
) -> BulkReport:
    """Store each numbered line's summary (the POST body shape) and re-evaluate its mentor, as POST would.

    Lines are validated like POST bodies; a bad line is skipped and reported through `reject`, in line
    order (each batch's rejected lines once the batch is written). Each batch commits on its own, so a
    large file never builds one huge transaction. Each batch is one change
    (`domain.rules.record_summaries`), applied by the repository's one write path. `progress` is called
    with the report so far after each batch. `notify=False` (`detect --no-notify`) records the run's events as
    not to be pushed. `on_lost_threshold` (MILESTONES_ON_LOST_THRESHOLD) decides a correction's lost thresholds
    as POST does.

    The stages overlap: while this process writes one batch, a second process (when there is a second
    core) detects the next, on its mentors' rows as read before that write, and decodes the one after
    (unless this process is the one waiting, see `waited`).
    A batch whose rows changed after they were read (the batch before shared a mentor) is detected again
    inside its transaction, so the outcome is that of applying the lines in order.

    `catalog` is the stored version the run decides under (the command passes the latest); a batch written
    after a newer version was published is refused (`CatalogMoved`), and the run stops there: running the same
    input again continues under the new version.
    """
    report = BulkReport()
    started = time.perf_counter()
    if isinstance(catalog, CatalogVersion):
        rungs = RuleCatalog(catalog.definitions, catalog.version, on_lost_threshold)
    else:
        rungs = RuleCatalog(catalog, on_lost_threshold=on_lost_threshold)
    now_text = encode_time(now)
    decoding: deque[tuple[RawBatch, Future[DecodedBatch]]] = deque()
    detecting: _Detecting | None = None
    # Whether this process last had to wait for a detection. Then it decodes the next batch itself: on a
    # re-run there is little to write and the detecting process has the most to do; on a first run writing
    # is the longer stage and the other process decodes.
    waited = False

    async def detect(raw: RawBatch, decoding_batch: Future[DecodedBatch]) -> None:
        """Read a decoded batch's rows and start detecting it; meanwhile, write the batch before."""
        nonlocal detecting, waited
        decoded = await asyncio.wrap_future(decoding_batch)
        seen = await repository.read_rows(decoded.mentor_ids)
        detected = worker.run(detect_packed, decoded.lines, seen, rungs, now_text, notify, decoded.names)
        started_detecting = _Detecting(raw, decoded, seen, detected)
        if detecting is not None:
            waited = not detecting.detected.done()
            await _write_batch(detecting)
            gc.collect()  # the written batch's rows are garbage now (see collected_per_batch)
        detecting = started_detecting

    async def _write_batch(batch: _Detecting) -> None:
        # One span per batch: its writing (and any detecting again) under it; detection ran in the other process.
        with traces.span("detect batch", {"milestones.lines": len(batch.raw)}):
            await _write(batch, repository, rungs, now_text, reject, report, notify)
        if progress is not None:
            progress(report)

    with Worker() as worker, collected_per_batch():
        for raw in _raw_batches(lines, batch_size):
            decoding.append((raw, worker.run(decode_lines, raw, now.date(), here=waited)))
            if len(decoding) > 1:  # one batch decodes ahead
                await detect(*decoding.popleft())
        while decoding:
            await detect(*decoding.popleft())
        if detecting is not None:
            await _write_batch(detecting)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """A batch of lines, decoded. Its rows stay MessagePack between the processes: the detecting process
    needs them, this one only its mentors (and the rows themselves on the rare batch detected again)."""

    mentor_ids: list[str]
    lines: bytes  # Lines
    valid: int
    refused: list[Rejected]
    # Mentors' display names sent with the lines, the latest line's for each.
    names: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Detecting:
    """A batch whose detection is under way, with its lines as read and the rows it is detected on."""

    raw: RawBatch
    decoded: DecodedBatch
    seen: PackedRows
    detected: Future[Detected]


class Worker:
    """Runs the CPU-bound stages (decoding, detection) in a second process from the second call on, if
    there is a core for it; before that, and on one core, in this process."""

    def __init__(self) -> None:
        self._calls = 0
        self._pool: Executor | None = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self, function: Callable[..., T], *args: Any, here: bool = False) -> Future[T]:
        """Start `function(*args)`; `here` runs it in this process, at once."""
        self._calls += 1
        if self._pool is None and self._calls > 1 and (os.cpu_count() or 1) > 1:
            # spawn, not fork: this process may have threads, which fork does not copy safely.
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker
            )
        if here or self._pool is None:
            done: Future[T] = Future()
            done.set_result(function(*args))
            return done
        # One process, so calls run in the order they were made.
        return self._pool.submit(_collected, function, *args)


def _start_worker() -> None:
    """Set up the worker process: garbage collection once per call, not during it, and Ctrl-C left to the
    main process.

    A call builds hundreds of thousands of tuples, dicts and lists, none of them in a cycle; the automatic
    collector would walk them again and again as they grow (measured: a sixth of the worker's time). What
    is set aside at start (the modules) is frozen out of later collections.
    """
    gc.disable()
    gc.freeze()
    # Ctrl-C reaches every process of the terminal's group: the main process stops the run and says what was
    # committed; this one is shut down by it, rather than printing a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _collected(function: Callable[..., T], *args: Any) -> T:
    try:
        return function(*args)
    finally:
        gc.collect()  # anything cyclic a call left behind; cheap once its rows are gone


@contextlib.contextmanager
def collected_per_batch() -> Iterator[None]:
    """Garbage collection in this process once per batch written, not during it.

    A batch's rows are named tuples, which the collector keeps tracking (it stops tracking only plain
    tuples of plain values), so automatic collections would walk millions of them again and again:
    measured, decoding a batch's change took twice as long. Objects from before the run are frozen out.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


async def _write(
    detecting: _Detecting,
    repository: MilestoneRepository,
    rungs: RuleCatalog,
    now: str,
    reject: Reject,
    report: BulkReport,
    notify: bool,
) -> None:
    decoded = detecting.decoded
    encoded, achieved, in_progress = await asyncio.wrap_future(detecting.detected)

    def again(stored: StoredRows) -> Change:
        nonlocal achieved, in_progress
        change = record_summaries(
            _LINES.decode(decoded.lines), stored, rungs, now, actor=COMMAND_LINE, names=decoded.names
        )
        change.notify = notify
        achieved, in_progress = tally(change)
        return change

    change = (
        await repository.change(decoded.mentor_ids, again, seen=detecting.seen, decided=_CHANGES.decode(encoded))
    ).change
    refused = decoded.refused
    if change.refused:
        raw = detecting.raw
        overlapping = [
            Rejected(number, raw[bisect.bisect_left(raw, (number,))][1], (("period", message),))
            for number, message in change.refused
        ]
        refused = sorted([*refused, *overlapping])
    for rejected in refused:
        reject(rejected)
    report.lines += len(detecting.raw)
    report.summaries += decoded.valid - len(change.refused)
    report.rejected += len(refused)
    report.milestones_achieved += achieved
    report.milestones_in_progress += in_progress
    changed = {row.mentor_id for row in change.periods_written} | {row.mentor_id for row in change.milestones_written}
    changed |= {milestone_id.partition(ID_SEPARATOR)[0] for milestone_id in change.milestones_removed}
    report.mentors_changed += len(changed)
    report.periods_written += len(change.periods_written)
    report.milestones_written += len(change.milestones_written)
    report.milestones_deleted += len(change.milestones_removed)


# What crosses between the processes besides strings: MessagePack, a fraction of pickle's cost for rows.
_LINES = msgspec.msgpack.Decoder(Lines)
_CHANGES = msgspec.msgpack.Decoder(Change)
_encode = msgspec.msgpack.Encoder().encode


# A batch's change as MessagePack, with the milestones it newly achieves and the in-progress ones it writes.
Detected = tuple[bytes, int, int]


def detect_packed(
    lines: bytes,
    stored: PackedRows,
    catalog: RuleCatalog,
    now: str,
    notify: bool = True,
    names: dict[str, str] | None = None,
) -> Detected:
    """record_summaries as the detecting process runs it: lines and change as MessagePack, rows as the
    database packed them; the change's tally and the rows of its steps (history) are worked out here too,
    off the writing process."""
    rows = stored.unpack()
    change = record_summaries(_LINES.decode(lines), rows, catalog, now, actor=COMMAND_LINE, names=names)
    change.notify = notify
    return (_encode(prepared(change, rows)), *tally(change))


def tally(change: Change) -> tuple[int, int]:
    """The milestones a change newly achieves (read from its transitions), and the in-progress ones it
    creates or moves."""
    written = change.milestones_written
    in_progress = list(map(_STATUS, written)).count(_IN_PROGRESS)  # in C: a batch writes tens of thousands of rows
    return len(change.newly_achieved()), in_progress


def _raw_batches(lines: Iterable[tuple[int, bytes]], batch_size: int) -> Iterator[RawBatch]:
    """The non-blank numbered lines, batch_size at a time."""
    batch: RawBatch = []
    for number, line in lines:
        if line.strip():
            batch.append((number, line))
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def decode_lines(raw: RawBatch, today: date) -> DecodedBatch:
    """Decode numbered lines as POST bodies, as strictly as POST: period rows, and the lines refused with why
    (a period that starts after `today` too, as POST refuses it)."""
    rows: Lines = []
    refused: list[Rejected] = []
    names: dict[str, str] = {}
    for number, line in raw:
        try:
            # As POST does: lines that might repeat a key get the strict decoding, which refuses them.
            summary = decode_summary(line)
            if not cannot_repeat_a_key(line, summary):
                summary = decode_strict(line, RecordSummaryIn)
        except (RequestInvalid, msgspec.ValidationError, msgspec.DecodeError):
            refused.append(Rejected(number, line, reasons(line)))
            continue
        future = future_start(summary.period.start_date, today)
        if future is not None:
            refused.append(Rejected(number, line, (("period.start_date", future),)))
            continue
        rows.append((number, _period_row(summary)))
        if summary.mentor_display_name is not UNSET:
            names[summary.mentor_id] = summary.display_name or ""
    mentor_ids = list(dict.fromkeys(row.mentor_id for _, row in rows))
    return DecodedBatch(mentor_ids, _encode(rows), len(rows), refused, names)


def reasons(line: bytes) -> tuple[tuple[str, str], ...]:
    """Why a line is not a valid summary, field by field, as the API words it (decode_strict's errors, which
    name every bad field; the fast decoder stops at the first)."""
    try:
        decode_strict(line, RecordSummaryIn)
    except MalformedBody as exc:
        # A line is one document, so the parser's line is always 1: the column is the one in the file's line.
        return (("body", exc.reason if exc.position is None else f"{exc.reason} at column {exc.position[1]}"),)
    except RequestInvalid as exc:
        return tuple((e.field, e.message) for e in exc.errors)
    return (("body", "is not a valid summary"),)


def _period_row(summary: RecordSummaryIn) -> PeriodRow:
    if summary.contacts is not UNSET or summary.activities is not UNSET:
        return period_to_row(summary.mentor_id, summary.to_period())
    period, values = summary.period, summary.summary
    return PeriodRow(
        summary.mentor_id,
        period.start_date.isoformat(),
        period.end_date.isoformat(),
        period.year,
        to_centi(exact(values.total_hours)),
        int(values.unique_contacts_helped),
        int(values.activity_count),
    )
