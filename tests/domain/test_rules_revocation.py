"""Revocation and lost thresholds in the rules (`domain.rules`), by example: the revoke change a re-evaluation makes,
and bulk lines that correct a summary under each MILESTONES_ON_LOST_THRESHOLD."""

from __future__ import annotations

from datetime import UTC, date, datetime

from milestones.domain import LostThreshold, Status, milestone_id, rules
from milestones.domain.changes import ANONYMOUS, COMMAND_LINE, Cause, Change
from milestones.domain.rows import encode_time, period_to_row
from tests.domain.on_objects import after, detect_milestones, stored_rows
from tests.factories import ladder, mentor_state, period
from tests.reference_model import MentorState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MENTOR = "mentor_001"
HUNDRED = milestone_id(MENTOR, "100h")


def with_hours(hours: str) -> MentorState:
    return detect_milestones(mentor_state(MENTOR, period(date(2025, 1, 1), hours=hours)), ladder(), NOW)


def lines(state: MentorState, *hours: str, on_lost: LostThreshold) -> Change:
    """The 2025 summary sent again with each of `hours`, as the lines of one bulk batch."""
    rows = [(n, period_to_row(MENTOR, period(date(2025, 1, 1), hours=h))) for n, h in enumerate(hours, start=1)]
    catalog = rules.RuleCatalog(ladder(), on_lost_threshold=on_lost)
    return rules.record_summaries(rows, stored_rows(state), catalog, encode_time(NOW), actor=COMMAND_LINE)


def test_revoke_milestone_revokes_an_achieved_one_keeping_its_values_and_dates() -> None:
    state = with_hours("120")
    change = rules.revoke_milestone(
        HUNDRED, "threshold raised", stored_rows(state), encode_time(NOW), actor=ANONYMOUS, cause=Cause.BULK
    )
    assert change.cause is Cause.BULK
    assert [(t.kind, t.milestone_id) for t in change.transitions] == [("revoked", HUNDRED)]
    before = {m.id: m for m in state.milestones}[HUNDRED]
    revoked = {m.id: m for m in after(state, change).milestones}[HUNDRED]
    assert revoked.status is Status.REVOKED
    assert (revoked.revoked_at, revoked.revocation_reason) == (NOW, "threshold raised")
    assert (revoked.achieved_value, revoked.achieved_at) == (before.achieved_value, before.achieved_at)


def test_revoke_milestone_leaves_one_in_progress_or_revoked_already() -> None:
    state = with_hours("120")
    in_progress = milestone_id(MENTOR, "300h")
    assert not rules.revoke_milestone(in_progress, "x", stored_rows(state), "", actor=ANONYMOUS).writes_anything
    revoked = after(state, rules.revoke_milestone(HUNDRED, "x", stored_rows(state), encode_time(NOW), actor=ANONYMOUS))
    assert not rules.revoke_milestone(HUNDRED, "y", stored_rows(revoked), encode_time(NOW), actor=ANONYMOUS).steps


def test_bulk_lines_that_lose_and_regain_a_threshold_are_unsupported_then_supported_under_keep() -> None:
    change = lines(with_hours("120"), "80", "90", "110", on_lost=LostThreshold.KEEP)
    assert [(t.kind, t.milestone_id) for t in change.transitions if t.milestone_id == HUNDRED] == [
        ("unsupported", HUNDRED),
        ("supported", HUNDRED),
    ]
    assert change.milestones_moved("unsupported") == [HUNDRED]


def test_bulk_lines_that_lose_a_threshold_revoke_it_for_good_under_revoke() -> None:
    change = lines(with_hours("120"), "80", "300", on_lost=LostThreshold.REVOKE)
    assert change.milestones_moved("revoked") == [HUNDRED]
    hundred = {m.id: m for m in after(with_hours("120"), change).milestones}[HUNDRED]
    assert (hundred.status, hundred.revocation_reason) == (Status.REVOKED, "data corrected")
