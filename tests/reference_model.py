"""The milestone rules stated again, as plainly as possible: Decimals, objects and obvious loops.

`milestones.domain.rules` is the one implementation the service runs; it is written for speed (integer
hundredths, rows, dictionaries). This model is written to be read. Property tests (`tests/domain`) hold the
two equal, so a rule changed in one place and not the other fails them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from milestones.domain import (
    REVOKED_BY_CORRECTION,
    Definition,
    LostThreshold,
    MetricType,
    Milestone,
    MilestoneUpdate,
    Period,
    Precision,
    Status,
    milestone_id,
)
from milestones.errors import InvalidUpdate, MilestoneNotFound, PeriodNotFound, PeriodOverlap


@dataclass(frozen=True)
class MentorState:
    """Everything stored about one mentor."""

    mentor_id: str
    periods: tuple[Period, ...]
    milestones: tuple[Milestone, ...]


def span(period: Period) -> tuple[date, date]:
    return (period.start_date, period.end_date)


def value_of(period: Period, metric: MetricType) -> Decimal:
    if metric is MetricType.HOURS_LOGGED:
        return period.summary.total_hours
    if metric is MetricType.CONTACTS_HELPED:
        return Decimal(period.summary.unique_contacts_helped)
    return Decimal(period.summary.activity_count)


def total(periods: Sequence[Period], metric: MetricType) -> Decimal:
    """The mentor's value: a sum, except contacts: everyone identified counted once, plus the others' counts."""
    if metric is MetricType.CONTACTS_HELPED:
        people: set[str] = set()
        counted = 0
        for period in periods:
            if period.evidence.contacts is None:
                counted += period.summary.unique_contacts_helped
            else:
                people |= {contact for contact, _ in period.evidence.contacts}
        return Decimal(len(people) + counted)
    result = Decimal(0)
    for period in periods:
        result += value_of(period, metric)
    return result


def upper_bound(periods: Sequence[Period], metric: MetricType) -> bool:
    """A contacts value that sums the counts of two or more periods, one of them without identifiers."""
    if metric is not MetricType.CONTACTS_HELPED:
        return False
    helped = [p for p in periods if p.summary.unique_contacts_helped > 0]
    return len(helped) >= 2 and any(p.evidence.contacts is None for p in helped)


def points(periods: Sequence[Period], metric: MetricType) -> list[tuple[date, Decimal, Precision]]:
    """Every amount that adds to the metric, in the order it happened: periods in date order; in a period with
    dated activity (or dated contacts) day by day, otherwise all of it on its last day."""
    found: list[tuple[date, Decimal, Precision]] = []
    seen: set[str] = set()
    for period in sorted(periods, key=span):
        if metric is MetricType.CONTACTS_HELPED and period.evidence.contacts is not None:
            new = [(contact, day) for contact, day in period.evidence.contacts if contact not in seen]
            seen |= {contact for contact, _ in new}
            for day in sorted({day for _, day in new if day is not None}):
                found.append((day, Decimal(sum(1 for _, d in new if d == day)), Precision.DAY))
            found.append((period.end_date, Decimal(sum(1 for _, d in new if d is None)), Precision.PERIOD_END))
        elif metric is not MetricType.CONTACTS_HELPED and period.evidence.days and value_of(period, metric) > 0:
            for dated in period.evidence.days:
                amount = dated.hours if metric is MetricType.HOURS_LOGGED else Decimal(dated.activities)
                found.append((dated.day, amount, Precision.DAY))
        else:
            found.append((period.end_date, value_of(period, metric), Precision.PERIOD_END))
    return found


def record_period(state: MentorState, period: Period) -> MentorState:
    """A new period, or a correction of the stored one with the same dates; an overlap is refused."""
    for other in sorted(state.periods, key=span):
        if span(other) != span(period) and other.start_date <= period.end_date and period.start_date <= other.end_date:
            raise PeriodOverlap(
                f"The period {period.start_date}..{period.end_date} overlaps the stored period "
                f"{other.start_date}..{other.end_date}; delete that one first or post the same dates."
            )
    others = [p for p in state.periods if span(p) != span(period)]
    return replace(state, periods=tuple(sorted([*others, period], key=span)))


def remove_period(state: MentorState, start_date: date, end_date: date) -> MentorState:
    kept = tuple(p for p in state.periods if span(p) != (start_date, end_date))
    if len(kept) == len(state.periods):
        raise PeriodNotFound(f"Mentor {state.mentor_id!r} has no period {start_date}..{end_date}.")
    return replace(state, periods=kept)


def crossing_time(periods: Sequence[Period], definition: Definition, now: datetime) -> tuple[datetime, Precision]:
    """The last second of the day the running total first reaches the threshold, and how that day is known; now,
    `detected`, when that is earlier."""
    running = Decimal(0)
    crossed_on, precision = max(p.end_date for p in periods), Precision.PERIOD_END
    for day, amount, how in points(periods, definition.type):
        running += amount
        if running >= definition.threshold:
            crossed_on, precision = day, how
            break
    moment = datetime.combine(crossed_on, time(23, 59, 59), tzinfo=UTC)
    return (now, Precision.DETECTED) if now < moment else (moment, precision)


def lost_or_regained(
    record: Milestone,
    periods: Sequence[Period],
    before: Sequence[Period] | None,
    on_lost: LostThreshold,
    now: datetime,
) -> Milestone:
    """An achieved record whose threshold the change crossed: down, it is unsupported (keep) or revoked (revoke);
    up, an unsupported one is supported again. A change that crosses nothing leaves it."""
    value = total(periods, record.type)
    if not record.supported:
        return replace(record, supported=True) if value >= record.threshold else record
    if value >= record.threshold or before is None or total(before, record.type) < record.threshold:
        return record
    if on_lost is LostThreshold.REVOKE:
        return replace(record, status=Status.REVOKED, revoked_at=now, revocation_reason=REVOKED_BY_CORRECTION)
    return replace(record, supported=False)


def detect_milestones(
    state: MentorState,
    catalog: Sequence[Definition],
    now: datetime,
    before: Sequence[Period] | None = None,
    on_lost: LostThreshold = LostThreshold.KEEP,
) -> MentorState:
    """`before`: the periods before the change, against which a lost threshold is measured."""
    old = {m.definition_key: m for m in state.milestones}
    new: dict[str, Milestone] = {}
    # 1. Reached, revoked and person-set records stay; rungs reached now are achieved.
    for d in catalog:
        value = total(state.periods, d.type)
        record = old.get(d.key)
        if record is not None and record.status is Status.ACHIEVED:
            new[d.key] = lost_or_regained(replace(record, position=d.position), state.periods, before, on_lost, now)
        elif record is not None and record.status is Status.REVOKED:
            new[d.key] = replace(record, position=d.position)
        elif record is not None and record.set_by_person:
            new[d.key] = replace(
                record,
                position=d.position,
                current_value=value,
                value_is_upper_bound=upper_bound(state.periods, d.type),
            )
        elif value >= d.threshold:
            moment, precision = crossing_time(state.periods, d, now)
            new[d.key] = Milestone(
                milestone_id(state.mentor_id, d.key), state.mentor_id, d.key, d.name, d.type, d.threshold,
                d.position, Status.ACHIEVED, value, value, moment, False,
                achieved_at_precision=precision, value_is_upper_bound=upper_bound(state.periods, d.type),
            )  # fmt: skip
    # 2. Of each metric's other rungs, only the lowest (then first by position) is kept, in progress.
    for metric in MetricType:
        waiting = [d for d in catalog if d.type is metric and d.key not in new]
        if not waiting:
            continue
        d = min(waiting, key=lambda d: (d.threshold, d.position))
        value = total(state.periods, metric)
        record = old.get(d.key)
        bound = upper_bound(state.periods, metric)
        if record is None:
            new[d.key] = Milestone(
                milestone_id(state.mentor_id, d.key), state.mentor_id, d.key, d.name, d.type, d.threshold,
                d.position, Status.IN_PROGRESS, value, value_is_upper_bound=bound,
            )  # fmt: skip
        else:
            new[d.key] = replace(
                record,
                name=d.name,
                type=d.type,
                threshold=d.threshold,
                position=d.position,
                current_value=value,
                value_is_upper_bound=bound,
            )
    # 3. Records whose definition left the catalog: reached or person-set ones are history.
    catalog_keys = {d.key for d in catalog}
    for key, record in old.items():
        if key in catalog_keys:
            continue
        if record.status is Status.ACHIEVED:
            new[key] = lost_or_regained(record, state.periods, before, on_lost, now)
        elif record.status is Status.REVOKED:
            new[key] = record
        elif record.set_by_person:
            new[key] = replace(
                record,
                current_value=total(state.periods, record.type),
                value_is_upper_bound=upper_bound(state.periods, record.type),
            )
    return replace(state, milestones=tuple(sorted(new.values(), key=lambda m: (m.position, m.id))))


def find_milestone(state: MentorState, milestone_id: str) -> Milestone:
    for milestone in state.milestones:
        if milestone.id == milestone_id:
            return milestone
    raise MilestoneNotFound(milestone_id)


def update_milestone(state: MentorState, milestone_id: str, update: MilestoneUpdate, now: datetime) -> MentorState:
    record = find_milestone(state, milestone_id)
    if update == MilestoneUpdate():
        return state  # nothing asked, nothing changed
    if update.status is Status.REVOKED or (update.status is None and record.status is Status.REVOKED):
        changed = revoke(record, update, now)
        return replace(state, milestones=tuple(changed if m.id == milestone_id else m for m in state.milestones))
    if update.reason is not None:
        raise InvalidUpdate("reason is taken only with status 'revoked'; leave it out or send that status.", "reason")
    if record.status is Status.REVOKED and update.status is Status.IN_PROGRESS:
        raise InvalidUpdate(
            "status cannot be in_progress: the milestone is revoked. A person can reinstate it with status 'achieved'.",
            "status",
        )
    if update.achieved_value is not None and not (update.achieved_value.is_finite() and update.achieved_value >= 0):
        raise InvalidUpdate("achieved_value must be a number of 0 or more.", "achieved_value")
    if update.achieved_at is not None and update.achieved_at > now + timedelta(minutes=1):
        raise InvalidUpdate("achieved_at is in the future; a milestone can only be achieved by now.", "achieved_at")
    status = update.status or record.status
    if status is Status.IN_PROGRESS:
        if update.achieved_at is not None:
            raise InvalidUpdate("achieved_at cannot be set on a milestone that is in progress.", "achieved_at")
        if update.achieved_value is not None:
            raise InvalidUpdate(
                "achieved_value can only be set on an achieved milestone; send status 'achieved' with it.",
                "achieved_value",
            )
        if total(state.periods, record.type) >= record.threshold:
            raise InvalidUpdate(
                "status cannot be in_progress: the mentor's current value already meets the threshold. "
                "To take the milestone away, DELETE it.",
                "status",
            )
        changed = replace(
            record, status=status, achieved_value=None, achieved_at=None, set_by_person=True, achieved_at_precision=None
        )
    else:
        was_achieved = record.status in (Status.ACHIEVED, Status.REVOKED)
        value = update.achieved_value
        if value is None:
            value = record.achieved_value if was_achieved else record.current_value
        # A date the person gives or makes (now) is theirs; a date kept keeps how it was found.
        moment, precision = update.achieved_at, Precision.SET_BY_PERSON
        if moment is None:
            if was_achieved and record.achieved_at:
                moment, precision = record.achieved_at, record.achieved_at_precision or Precision.SET_BY_PERSON
            else:
                moment = now
        changed = replace(
            record,
            status=status,
            achieved_value=value,
            achieved_at=moment,
            set_by_person=True,
            achieved_at_precision=precision,
            revoked_at=None,
            revocation_reason=None,
            supported=True,
        )
    return replace(state, milestones=tuple(changed if m.id == milestone_id else m for m in state.milestones))


def revoke(record: Milestone, update: MilestoneUpdate, now: datetime) -> Milestone:
    """A person revokes an achieved milestone, with a reason; a revoked one stays revoked until reinstated."""
    if record.status is Status.IN_PROGRESS:
        raise InvalidUpdate(
            "status cannot be revoked: only an achieved milestone can be revoked, and this one is in progress.",
            "status",
        )
    if update.achieved_value is not None or update.achieved_at is not None:
        names = [
            n
            for n, v in (("achieved_value", update.achieved_value), ("achieved_at", update.achieved_at))
            if v is not None
        ]
        raise InvalidUpdate(
            " ".join(
                f"{name} cannot be set when revoking a milestone; it keeps the value and date it was achieved with."
                for name in names
            ),
            names[0],
        )
    if update.reason is None:
        if record.status is Status.REVOKED:
            return record
        raise InvalidUpdate("reason is required to revoke a milestone: say why, in 1 to 500 characters.", "reason")
    if not update.reason.strip() or len(update.reason) > 500:
        raise InvalidUpdate("reason must be 1 to 500 characters, not only spaces.", "reason")
    if record.status is Status.REVOKED:
        return replace(record, revocation_reason=update.reason)
    return replace(
        record,
        status=Status.REVOKED,
        revoked_at=now,
        revocation_reason=update.reason,
        set_by_person=True,
        supported=True,
    )


def delete_milestone(state: MentorState, milestone_id: str) -> MentorState:
    find_milestone(state, milestone_id)
    return replace(state, milestones=tuple(m for m in state.milestones if m.id != milestone_id))
