"""Bulk detection: streams a JSON Lines file of summaries through detection into storage, in batches."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

from milestones import domain
from milestones.domain import Definition, MentorState, Period
from milestones.errors import PeriodOverlap
from milestones.storage import MilestoneRepository
from milestones.web.schemas import RecordSummaryIn

Reject = Callable[[int, str], None]


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
    batch_size: int = 2000,
) -> BulkReport:
    """Store each line's summary (the POST body shape) and re-evaluate its mentor, as POST would.

    Lines are validated like POST bodies; a bad line is reported through `reject` and skipped. Each batch
    commits on its own, so a large file never builds one huge transaction.
    """
    report = BulkReport()
    started = time.perf_counter()
    # msgspec's strict typed decoding: fast, and it refuses "47" for a number as POST does.
    decoder = msgspec.json.Decoder(RecordSummaryIn)
    batch: list[tuple[int, str, Period]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            summary = decoder.decode(line)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            reject(number, str(exc))
            report.rejected += 1
            continue
        batch.append((number, summary.mentor_id, summary.to_period()))
        if len(batch) >= batch_size:
            await _store_batch(batch, repository, catalog, now, reject, report)
            batch = []
    if batch:
        await _store_batch(batch, repository, catalog, now, reject, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


async def _store_batch(
    batch: list[tuple[int, str, Period]],
    repository: MilestoneRepository,
    catalog: Sequence[Definition],
    now: datetime,
    reject: Reject,
    report: BulkReport,
) -> None:
    rejected: list[tuple[int, str]] = []

    def change(states: dict[str, MentorState]) -> dict[str, MentorState]:
        rejected.clear()  # the change may run again if the storage retries the transaction
        updated = dict(states)
        for number, mentor_id, period in batch:
            try:
                with_period = domain.record_period(updated[mentor_id], period)
            except PeriodOverlap as exc:
                rejected.append((number, exc.detail))
                continue
            # Line by line, exactly as a POST each: achieved values are the totals when first reached.
            updated[mentor_id] = domain.detect_milestones(with_period, catalog, now)
        return updated

    mentor_ids = list(dict.fromkeys(mentor_id for _, mentor_id, _ in batch))
    diff = await repository.change_mentors(mentor_ids, change)
    for number, message in rejected:
        reject(number, message)
    report.summaries += len(batch) - len(rejected)
    report.rejected += len(rejected)
    changed = {m for m, _ in diff.upsert_periods} | {m.mentor_id for m in diff.upsert_milestones}
    changed |= {m.mentor_id for m in diff.delete_milestones}
    report.mentors_changed += len(changed)
    report.periods_written += len(diff.upsert_periods)
    report.milestones_written += len(diff.upsert_milestones)
    report.milestones_deleted += len(diff.delete_milestones)
