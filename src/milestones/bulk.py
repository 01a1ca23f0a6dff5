"""Bulk detection: streams a JSON Lines file of summaries through detection into storage, in batches."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from milestones.contract import (
    RecordSummaryIn,
    RequestInvalid,
    cannot_repeat_a_key,
    decode_strict,
    decode_summary,
    exact,
)
from milestones.domain import ID_SEPARATOR, Definition
from milestones.domain.changes import COMMAND_LINE, Change
from milestones.domain.rows import PeriodRow, StoredRows, encode_time, to_centi
from milestones.domain.rules import RuleCatalog, record_summaries
from milestones.storage import MilestoneRepository
from milestones.storage.base import PackedRows

Reject = Callable[[int, str], None]
# A batch's valid lines as period rows, with their line numbers.
Lines = list[tuple[int, PeriodRow]]
T = TypeVar("T")


@dataclass(slots=True)
class BulkReport:
    """What a bulk run did; printed as JSON by `milestones detect`."""

    summaries: int = 0
    rejected: int = 0
    mentors_changed: int = 0
    periods_written: int = 0
    milestones_written: int = 0
    milestones_deleted: int = 0
    seconds: float = 0.0


async def detect_lines(
    lines: Iterable[bytes],
    repository: MilestoneRepository,
    catalog: Sequence[Definition],
    now: datetime,
    reject: Reject,
    batch_size: int = 5000,
) -> BulkReport:
    """Store each line's summary (the POST body shape) and re-evaluate its mentor, as POST would.

    Lines are validated like POST bodies; a bad line is reported through `reject` and skipped. Each batch
    commits on its own, so a large file never builds one huge transaction. Each batch is one change
    (`domain.rules.record_summaries`), applied by the repository's one write path.

    The stages overlap: while this process writes one batch, a second process (when there is a second
    core) detects the next, on its mentors' rows as read before that write, and decodes the one after
    (unless this process is the one waiting, see `waited`).
    A batch whose rows changed after they were read (the batch before shared a mentor) is detected again
    inside its transaction, so the outcome is that of applying the lines in order.
    """
    report = BulkReport()
    started = time.perf_counter()
    rungs = RuleCatalog(catalog)
    now_text = encode_time(now)
    decoding: deque[Future[DecodedBatch]] = deque()
    detecting: _Detecting | None = None
    # Whether this process last had to wait for a detection. Then it decodes the next batch itself: on a
    # re-run there is little to write and the detecting process has the most to do; on a first run writing
    # is the longer stage and the other process decodes.
    waited = False

    async def detect(decoding_batch: Future[DecodedBatch]) -> None:
        """Read a decoded batch's rows and start detecting it; meanwhile, write the batch before."""
        nonlocal detecting, waited
        decoded = await asyncio.wrap_future(decoding_batch)
        for number, message in decoded.refused:
            reject(number, message)
        report.rejected += len(decoded.refused)
        seen = await repository.read_rows(decoded.mentor_ids)
        started_detecting = _Detecting(decoded, seen, worker.run(detect_packed, decoded.lines, seen, rungs, now_text))
        if detecting is not None:
            waited = not detecting.detected.done()
            await _write(detecting, repository, rungs, now_text, reject, report)
            gc.collect()  # the written batch's rows are garbage now (see _collected_per_batch)
        detecting = started_detecting

    with _Worker() as worker, _collected_per_batch():
        for raw in _raw_batches(lines, batch_size):
            decoding.append(worker.run(decode_lines, raw, here=waited))
            if len(decoding) > 1:  # one batch decodes ahead
                await detect(decoding.popleft())
        while decoding:
            await detect(decoding.popleft())
        if detecting is not None:
            await _write(detecting, repository, rungs, now_text, reject, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """A batch of lines, decoded. Its rows stay MessagePack between the processes: the detecting process
    needs them, this one only its mentors (and the rows themselves on the rare batch detected again)."""

    mentor_ids: list[str]
    lines: bytes  # Lines
    valid: int
    refused: list[tuple[int, str]]


@dataclass(frozen=True, slots=True)
class _Detecting:
    """A batch whose detection is under way, with the rows it is detected on."""

    decoded: DecodedBatch
    seen: PackedRows
    detected: Future[bytes]  # a Change, from detect_packed


class _Worker:
    """Runs the CPU-bound stages (decoding, detection) in a second process from the second call on, if
    there is a core for it; before that, and on one core, in this process."""

    def __init__(self) -> None:
        self._calls = 0
        self._pool: Executor | None = None

    def __enter__(self) -> _Worker:
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
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_collect_between_calls
            )
        if here or self._pool is None:
            done: Future[T] = Future()
            done.set_result(function(*args))
            return done
        # One process, so calls run in the order they were made.
        return self._pool.submit(_collected, function, *args)


def _collect_between_calls() -> None:
    """Set up the worker process's garbage collection: once per call, not during it.

    A call builds hundreds of thousands of tuples, dicts and lists, none of them in a cycle; the automatic
    collector would walk them again and again as they grow (measured: a sixth of the worker's time). What
    is set aside at start (the modules) is frozen out of later collections.
    """
    gc.disable()
    gc.freeze()


def _collected(function: Callable[..., T], *args: Any) -> T:
    try:
        return function(*args)
    finally:
        gc.collect()  # anything cyclic a call left behind; cheap once its rows are gone


@contextlib.contextmanager
def _collected_per_batch() -> Iterator[None]:
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
) -> None:
    decoded = detecting.decoded

    def again(stored: StoredRows) -> Change:
        return record_summaries(_LINES.decode(decoded.lines), stored, rungs, now, actor=COMMAND_LINE)

    encoded: bytes = await asyncio.wrap_future(detecting.detected)
    change = (
        await repository.change(decoded.mentor_ids, again, seen=detecting.seen, decided=_CHANGES.decode(encoded))
    ).change
    for number, message in change.refused:
        reject(number, message)
    report.summaries += decoded.valid - len(change.refused)
    report.rejected += len(change.refused)
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


def detect_packed(lines: bytes, stored: PackedRows, catalog: RuleCatalog, now: str) -> bytes:
    """record_summaries as the detecting process runs it: lines and change as MessagePack, rows as the
    database packed them."""
    return _encode(record_summaries(_LINES.decode(lines), stored.unpack(), catalog, now, actor=COMMAND_LINE))


def _raw_batches(lines: Iterable[bytes], batch_size: int) -> Iterator[list[tuple[int, bytes]]]:
    """The non-blank lines with their line numbers, batch_size at a time."""
    batch: list[tuple[int, bytes]] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            batch.append((number, line))
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def decode_lines(raw: list[tuple[int, bytes]]) -> DecodedBatch:
    """Decode numbered lines as POST bodies, as strictly as POST: period rows, and the lines refused with why."""
    rows: Lines = []
    refused: list[tuple[int, str]] = []
    for number, line in raw:
        try:
            # As POST does: lines that might repeat a key get the strict decoding, which refuses them.
            summary = decode_summary(line) if cannot_repeat_a_key(line) else decode_strict(line, RecordSummaryIn)
        except RequestInvalid as exc:
            refused.append((number, exc.detail))
            continue
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            refused.append((number, str(exc)))
            continue
        rows.append((number, _period_row(summary)))
    mentor_ids = list(dict.fromkeys(row.mentor_id for _, row in rows))
    return DecodedBatch(mentor_ids, _encode(rows), len(rows), refused)


def _period_row(summary: RecordSummaryIn) -> PeriodRow:
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
