"""Bulk detection: streams a JSON Lines file of summaries through detection into storage, in batches."""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from milestones.domain import ID_SEPARATOR, Definition
from milestones.row_detection import MENTOR, PeriodRow, RowCatalog, RowsDiff, StoredRows, detect_batch
from milestones.storage import MilestoneRepository
from milestones.storage.base import encode_time, to_centi
from milestones.web.schemas import (
    RecordSummaryIn,
    RequestInvalid,
    cannot_repeat_a_key,
    decode_strict,
    decode_summary,
    exact,
)

Reject = Callable[[int, str], None]
Lines = list[tuple[int, PeriodRow]]
# A batch's valid lines as period rows, and the refused lines with the reason.
Decoded = tuple[Lines, list[tuple[int, str]]]
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
    commits on its own, so a large file never builds one huge transaction. Detection runs on rows
    (`row_detection`), which gives what `domain.detect_milestones` gives at a fraction of the cost.

    The stages overlap: while this process writes one batch, a second process (when there is a second
    core) detects the next, on its mentors' rows as read before that write, and decodes the one after.
    A batch whose rows changed after they were read (the batch before shared a mentor) is detected again
    inside its transaction, so the outcome is that of applying the lines in order.
    """
    report = BulkReport()
    started = time.perf_counter()
    rungs = RowCatalog(catalog)
    now_text = encode_time(now)
    decoding: deque[Awaitable[Decoded]] = deque()
    detecting: _Detecting | None = None

    async def detect(decoded: Awaitable[Decoded]) -> None:
        """Read a decoded batch's rows and start detecting it; meanwhile, write the batch before."""
        nonlocal detecting
        batch, refused = await decoded
        for number, message in refused:
            reject(number, message)
        report.rejected += len(refused)
        mentor_ids = list(dict.fromkeys(row[0] for _, row in batch))
        seen = await repository.read_rows(mentor_ids)
        started_detecting = _Detecting(batch, mentor_ids, seen, worker.run(detect_batch, batch, seen, rungs, now_text))
        if detecting is not None:
            await _write(detecting, repository, rungs, now_text, reject, report)
        detecting = started_detecting

    with _Worker() as worker:
        for raw in _raw_batches(lines, batch_size):
            decoding.append(worker.run(decode_lines, raw))
            if len(decoding) > 1:  # one batch decodes ahead
                await detect(decoding.popleft())
        while decoding:
            await detect(decoding.popleft())
        if detecting is not None:
            await _write(detecting, repository, rungs, now_text, reject, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


@dataclass(frozen=True, slots=True)
class _Detecting:
    """A batch whose detection is under way, with the rows it is detected on."""

    batch: Lines
    mentor_ids: list[str]
    seen: StoredRows
    detected: Awaitable[RowsDiff]


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

    def run(self, function: Callable[..., T], *args: Any) -> Awaitable[T]:
        self._calls += 1
        if self._pool is None and self._calls > 1 and (os.cpu_count() or 1) > 1:
            # spawn, not fork: this process may have threads, which fork does not copy safely.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        if self._pool is None:
            done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            done.set_result(function(*args))
            return done
        # One process, so calls run in the order they were made.
        return asyncio.get_running_loop().run_in_executor(self._pool, function, *args)


async def _write(
    detecting: _Detecting,
    repository: MilestoneRepository,
    rungs: RowCatalog,
    now: str,
    reject: Reject,
    report: BulkReport,
) -> None:
    batch = detecting.batch
    again = functools.partial(detect_batch, batch, catalog=rungs, now=now)
    diff = await repository.write_rows(detecting.mentor_ids, detecting.seen, await detecting.detected, again)
    for number, message in diff.rejected:
        reject(number, message)
    report.summaries += len(batch) - len(diff.rejected)
    report.rejected += len(diff.rejected)
    changed = {row[0] for row in diff.upsert_periods} | {row[MENTOR] for row in diff.upsert_milestones}
    changed |= {milestone_id.partition(ID_SEPARATOR)[0] for milestone_id in diff.delete_milestones}
    report.mentors_changed += len(changed)
    report.periods_written += len(diff.upsert_periods)
    report.milestones_written += len(diff.upsert_milestones)
    report.milestones_deleted += len(diff.delete_milestones)


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


def decode_lines(raw: list[tuple[int, bytes]]) -> Decoded:
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
    return rows, refused


def _period_row(summary: RecordSummaryIn) -> PeriodRow:
    period, values = summary.period, summary.summary
    return (
        summary.mentor_id,
        period.start_date.isoformat(),
        period.end_date.isoformat(),
        period.year,
        to_centi(exact(values.total_hours)),
        int(values.unique_contacts_helped),
        int(values.activity_count),
    )
