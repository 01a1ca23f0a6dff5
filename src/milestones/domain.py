"""Milestone rules as pure functions of plain data: periods, detection, progress and manual updates."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum

from milestones.errors import InvalidUpdate, MilestoneNotFound, PeriodNotFound, PeriodOverlap, PreconditionFailed

MAX_PERIOD_DAYS = 366
ID_SEPARATOR = "~"
_ZERO = Decimal(0)


class MetricType(StrEnum):
    """What a milestone counts."""

    HOURS_LOGGED = "hours_logged"
    CONTACTS_HELPED = "contacts_helped"
    ACTIVITY_COUNT = "activity_count"


class Status(StrEnum):
    """Where a mentor stands on one milestone."""

    ACHIEVED = "achieved"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True, slots=True)
class Definition:
    """One rung of the milestone ladder, as the catalog describes it."""

    key: str
    name: str
    type: MetricType
    threshold: Decimal
    position: int


@dataclass(frozen=True, slots=True)
class Summary:
    """What a mentor did in one period."""

    total_hours: Decimal
    unique_contacts_helped: int
    activity_count: int

    def value_of(self, metric: MetricType) -> Decimal:
        if metric is MetricType.HOURS_LOGGED:
            return self.total_hours
        if metric is MetricType.CONTACTS_HELPED:
            return Decimal(self.unique_contacts_helped)
        return Decimal(self.activity_count)


@dataclass(frozen=True, slots=True)
class Period:
    """A mentor's summary for an inclusive date range; (start_date, end_date) identifies it."""

    start_date: date
    end_date: date
    year: int
    summary: Summary

    @property
    def span(self) -> tuple[date, date]:
        return (self.start_date, self.end_date)

    def overlaps(self, other: Period) -> bool:
        # Inclusive on both ends: periods that share a single day overlap.
        return self.start_date <= other.end_date and other.start_date <= self.end_date


@dataclass(frozen=True, slots=True)
class Milestone:
    """A stored milestone of one mentor: reached, or the next rung being worked towards."""

    id: str
    mentor_id: str
    definition_key: str
    name: str
    type: MetricType
    threshold: Decimal
    position: int
    status: Status
    current_value: Decimal
    achieved_value: Decimal | None = None
    achieved_at: datetime | None = None
    # A person's PUT is a decision that later detection must not override.
    set_by_person: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    """How far an in-progress milestone has come."""

    current_value: Decimal
    percentage: int
    remaining: Decimal


@dataclass(frozen=True, slots=True)
class MentorState:
    """Everything stored about one mentor; writes replace one state with the next."""

    mentor_id: str
    periods: tuple[Period, ...]
    milestones: tuple[Milestone, ...]


@dataclass(frozen=True, slots=True)
class MilestoneUpdate:
    """A partial update from a person; None means 'leave as it is'."""

    status: Status | None = None
    achieved_value: Decimal | None = None
    achieved_at: datetime | None = None


def milestone_id(mentor_id: str, definition_key: str) -> str:
    """A stable, URL-safe id for (mentor, definition): "<mentor_id>~<definition_key>".

    "~" can occur in neither part (both are validated), so the id is unique per pair and reads back to it.
    """
    return f"{mentor_id}{ID_SEPARATOR}{definition_key}"


def record_period(state: MentorState, period: Period) -> MentorState:
    """Add a period or replace the stored one with the same dates (a correction)."""
    others = [p for p in state.periods if p.span != period.span]
    for other in others:
        if other.overlaps(period):
            raise PeriodOverlap(
                f"The period {period.start_date}..{period.end_date} overlaps the stored period "
                f"{other.start_date}..{other.end_date}; delete that one first or post the same dates."
            )
    return replace(state, periods=_sorted_periods([*others, period]))


def remove_period(state: MentorState, start_date: date, end_date: date) -> MentorState:
    """Drop one stored period."""
    kept = tuple(p for p in state.periods if p.span != (start_date, end_date))
    if len(kept) == len(state.periods):
        raise PeriodNotFound(f"Mentor {state.mentor_id!r} has no period {start_date}..{end_date}.")
    return replace(state, periods=kept)


def totals(periods: Iterable[Period]) -> dict[MetricType, Decimal]:
    """The mentor's cumulative value of every metric over the given periods."""
    sums = dict.fromkeys(MetricType, Decimal(0))
    for period in periods:
        for metric in MetricType:
            sums[metric] += period.summary.value_of(metric)
    return sums


def crossing_time(periods: Sequence[Period], definition: Definition, now: datetime) -> datetime:
    """When the threshold was crossed: the end of the period that crossed it, never later than now."""
    return _crossing_time(_sorted_periods(periods), definition, now)


def _crossing_time(ordered: Sequence[Period], definition: Definition, now: datetime) -> datetime:
    running = _ZERO
    crossed_on = ordered[-1].end_date if ordered else now.date()
    for period in ordered:
        running += period.summary.value_of(definition.type)
        if running >= definition.threshold:
            crossed_on = period.end_date
            break
    end_of_day = datetime.combine(crossed_on, time(23, 59, 59), tzinfo=UTC)
    return min(end_of_day, now)


def detect_milestones(state: MentorState, catalog: Sequence[Definition], now: datetime) -> MentorState:
    """Evaluate every definition against the mentor's totals and return the milestones to keep.

    Reached milestones are kept forever; of the unreached ones only the lowest rung of each type is
    kept, as in progress. Records a person has set are left as they are, apart from current values.
    """
    sums = totals(state.periods)
    ordered = _sorted_periods(state.periods)
    existing = {m.definition_key: m for m in state.milestones}
    kept: dict[str, Milestone] = {}
    unreached: dict[MetricType, list[Definition]] = {metric: [] for metric in MetricType}

    for definition in catalog:
        record = existing.get(definition.key)
        current = sums[definition.type]
        if record is not None and record.status is Status.ACHIEVED:
            # Stored records keep their history but follow the catalog's current order.
            kept[definition.key] = _updated(record, position=definition.position)
        elif record is not None and record.set_by_person:
            kept[definition.key] = _updated(record, position=definition.position, current_value=current)
        elif current >= definition.threshold:
            kept[definition.key] = _new_record(
                state.mentor_id,
                definition,
                current,
                status=Status.ACHIEVED,
                achieved_value=current,
                achieved_at=_crossing_time(ordered, definition, now),
            )
        else:
            unreached[definition.type].append(definition)

    for metric, candidates in unreached.items():
        if not candidates:
            continue
        next_rung = min(candidates, key=lambda d: (d.threshold, d.position))
        record = existing.get(next_rung.key)
        if record is None:
            kept[next_rung.key] = _new_record(state.mentor_id, next_rung, sums[metric])
        else:
            # The rung being worked towards shows the catalog's current wording and threshold.
            kept[next_rung.key] = _updated(
                record,
                name=next_rung.name,
                type=next_rung.type,
                threshold=next_rung.threshold,
                position=next_rung.position,
                current_value=sums[next_rung.type],
            )

    catalog_keys = {d.key for d in catalog}
    # Records whose definition left the catalog: reached or person-set ones are history and stay.
    for key, record in existing.items():
        if key not in kept and key not in catalog_keys:
            if record.status is Status.ACHIEVED:
                kept[key] = record
            elif record.set_by_person:
                kept[key] = _updated(record, current_value=sums[record.type])

    return replace(state, milestones=tuple(sorted(kept.values(), key=_catalog_order)))


def progress(milestone: Milestone) -> Progress:
    """Progress towards the threshold: a whole percentage in 0..99 and what is left, never negative."""
    current, threshold = milestone.current_value, milestone.threshold
    percentage = int((current * 100) // threshold) if threshold > 0 else 0
    remaining = threshold - current if current < threshold else _ZERO
    return Progress(current, 99 if percentage > 99 else max(percentage, 0), remaining)


def in_progress_order(milestones: Iterable[Milestone]) -> list[Milestone]:
    """In-progress milestones closest to completion first."""

    def closeness(m: Milestone) -> tuple[int, Decimal, int, str]:
        p = progress(m)
        return (-p.percentage, p.remaining, m.position, m.id)

    return sorted((m for m in milestones if m.status is Status.IN_PROGRESS), key=closeness)


def update_milestone(state: MentorState, milestone_id: str, update: MilestoneUpdate, now: datetime) -> MentorState:
    """Apply a person's partial update to one milestone."""
    record = find_milestone(state, milestone_id)
    status = update.status or record.status
    if status is Status.IN_PROGRESS:
        if update.achieved_at is not None:
            raise InvalidUpdate("achieved_at cannot be set on a milestone that is in progress.", "achieved_at")
        if update.achieved_value is not None:
            raise InvalidUpdate(
                "achieved_value can only be set on an achieved milestone; send status 'achieved' with it.",
                "achieved_value",
            )
        changed = replace(record, status=status, achieved_value=None, achieved_at=None, set_by_person=True)
    else:
        was_achieved = record.status is Status.ACHIEVED
        achieved_value = update.achieved_value
        if achieved_value is None:
            achieved_value = record.achieved_value if was_achieved else record.current_value
        achieved_at = update.achieved_at
        if achieved_at is None:
            achieved_at = record.achieved_at if was_achieved and record.achieved_at else now
        changed = replace(
            record,
            status=status,
            achieved_value=achieved_value,
            achieved_at=achieved_at,
            set_by_person=True,
        )
    milestones = tuple(changed if m.id == milestone_id else m for m in state.milestones)
    return replace(state, milestones=milestones)


def delete_milestone(state: MentorState, milestone_id: str) -> MentorState:
    """Remove one milestone record; a later summary that still earns it creates it again."""
    find_milestone(state, milestone_id)
    return replace(state, milestones=tuple(m for m in state.milestones if m.id != milestone_id))


def milestone_version(milestone: Milestone) -> str:
    """A fingerprint of everything stored about a milestone; it changes whenever the record does."""
    m = milestone
    parts = (
        m.id,
        m.name,
        m.type.value,
        f"{m.threshold:.2f}",
        str(m.position),
        m.status.value,
        f"{m.current_value:.2f}",
        "" if m.achieved_value is None else f"{m.achieved_value:.2f}",
        "" if m.achieved_at is None else m.achieved_at.astimezone(UTC).isoformat(),
        str(m.set_by_person),
    )
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def require_version(milestone: Milestone, accepted: frozenset[str] | None) -> None:
    """Refuse a change made against an older version; None accepts any (no If-Match, or If-Match: *)."""
    if accepted is not None and milestone_version(milestone) not in accepted:
        raise PreconditionFailed(milestone.id)


def find_milestone(state: MentorState, milestone_id: str) -> Milestone:
    for milestone in state.milestones:
        if milestone.id == milestone_id:
            return milestone
    raise MilestoneNotFound(milestone_id)


def _updated(record: Milestone, **changes: object) -> Milestone:
    """The record with the changes applied; the same object when they change nothing (detection's common case)."""
    if all(getattr(record, name) == value for name, value in changes.items()):
        return record
    return replace(record, **changes)  # type: ignore[arg-type]


def _new_record(
    mentor_id: str,
    definition: Definition,
    current: Decimal,
    status: Status = Status.IN_PROGRESS,
    achieved_value: Decimal | None = None,
    achieved_at: datetime | None = None,
) -> Milestone:
    return Milestone(
        id=milestone_id(mentor_id, definition.key),
        mentor_id=mentor_id,
        definition_key=definition.key,
        name=definition.name,
        type=definition.type,
        threshold=definition.threshold,
        position=definition.position,
        status=status,
        current_value=current,
        achieved_value=achieved_value,
        achieved_at=achieved_at,
    )


def _catalog_order(milestone: Milestone) -> tuple[int, str]:
    return (milestone.position, milestone.id)


def _sorted_periods(periods: Iterable[Period]) -> tuple[Period, ...]:
    return tuple(sorted(periods, key=lambda p: p.span))
