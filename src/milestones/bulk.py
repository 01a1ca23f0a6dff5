"""Bulk detection: streams a JSON Lines file of summaries through detection into storage, in batches."""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import msgspec

from milestones.domain import ID_SEPARATOR, Definition
from milestones.row_detection import MENTOR, PeriodRow, RowCatalog, RowsDiff, StoredRows, detect_batch
from milestones.storage import MilestoneRepository
from milestones.storage.base import encode_time, to_centi
from milestones.web.schemas import RecordSummaryIn, exact

Reject = Callable[[int, str], None]
Lines = list[tuple[int, PeriodRow]]


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

    Detection overlaps the writes: while this process writes one batch, a second process (from the second
    batch on, when there is a second core) detects the next, on its mentors' rows as read before the write.
    A batch whose rows changed after they were read (the batch before shared a mentor) is detected again
    inside its transaction, so the outcome is that of applying the lines in order.
    """
    report = BulkReport()
    started = time.perf_counter()
    rungs = RowCatalog(catalog)
    now_text = encode_time(now)
    detecting: tuple[Lines, list[str], StoredRows, Awaitable[RowsDiff]] | None = None
    with _Detector() as detector:
        for batch in _batches(lines, batch_size, reject, report):
            mentor_ids = list(dict.fromkeys(row[0] for _, row in batch))
            seen = await repository.read_rows(mentor_ids)
            detected = detector.detect(batch, seen, rungs, now_text)
            if detecting is not None:
                await _write(detecting, repository, rungs, now_text, reject, report)
            detecting = (batch, mentor_ids, seen, detected)
        if detecting is not None:
            await _write(detecting, repository, rungs, now_text, reject, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


class _Detector:
    """Runs `detect_batch` in a second process once there is more than one batch, if there is a core for it."""

    def __init__(self) -> None:
        self._batches = 0
        self._pool: Executor | None = None

    def __enter__(self) -> _Detector:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def detect(self, lines: Lines, seen: StoredRows, rungs: RowCatalog, now: str) -> Awaitable[RowsDiff]:
        self._batches += 1
        if self._pool is None and self._batches > 1 and (os.cpu_count() or 1) > 1:
            # spawn, not fork: this process has threads (the SQLite writer), which fork does not copy safely.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        if self._pool is None:
            done: asyncio.Future[RowsDiff] = asyncio.get_running_loop().create_future()
            done.set_result(detect_batch(lines, seen, rungs, now))
            return done
        return asyncio.get_running_loop().run_in_executor(self._pool, detect_batch, lines, seen, rungs, now)


async def _write(
    detecting: tuple[Lines, list[str], StoredRows, Awaitable[RowsDiff]],
    repository: MilestoneRepository,
    rungs: RowCatalog,
    now: str,
    reject: Reject,
    report: BulkReport,
) -> None:
    batch, mentor_ids, seen, detected = detecting
    again = functools.partial(detect_batch, batch, catalog=rungs, now=now)
    diff = await repository.write_rows(mentor_ids, seen, await detected, again)
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


def _batches(lines: Iterable[bytes], batch_size: int, reject: Reject, report: BulkReport) -> Iterator[Lines]:
    """The valid lines as period rows with their line numbers, batch_size at a time."""
    # msgspec's strict typed decoding: fast, and it refuses "47" for a number as POST does.
    decoder = msgspec.json.Decoder(RecordSummaryIn)
    batch: Lines = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            summary = decoder.decode(line)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            reject(number, str(exc))
            report.rejected += 1
            continue
        batch.append((number, _period_row(summary)))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


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
