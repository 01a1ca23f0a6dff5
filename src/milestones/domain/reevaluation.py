"""Re-evaluation: the latest catalog version applied to mentors' stored rows, under a policy for old awards."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from milestones.domain.changes import COMMAND_LINE, Actor, Cause, Change, Step
from milestones.domain.rows import StoredRows
from milestones.domain.rules import RuleCatalog, by_mentor
from milestones.errors import PolicyUnavailable


class Policy(StrEnum):
    """What becomes of an achieved milestone whose threshold the new version raised beyond the mentor's value."""

    # It stays achieved, shown with the version it was earned under (grandfathered).
    KEEP = "keep"
    # It is revoked: needs revocation, which does not exist yet.
    RECOMPUTE = "recompute"


def require_policy(policy: Policy) -> None:
    """Refuse a policy that cannot be carried out yet; the one place `recompute` is wired in when it can be."""
    if policy is Policy.RECOMPUTE:
        raise PolicyUnavailable(policy.value, "revoking achieved milestones is not supported yet; use keep")


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
    records stay (under `keep`) with the version they were earned under. One step per mentor that changed, with the
    cause `reevaluation`; `notify` False records its events as not to be pushed (a backfill floods nobody)."""
    require_policy(policy)
    mentors = by_mentor(stored)
    steps: list[Step] = []
    for mentor_id in mentor_ids:
        mentor = mentors.get(mentor_id)
        if mentor is None:
            continue
        transitions = mentor.detect(catalog, now)
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
