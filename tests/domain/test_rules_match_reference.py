"""Property tests: the service's rules (`domain.rules`) decide what the reference model (`tests/reference_model.py`)
decides.

States, catalogs, summaries and updates are generated; each is run through both, and the outcomes (the stored
state afterwards, or the refusal and its message) must be equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from milestones.domain import (
    Definition,
    Evidence,
    LostThreshold,
    MetricType,
    Milestone,
    MilestoneUpdate,
    Period,
    Status,
    Summary,
    milestone_id,
    rules,
)
from milestones.domain.changes import ANONYMOUS, Cause, Change
from milestones.domain.evidence import crossing, day_totals, period_contacts
from milestones.domain.rows import encode_time, from_centi, period_to_row, row_version
from milestones.errors import InvalidUpdate, MilestoneNotFound, PeriodOverlap, PreconditionFailed
from tests import reference_model as reference
from tests.domain.on_objects import after, stored_rows
from tests.reference_model import MentorState

MENTOR = "mentor_001"
# Stored records whose definition is no longer in the catalog.
OFF_CATALOG_KEYS = ("retired_a", "retired_b")
FIRST_DAY = date(2025, 9, 1)
FIRST_MOMENT = datetime(2024, 1, 1, tzinfo=UTC)
THREE_YEARS_US = 3 * 365 * 86_400 * 10**6
# 2-4 s each; generating the inputs costs far more than checking them. Line by line runs 2-5 steps an example.
ONE_SUMMARY = settings(max_examples=300, deadline=None)
LINE_BY_LINE = settings(max_examples=200, deadline=None)
T = TypeVar("T")


# --- both sides ------------------------------------------------------------------------------------


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def in_order(state: MentorState) -> MentorState:
    return replace(state, milestones=tuple(sorted(state.milestones, key=lambda m: (m.position, m.id))))


def reference_step(
    state: MentorState,
    period: Period,
    catalog: Sequence[Definition],
    now: datetime,
    on_lost: LostThreshold = LostThreshold.KEEP,
) -> MentorState | PeriodOverlap:
    try:
        return reference.detect_milestones(reference.record_period(state, period), catalog, now, state.periods, on_lost)
    except PeriodOverlap as refused:
        return refused


def rules_lines(
    state: MentorState,
    periods: Sequence[Period],
    catalog: Sequence[Definition],
    now: datetime,
    on_lost: LostThreshold = LostThreshold.KEEP,
) -> Change:
    """Summaries posted one after another, decided as one batch, as bulk detection decides a file's lines."""
    lines = [(number, period_to_row(MENTOR, p)) for number, p in enumerate(periods, start=1)]
    rungs = rules.RuleCatalog(catalog, on_lost_threshold=on_lost)
    return rules.record_summaries(lines, stored_rows(state), rungs, encode_time(now), actor=ANONYMOUS, cause=Cause.POST)


def assert_same_step(
    state: MentorState,
    period: Period,
    catalog: Sequence[Definition],
    now: datetime,
    on_lost: LostThreshold = LostThreshold.KEEP,
) -> MentorState:
    """Run one summary through both; an overlap is refused by both, with the same message, and writes nothing."""
    expected = reference_step(state, period, catalog, now, on_lost)
    change = rules_lines(state, [period], catalog, now, on_lost)
    if isinstance(expected, PeriodOverlap):
        assert change.refused == [(1, expected.detail)]
        assert not change.writes_anything
        return state
    assert change.refused == []
    actual = after(state, change)
    assert actual == expected
    # What is written is exactly what differs, so posting the same summary again writes nothing.
    assert not rules_lines(actual, [period], catalog, now, on_lost).writes_anything
    return actual


# --- strategies ---------------------------------------------------------------------------------


@cache  # Building a strategy costs more than drawing from it.
def days(lo: int, hi: int) -> st.SearchStrategy[timedelta]:
    return st.integers(lo, hi).map(lambda n: timedelta(days=n))


# Up to 2 decimals, in several scales. The small fixed pool makes ties in threshold common ("12.5" == "12.50"),
# and whole numbers make totals that land exactly on a threshold common.
thresholds = st.one_of(
    st.sampled_from(["5", "10", "12.5", "12.50", "20", "0.01"]).map(Decimal),
    st.integers(1, 30).map(Decimal),
    st.integers(1, 3_000).map(from_centi),
)
hours = st.one_of(st.integers(0, 1_200).map(from_centi), st.integers(0, 12).map(Decimal))
counts = st.integers(0, 12)
summaries = st.builds(Summary, hours, counts, counts)
metrics = st.sampled_from(MetricType)
statuses = st.sampled_from(Status)
old_names = st.sampled_from(["Old wording", "Renamed rung"])
old_positions = st.integers(0, 20)
period_kinds = st.sampled_from(["correction", "shifted", "spanning", "after_last", "anywhere"])
# Stored values of records: any amount, not necessarily what the periods add up to.
values = st.integers(0, 6_000).map(from_centi)
moments = st.integers(0, THREE_YEARS_US).map(lambda us: FIRST_MOMENT + timedelta(microseconds=us))
# Before, at or after the last second of a day.
around_end_of_day = st.one_of(st.just(0), st.integers(-3 * 86_400 * 10**6, 86_400 * 10**6)).map(
    lambda us: timedelta(microseconds=us)
)


@st.composite
def catalogs(draw: st.DrawFn) -> tuple[Definition, ...]:
    """0-4 rungs per metric, in shuffled catalog order, with positions unrelated to thresholds."""
    rungs = [
        (f"{metric.value}_{i}", metric, threshold)
        for metric in MetricType
        for i, threshold in enumerate(draw(st.lists(thresholds, max_size=4)))
    ]
    ordered = draw(st.permutations(rungs))
    positions = draw(st.permutations(range(len(rungs))))
    return tuple(
        Definition(key, f"{threshold} {metric.value}", metric, threshold, position)
        for (key, metric, threshold), position in zip(ordered, positions, strict=True)
    )


# A small pool, so that periods often share a person (the union then counts them once).
people = st.sampled_from(["c-1", "c-2", "c-3", "c-4", "c-5", "c-6"])


@st.composite
def periods_between(draw: st.DrawFn, start: date, end: date) -> Period:
    """A period's summary alone, or with contact identifiers, dated activity or both, agreeing with it as
    validation requires (the rules never see evidence that disagrees)."""
    kind = draw(st.sampled_from(["summary", "contacts", "activities", "both"]))
    if kind == "summary":
        return Period(start, end, start.year, draw(summaries))
    length = (end - start).days
    activities = []
    if kind in ("activities", "both"):
        for _ in range(draw(st.integers(1, 5))):
            day = start + draw(days(0, length))
            activities.append((day, draw(hours), draw(st.one_of(st.none(), people))))
    contacts = sorted(set(draw(st.lists(people, max_size=5)))) if kind in ("contacts", "both") else None
    if contacts is not None:
        contacts = sorted({*contacts, *(c for _, _, c in activities if c is not None)})
    identified = period_contacts(contacts, activities or None)
    count = len(identified) if identified is not None else draw(counts)
    if activities:
        summary = Summary(sum((h for _, h, _ in activities), Decimal(0)), count, len(activities))
    else:
        summary = Summary(draw(hours), count, draw(counts))
    return Period(start, end, start.year, summary, Evidence(identified, day_totals(activities or None)))


@st.composite
def stored_periods(draw: st.DrawFn) -> tuple[Period, ...]:
    """0-3 periods apart from each other, in date order (as storage reads them)."""
    periods: list[Period] = []
    start = FIRST_DAY + draw(days(0, 30))
    for _ in range(draw(st.integers(0, 3))):
        end = start + draw(days(0, 60))
        periods.append(draw(periods_between(start, end)))
        start = end + draw(days(1, 30))
    return tuple(periods)


@st.composite
def new_periods(draw: st.DrawFn, stored: Sequence[Period]) -> Period:
    """A correction of a stored span, a span near or across stored ones (overlapping or adjacent), or anywhere."""
    kind = draw(period_kinds) if stored else "anywhere"
    if kind == "correction":
        start, end = draw(st.sampled_from(stored)).span
    elif kind == "shifted":
        near = draw(st.sampled_from(stored))
        start, end = sorted((near.start_date + draw(days(-5, 5)), near.end_date + draw(days(-5, 5))))
    elif kind == "spanning":
        # From about the start of one stored period to about the end of the same or a later one.
        first, last = sorted(draw(st.lists(st.sampled_from(stored), min_size=2, max_size=2)), key=lambda p: p.span)
        start = first.start_date + draw(days(-3, 3))
        end = max(start, last.end_date + draw(days(-3, 3)))
    elif kind == "after_last":
        # 0 days after: shares the last day (overlap); 1 day after: adjacent.
        start = max(p.end_date for p in stored) + draw(days(0, 3))
        end = start + draw(days(0, 30))
    else:
        start = FIRST_DAY + draw(days(-10, 250))
        end = start + draw(days(0, 60))
    return draw(periods_between(start, end))


@st.composite
def nows(draw: st.DrawFn, periods: Sequence[Period]) -> datetime:
    """Long after every period, or around (sometimes exactly at) the end of one, so achieved_at gets capped."""
    if not periods or draw(st.booleans()):
        return datetime(2027, 6, 1, 12, 0, tzinfo=UTC) + draw(days(0, 400))
    end = end_of(draw(st.sampled_from(periods)).end_date)
    return end + draw(around_end_of_day)


def catalog_or(draw: st.DrawFn, catalog_value: T | None, other: st.SearchStrategy[T]) -> T:
    """The catalog's value (if any) about half the time, else another: records out of date with the catalog."""
    return catalog_value if catalog_value is not None and draw(st.booleans()) else draw(other)


@st.composite
def records(draw: st.DrawFn, key: str, current: Definition | None) -> Milestone:
    """A stored milestone for `key`: achieved (maybe unsupported), revoked or in progress, maybe person-set, maybe
    out of date with the catalog."""

    def kept(field: str) -> Any:
        return None if current is None else getattr(current, field)

    metric = catalog_or(draw, kept("type"), metrics)
    name = catalog_or(draw, kept("name"), old_names)
    threshold = catalog_or(draw, kept("threshold"), thresholds)
    position = catalog_or(draw, kept("position"), old_positions)
    status = draw(statuses)
    achieved = status is not Status.IN_PROGRESS
    revoked = status is Status.REVOKED
    return Milestone(
        id=milestone_id(MENTOR, key),
        mentor_id=MENTOR,
        definition_key=key,
        name=name,
        type=metric,
        threshold=threshold,
        position=position,
        status=status,
        current_value=draw(values),
        achieved_value=draw(values) if achieved else None,
        achieved_at=draw(moments) if achieved else None,
        set_by_person=draw(st.booleans()),
        revoked_at=draw(moments) if revoked else None,
        revocation_reason="Counted twice" if revoked else None,
        supported=draw(st.booleans()) if status is Status.ACHIEVED else True,
    )


@st.composite
def stored_states(draw: st.DrawFn, catalog: Sequence[Definition]) -> MentorState:
    """Stored periods, and a record for about half the catalog's keys and of some keys the catalog no longer has."""
    candidates = [(d.key, d) for d in catalog] + [(key, None) for key in OFF_CATALOG_KEYS]
    milestones = tuple(draw(records(key, d)) for key, d in candidates if draw(st.booleans()))
    return MentorState(MENTOR, draw(stored_periods()), milestones)


# --- properties ---------------------------------------------------------------------------------


@ONE_SUMMARY
@given(data=st.data(), catalog=catalogs())
def test_one_summary_is_decided_as_the_reference_decides(data: st.DataObject, catalog: tuple[Definition, ...]) -> None:
    state = data.draw(stored_states(catalog), label="state")
    period = data.draw(new_periods(state.periods), label="period")
    now = data.draw(nows((*state.periods, period)), label="now")
    assert_same_step(state, period, catalog, now)


@ONE_SUMMARY
@given(data=st.data(), catalog=catalogs())
def test_one_summary_under_the_revoke_policy_is_decided_as_the_reference_decides(
    data: st.DataObject, catalog: tuple[Definition, ...]
) -> None:
    state = data.draw(stored_states(catalog), label="state")
    period = data.draw(new_periods(state.periods), label="period")
    now = data.draw(nows((*state.periods, period)), label="now")
    assert_same_step(state, period, catalog, now, LostThreshold.REVOKE)


@LINE_BY_LINE
@given(data=st.data(), catalog=catalogs())
def test_a_batch_of_summaries_is_decided_as_the_reference_decides_them_one_by_one(
    data: st.DataObject, catalog: tuple[Definition, ...]
) -> None:
    state = data.draw(stored_states(catalog), label="state")
    now = data.draw(nows(state.periods), label="now")
    expected, periods, refused = state, [], []
    for number in range(1, data.draw(st.integers(2, 5), label="steps") + 1):
        period = data.draw(new_periods(expected.periods), label=f"period {number}")
        periods.append(period)
        outcome = reference_step(expected, period, catalog, now)
        if isinstance(outcome, PeriodOverlap):
            refused.append((number, outcome.detail))
        else:
            expected = outcome
    change = rules_lines(state, periods, catalog, now)
    assert change.refused == refused
    # Every line refused leaves the state as generated, in no particular order.
    assert in_order(after(state, change)) == in_order(expected)


updates = st.builds(
    MilestoneUpdate,
    status=st.none() | statuses,
    # Now and then negative, which both refuse.
    achieved_value=st.none() | values | st.integers(-100, -1).map(from_centi),
    achieved_at=st.none() | moments,
    # Now and then blank or too long, which both refuse.
    reason=st.none() | st.sampled_from(["Counted twice", "Entered for the wrong mentor", " ", "x" * 501]),
)


@ONE_SUMMARY
@given(data=st.data(), catalog=catalogs())
def test_a_persons_update_is_decided_as_the_reference_decides(
    data: st.DataObject, catalog: tuple[Definition, ...]
) -> None:
    state = data.draw(stored_states(catalog), label="state")
    ids = [m.id for m in state.milestones] + [milestone_id(MENTOR, "unknown")]
    target = data.draw(st.sampled_from(ids), label="id")
    update = data.draw(updates, label="update")
    now = data.draw(moments, label="now")
    try:
        expected: MentorState | Exception = reference.update_milestone(state, target, update, now)
    except (InvalidUpdate, MilestoneNotFound) as refused:
        expected = refused
    try:
        actual: MentorState | Exception = after(
            state, rules.update_milestone(target, update, stored_rows(state), now, actor=ANONYMOUS)
        )
    except (InvalidUpdate, MilestoneNotFound) as refused:
        actual = refused
    if isinstance(expected, Exception):
        assert type(actual) is type(expected)
        assert str(actual) == str(expected)
    else:
        assert isinstance(actual, MentorState)
        assert in_order(actual) == in_order(expected)


@ONE_SUMMARY
@given(data=st.data(), catalog=catalogs())
def test_removing_a_milestone_or_a_period_is_decided_as_the_reference_decides(
    data: st.DataObject, catalog: tuple[Definition, ...]
) -> None:
    state = data.draw(stored_states(catalog), label="state")
    now = data.draw(nows(state.periods), label="now")
    if state.milestones:
        target = data.draw(st.sampled_from(state.milestones), label="milestone").id
        change = rules.delete_milestone(target, stored_rows(state), now, actor=ANONYMOUS)
        assert in_order(after(state, change)) == in_order(reference.delete_milestone(state, target))
    if state.periods:
        removed = data.draw(st.sampled_from(state.periods), label="period")
        expected = reference.detect_milestones(
            reference.remove_period(state, removed.start_date, removed.end_date), catalog, now, state.periods
        )
        change = rules.remove_period(
            MENTOR,
            removed.start_date.isoformat(),
            removed.end_date.isoformat(),
            stored_rows(state),
            rules.RuleCatalog(catalog),
            encode_time(now),
            actor=ANONYMOUS,
        )
        assert after(state, change) == expected


@ONE_SUMMARY
@given(data=st.data(), catalog=catalogs())
def test_a_change_against_an_older_version_is_refused(data: st.DataObject, catalog: tuple[Definition, ...]) -> None:
    state = data.draw(stored_states(catalog), label="state")
    if not state.milestones:
        return
    target = data.draw(st.sampled_from(state.milestones), label="milestone")
    stored = stored_rows(state)
    current = row_version(next(row for row in stored.milestones if row.id == target.id))
    with pytest.raises(PreconditionFailed):
        rules.delete_milestone(target.id, stored, NOW, actor=ANONYMOUS, if_match=frozenset({"0" * 24}))
    change = rules.delete_milestone(target.id, stored, NOW, actor=ANONYMOUS, if_match=frozenset({current}))
    assert change.milestones_removed == [target.id]


# --- examples -----------------------------------------------------------------------------------

HOURS_10 = Definition("hours_10", "10 hours", MetricType.HOURS_LOGGED, Decimal("10"), 0)
HOURS_20 = Definition("hours_20", "20 hours", MetricType.HOURS_LOGGED, Decimal("20"), 1)
CATALOG = (HOURS_10, HOURS_20)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def year_2025(hours: str) -> Period:
    return Period(date(2025, 1, 1), date(2025, 12, 31), 2025, Summary(Decimal(hours), 0, 0))


def record(d: Definition) -> Milestone:
    """A stored in-progress record of `d`, as detection would have written it."""
    return Milestone(
        milestone_id(MENTOR, d.key),
        MENTOR,
        d.key,
        d.name,
        d.type,
        d.threshold,
        d.position,
        Status.IN_PROGRESS,
        Decimal(0),
    )


def both_sides(stored: Sequence[Milestone], period: Period, now: datetime = NOW) -> dict[str, Milestone]:
    """The milestones after one summary, by definition key, once both sides have agreed on them."""
    state = MentorState(MENTOR, (), tuple(stored))
    after = assert_same_step(state, period, CATALOG, now)
    return {m.definition_key: m for m in after.milestones}


def test_a_person_set_in_progress_record_keeps_its_status_and_gets_the_new_current_value() -> None:
    held_back = replace(record(HOURS_10), name="Held back", set_by_person=True)
    after = both_sides([held_back], year_2025("15"))
    assert after["hours_10"] == replace(held_back, current_value=Decimal(15))
    # The next rung up is the one being worked towards.
    assert after["hours_20"].status is Status.IN_PROGRESS


def test_an_achieved_record_off_the_catalog_stays_untouched_and_an_in_progress_one_goes() -> None:
    retired = Definition("retired_a", "Old rung", MetricType.ACTIVITY_COUNT, Decimal("3"), 7)
    reached_at = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    reached = replace(
        record(retired),
        status=Status.ACHIEVED,
        current_value=Decimal(4),
        achieved_value=Decimal(4),
        achieved_at=reached_at,
    )
    dropped = record(replace(retired, key="retired_b"))
    after = both_sides([reached, dropped], year_2025("1"))
    assert after["retired_a"] == reached
    assert "retired_b" not in after


def test_achieved_at_is_capped_at_now() -> None:
    before_the_end = datetime(2025, 6, 30, 8, 30, 15, 250000, tzinfo=UTC)
    after = both_sides([], year_2025("12.50"), now=before_the_end)
    assert after["hours_10"].status is Status.ACHIEVED
    assert after["hours_10"].achieved_at == before_the_end


def test_achieved_at_is_the_end_of_the_crossing_period() -> None:
    after = both_sides([], year_2025("12.50"))
    assert after["hours_10"].achieved_at == end_of(date(2025, 12, 31))
    assert after["hours_10"].achieved_value == Decimal("12.5")


def test_an_overlapping_summary_is_refused_with_the_same_message() -> None:
    state = MentorState(MENTOR, (year_2025("1"),), ())
    overlapping = Period(date(2025, 12, 31), date(2026, 1, 31), 2026, Summary(Decimal(1), 0, 0))
    with pytest.raises(PeriodOverlap, match=r"overlaps the stored period 2025-01-01\.\.2025-12-31;"):
        reference.record_period(state, overlapping)
    assert assert_same_step(state, overlapping, CATALOG, NOW) is state


def test_a_total_landing_exactly_on_the_threshold_reaches_it_at_that_period() -> None:
    first_half = Period(date(2025, 1, 1), date(2025, 6, 30), 2025, Summary(Decimal("10.00"), 0, 0))
    state = MentorState(MENTOR, (first_half,), ())
    second_half = Period(date(2025, 7, 1), date(2025, 12, 31), 2025, Summary(Decimal("10"), 0, 0))
    after = assert_same_step(state, second_half, CATALOG, NOW)
    reached = {m.definition_key: m.achieved_at for m in after.milestones}
    assert reached == {"hours_10": end_of(date(2025, 6, 30)), "hours_20": end_of(date(2025, 12, 31))}


@st.composite
def apart(draw: st.DrawFn) -> tuple[Period, ...]:
    """1-4 periods apart from each other, each maybe with evidence."""
    found: list[Period] = []
    start = FIRST_DAY + draw(days(0, 30))
    for _ in range(draw(st.integers(1, 4))):
        end = start + draw(days(0, 60))
        found.append(draw(periods_between(start, end)))
        start = end + draw(days(1, 30))
    return tuple(found)


@ONE_SUMMARY
@given(periods=apart(), order=st.randoms(use_true_random=False))
def test_the_union_of_contacts_is_the_reference_union(periods: tuple[Period, ...], order: Any) -> None:
    shuffled = list(periods)
    order.shuffle(shuffled)
    rows = {(r.start_date, r.end_date): r for r in (period_to_row(MENTOR, p) for p in shuffled)}
    sums = rules.totals(rows)
    assert from_centi(sums[MetricType.CONTACTS_HELPED.value]) == reference.total(periods, MetricType.CONTACTS_HELPED)
    assert bool(sums["upper_bound"]) == reference.upper_bound(periods, MetricType.CONTACTS_HELPED)


@ONE_SUMMARY
@given(periods=apart(), metric=metrics, threshold=thresholds)
def test_the_crossing_day_is_the_reference_day(
    periods: tuple[Period, ...], metric: MetricType, threshold: Decimal
) -> None:
    value = reference.total(periods, metric)
    threshold = min(threshold, value) if value > 0 else threshold
    assume(value >= threshold)
    definition = Definition("rung", "Rung", metric, threshold, 0)
    far_later = datetime(2030, 1, 1, tzinfo=UTC)
    expected = reference.crossing_time(periods, definition, far_later)
    ordered = [period_to_row(MENTOR, p) for p in periods]
    day, precision = crossing(ordered, metric.value, int(threshold.scaleb(2)))
    assert (end_of(date.fromisoformat(day)), precision) == expected
