"""Re-evaluation: the latest catalog version applied to mentors' stored rows, under a policy for old awards."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from milestones.domain.changes import COMMAND_LINE, Actor, Cause, Change, Step
from milestones.domain.model import Status
from milestones.domain.rows import StoredRows
from milestones.domain.rules import Records, RuleCatalog, by_mentor, revoked_row, totals, transitions_between

# The reason a re-evaluation under `recompute` gives an award the latest version's threshold is above.
REVOKED_BY_RECOMPUTE = "threshold raised"


class Policy(StrEnum):
    """What becomes of an achieved milestone whose threshold the new version raised beyond the mentor's value."""

    # It stays achieved, shown with the version it was earned under (grandfathered).
    KEEP = "keep"
    # It is revoked, with the reason REVOKED_BY_RECOMPUTE (what a person set is left as they set it).
    RECOMPUTE = "recompute"


def reevaluate(
    mentor_ids: Sequence[str],
    stored: StoredRows,
    catalog: RuleCatalog,
    now: str,
    *,
    policy: Policy = Policy.KEEP,
    actor: Actor = COMMAND_LINE,
    notify: bool = False,
) -> Change:
    """Detect each mentor's milestones again on their stored periods under `catalog`, as a POST would, with no new
    period: rungs the catalog added are achieved where the stored values reach them (dated as detection dates
    them) or become the next rung in progress; an in-progress record moves to the ladder's new next rung. Achieved
    records stay (under `keep`) with the version they were earned under; under `recompute` those the latest
    version's threshold is now above are revoked. One step per mentor that changed, with the cause `reevaluation`;
    `notify` False records its events as not to be pushed (a backfill floods nobody)."""
    mentors = by_mentor(stored)
    steps: list[Step] = []
    for mentor_id in mentor_ids:
        mentor = mentors.get(mentor_id)
        if mentor is None:
            continue
        before = mentor.records
        transitions = mentor.detect(catalog, now)
        if policy is Policy.RECOMPUTE:
            mentor.records = _unmet_revoked(mentor.records, totals(mentor.periods), catalog, now)
            transitions = transitions_between(before, mentor.records)
        if transitions:
            steps.append(Step(mentor_id, None, transitions))
    change = Change(
        Cause.REEVALUATION,
        actor,
        list(mentor_ids),
        at=now,
        catalog_version=catalog.version or None,
        steps=steps,
        notify=notify,
    )
    for mentor in mentors.values():
        mentor.add_to(change)
    return change


def _unmet_revoked(records: Records, sums: dict[str, int], catalog: RuleCatalog, now: str) -> Records:
    """`records` with each achieved one whose rung the catalog now puts above the mentor's value revoked; a
    record a person set stays as they set it (detection never moves those)."""
    thresholds = {rung.key: rung.threshold_centi for rung in catalog.rungs}
    achieved = Status.ACHIEVED.value
    return {
        key: revoked_row(record, REVOKED_BY_RECOMPUTE, now)
        if record.status == achieved
        and not record.set_by_person
        and key in thresholds
        and sums[record.type] < thresholds[key]
        else record
        for key, record in records.items()
    }
