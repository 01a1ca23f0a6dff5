"""History as it is read back: each step a change recorded, with the transitions it made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from milestones.domain.changes import Actor, Cause, Transition, TransitionKind
from milestones.domain.model import Precision, Status
from milestones.domain.rows import MilestoneRow, from_centi, parse_time


@dataclass(frozen=True, slots=True)
class MilestoneState:
    """What history keeps of a milestone at one moment: the fields its transitions move."""

    status: Status
    current_value: Decimal
    achieved_value: Decimal | None
    achieved_at: datetime | None
    set_by_person: bool
    threshold: Decimal
    # Kept since migration 0011; None in entries written before.
    achieved_at_precision: Precision | None = None
    value_is_upper_bound: bool | None = None
    # Kept since migration 0014; None in entries written before.
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    supported: bool | None = None


@dataclass(frozen=True, slots=True)
class RecordedTransition:
    """One milestone's transition as history holds it; None before: it did not exist, after: removed."""

    milestone_id: str
    kind: TransitionKind
    before: MilestoneState | None
    after: MilestoneState | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One stored step: a request (or bulk line) that changed a mentor's milestones."""

    id: int
    mentor_id: str
    at: datetime
    actor: Actor
    request_id: str | None
    cause: Cause
    period: tuple[date, date] | None
    catalog_version: str | None
    transitions: list[RecordedTransition]


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One transition with the step it belongs to; `position` (entry id, index in it) orders a mentor's history."""

    position: tuple[int, int]
    entry: HistoryEntry
    transition: RecordedTransition


def state_of(row: MilestoneRow | None) -> MilestoneState | None:
    """What history keeps of a milestone row (None: it does not exist)."""
    if row is None:
        return None
    return MilestoneState(
        status=Status(row.status),
        current_value=from_centi(row.current_centi),
        achieved_value=None if row.achieved_centi is None else from_centi(row.achieved_centi),
        achieved_at=parse_time(row.achieved_at),
        set_by_person=bool(row.set_by_person),
        threshold=from_centi(row.threshold_centi),
        achieved_at_precision=None if row.achieved_at_precision is None else Precision(row.achieved_at_precision),
        value_is_upper_bound=bool(row.value_is_upper_bound),
    )


def recorded(transition: Transition) -> RecordedTransition:
    """A transition as history would record it: what a dry run answers, without storing it."""
    return RecordedTransition(
        transition.milestone_id,
        TransitionKind(transition.kind),
        state_of(transition.before),
        state_of(transition.after),
    )
