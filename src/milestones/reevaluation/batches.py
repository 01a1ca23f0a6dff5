"""The re-evaluation run: mentors walked in key order, decided in batches in a second process while the batch
before is written (as bulk detection does), or only counted in a dry run."""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from milestones.bulk.detection import Worker, collected_per_batch
from milestones.catalog import CatalogVersion
from milestones.domain import ID_SEPARATOR
from milestones.domain.changes import REVOKED, Change
from milestones.domain.reevaluation import Policy, reevaluate
from milestones.domain.rows import StoredRows, encode_time
from milestones.domain.rules import RuleCatalog
from milestones.storage import MilestoneRepository
from milestones.storage.base import PackedRows
from milestones.storage.write_path import prepared

# How many mentors a dry run names, with what would happen to each.
SAMPLE_SIZE = 10
_ACHIEVED = "achieved"


@dataclass(slots=True)
class ReevaluationReport:
    """What a run did (or, in a dry run, would do); `milestones reevaluate` prints it."""

    version: str
    dry_run: bool
    mentors: int = 0  # mentors decided again
    skipped: int = 0  # mentors already decided under the version (a run before, or a POST since it was published)
    mentors_changed: int = 0
    # Transitions by kind (`domain.changes.TransitionKind` values).
    transitions: dict[str, int] = field(default_factory=dict)
    # Achieved milestones kept under `keep` although the version's threshold is above the mentor's value.
    grandfathered: int = 0
    # Up to SAMPLE_SIZE mentors that change, each with its transitions as "kind key".
    sample: list[tuple[str, list[str]]] = field(default_factory=list)
    seconds: float = 0.0


# A batch decided: the change to write (MessagePack, empty in a dry run), the mentors with stored rows, its
# transitions by kind, the mentors
# it changes, the grandfathered milestones, and the batch's sample.
Decided = tuple[bytes, int, dict[str, int], int, int, list[tuple[str, list[str]]]]
_CHANGES = msgspec.msgpack.Decoder(Change)
_encode = msgspec.msgpack.Encoder().encode


async def reevaluate_stored(
    repository: MilestoneRepository,
    catalog: CatalogVersion,
    now: datetime,
    *,
    policy: Policy = Policy.KEEP,
    mentor_id: str | None = None,
    dry_run: bool = False,
    batch_size: int = 5000,
    notify: bool = False,
    progress: Callable[[ReevaluationReport], None] | None = None,
) -> ReevaluationReport:
    """Decide every stored mentor (or one) again under `catalog` and write what changes, one transaction per batch.

    Mentors are found by their milestone records, in key order. A mentor with a record of `catalog`'s version has
    been decided under it (by a run before, or by a write since it was published) and is skipped, so a run that
    was interrupted continues where it stopped. A dry run writes nothing and counts what would change. A batch
    written after a newer version was published is refused (`CatalogMoved`): the run stops there.
    """
    report = ReevaluationReport(catalog.version, dry_run)
    started = time.perf_counter()
    rungs = RuleCatalog(catalog.definitions, catalog.version)
    now_text = encode_time(now)
    pending: tuple[list[str], PackedRows, Future[Decided]] | None = None

    async def finish(mentor_ids: list[str], seen: PackedRows, decided: Future[Decided]) -> None:
        encoded, found, kinds, changed, grandfathered, sample = await asyncio.wrap_future(decided)
        if not dry_run and encoded:

            def again(stored: StoredRows) -> Change:
                nonlocal kinds, changed, grandfathered, sample
                change = reevaluate(mentor_ids, stored, rungs, now_text, policy=policy, notify=notify)
                kinds, changed, grandfathered, sample = _tally(change, stored, rungs)
                return change

            await repository.change(mentor_ids, again, seen=seen, decided=_CHANGES.decode(encoded))
        report.mentors += found
        report.mentors_changed += changed
        report.grandfathered += grandfathered
        for kind, count in kinds.items():
            report.transitions[kind] = report.transitions.get(kind, 0) + count
        report.sample.extend(sample[: SAMPLE_SIZE - len(report.sample)])
        if progress is not None:
            progress(report)

    with Worker() as worker, collected_per_batch():
        async for mentor_ids, skipped in _mentor_batches(repository, catalog.version, batch_size, mentor_id):
            report.skipped += skipped
            if not mentor_ids:
                continue
            seen = await repository.read_rows(mentor_ids)
            decided = worker.run(decide_packed, mentor_ids, seen, rungs, now_text, policy, notify, dry_run)
            if pending is not None:
                await finish(*pending)
                gc.collect()  # the written batch's rows are garbage now
            pending = (mentor_ids, seen, decided)
        if pending is not None:
            await finish(*pending)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


async def _mentor_batches(
    repository: MilestoneRepository, version: str, batch_size: int, mentor_id: str | None
) -> AsyncIterator[tuple[list[str], int]]:
    """Batches of up to `batch_size` mentors to decide, each with the number of mentors skipped before it.

    One mentor asked for by name is decided whatever its records' versions. Otherwise the milestone records are
    read a page at a time in id order (a mentor's records are one range of it), and a mentor is skipped when one
    of its records carries `version`: detection under a version writes it on every in-progress record it keeps.
    """
    if mentor_id is not None:
        yield [mentor_id], 0
        return
    page = max(batch_size * 4, 1000)
    after = ""
    batch: list[str] = []
    skipped = 0
    current: str | None = None
    decided = False
    while True:
        rows = await repository.milestone_versions(after, page)
        for _, mentor, record_version in rows:
            if mentor != current:
                if current is not None:
                    if decided:
                        skipped += 1
                    else:
                        batch.append(current)
                    if len(batch) >= batch_size:
                        yield batch, skipped
                        batch, skipped = [], 0
                current, decided = mentor, False
            if record_version == version:
                decided = True
        if len(rows) < page:
            break
        after = rows[-1][0]
    if current is not None:
        if decided:
            skipped += 1
        else:
            batch.append(current)
    if batch or skipped:
        yield batch, skipped


def decide_packed(
    mentor_ids: list[str],
    seen: PackedRows,
    catalog: RuleCatalog,
    now: str,
    policy: Policy,
    notify: bool,
    dry_run: bool,
) -> Decided:
    """`domain.reevaluation.reevaluate` as the second process runs it, with the batch's tally worked out there too;
    the change comes back with its history and events rows prepared (nothing, in a dry run)."""
    stored = seen.unpack()
    change = reevaluate(mentor_ids, stored, catalog, now, policy=policy, notify=notify)
    tallied = _tally(change, stored, catalog)
    encoded = b"" if dry_run or not change.writes_anything else _encode(prepared(change, stored))
    found = len({row.mentor_id for row in stored.milestones} | {row.mentor_id for row in stored.periods})
    return (encoded, found, *tallied)


def _tally(
    change: Change, stored: StoredRows, catalog: RuleCatalog
) -> tuple[dict[str, int], int, int, list[tuple[str, list[str]]]]:
    """A batch's transitions by kind, the mentors it changes, the achieved records its version no longer supports
    that stay achieved (all of them under `keep`; under `recompute`, those a person set), and the first SAMPLE_SIZE
    mentors it changes with their transitions."""
    kinds = Counter(transition.kind for step in change.steps for transition in step.transitions)
    changed = {step.mentor_id for step in change.steps}
    thresholds = {rung.key: rung.threshold_centi for rung in catalog.rungs}
    revoked = {t.milestone_id for step in change.steps for t in step.transitions if t.kind == REVOKED}
    grandfathered = sum(
        1
        for row in stored.milestones
        if row.status == _ACHIEVED
        and row.current_centi < thresholds.get(row.definition_key, 0)
        and row.id not in revoked
    )
    sample = [
        (step.mentor_id, [f"{t.kind} {t.milestone_id.partition(ID_SEPARATOR)[2]}" for t in step.transitions])
        for step in change.steps[:SAMPLE_SIZE]
    ]
    return dict(kinds), len(changed), grandfathered, sample
