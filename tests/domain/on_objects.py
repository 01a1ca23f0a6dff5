"""The service's rules (`domain.rules`, on rows) called with the reference model's objects.

Example tests then read as plain data while running the code the service runs: each function turns a
`MentorState` into rows, asks the rules, and turns the answer back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

from milestones.domain import Definition, Milestone, MilestoneUpdate, Period, rules
from milestones.domain.changes import ANONYMOUS, Change
from milestones.domain.rows import (
    PeriodRow,
    StoredRows,
    encode_time,
    milestone_from_row,
    milestone_to_row,
    period_from_row,
    period_to_row,
)
from tests.reference_model import MentorState


def stored_rows(state: MentorState) -> StoredRows:
    return StoredRows(
        [period_to_row(state.mentor_id, p) for p in state.periods], [milestone_to_row(m) for m in state.milestones]
    )


def periods_of(state: MentorState) -> rules.Periods:
    rows = (period_to_row(state.mentor_id, p) for p in state.periods)
    return {(row.start_date, row.end_date): row for row in rows}


def _period(row: PeriodRow) -> Period:
    return period_from_row(row[1:], date.fromisoformat)


def _ordered(milestones: Sequence[Milestone]) -> tuple[Milestone, ...]:
    return tuple(sorted(milestones, key=lambda m: (m.position, m.id)))


def after(state: MentorState, change: Change) -> MentorState:
    """The state once a change is applied, as storage applies it."""
    stored = stored_rows(state)
    removed = {(p.start_date, p.end_date) for p in change.periods_removed}
    periods = {(p.start_date, p.end_date): p for p in stored.periods if (p.start_date, p.end_date) not in removed}
    periods.update(((p.start_date, p.end_date), p) for p in change.periods_written)
    milestones = rules.milestones_after(stored, change)
    return MentorState(
        state.mentor_id,
        tuple(_period(periods[span]) for span in sorted(periods)),
        _ordered([milestone_from_row(row) for row in milestones]),
    )


def record_period(state: MentorState, period: Period) -> MentorState:
    periods = periods_of(state)
    rules.record_period(periods, period_to_row(state.mentor_id, period))
    return replace(state, periods=tuple(_period(periods[span]) for span in sorted(periods)))


def detect_milestones(state: MentorState, catalog: Sequence[Definition], now: datetime) -> MentorState:
    records = {m.definition_key: milestone_to_row(m) for m in state.milestones}
    kept = rules.detect(state.mentor_id, periods_of(state), records, rules.RuleCatalog(catalog), encode_time(now))
    return replace(state, milestones=_ordered([milestone_from_row(row) for row in kept.values()]))


def remove_period(
    state: MentorState, start_date: date, end_date: date, catalog: Sequence[Definition], now: datetime
) -> MentorState:
    change = rules.remove_period(
        state.mentor_id,
        start_date.isoformat(),
        end_date.isoformat(),
        stored_rows(state),
        rules.RuleCatalog(catalog),
        encode_time(now),
        actor=ANONYMOUS,
    )
    return after(state, change)


def update_milestone(state: MentorState, milestone_id: str, update: MilestoneUpdate, now: datetime) -> MentorState:
    return after(state, rules.update_milestone(milestone_id, update, stored_rows(state), now, actor=ANONYMOUS))


def delete_milestone(state: MentorState, milestone_id: str) -> MentorState:
    return after(
        state,
        rules.delete_milestone(milestone_id, stored_rows(state), datetime(2026, 3, 1, tzinfo=UTC), actor=ANONYMOUS),
    )
