"""The milestone rules (`domain.rules`) by example: ids, periods, detection, progress, ordering, a person's updates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from milestones.domain import (
    Definition,
    MetricType,
    Milestone,
    MilestoneUpdate,
    Period,
    Status,
    in_progress_order,
    mentor_of,
    milestone_id,
    progress,
)
from milestones.errors import InvalidUpdate, MilestoneNotFound, PeriodNotFound, PeriodOverlap
from tests.domain.on_objects import (
    delete_milestone,
    detect_milestones,
    record_period,
    remove_period,
    update_milestone,
)
from tests.factories import definition, ladder, mentor_state, period
from tests.reference_model import MentorState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MENTOR = "mentor_001"
# RFC 3986 path-segment characters that need no escaping (mentor ids may hold ":" and "@").
URL_SAFE = re.compile(r"[A-Za-z0-9._~:@-]+")

H1_2025 = (date(2025, 1, 1), date(2025, 6, 30))
H2_2025 = (date(2025, 7, 1), date(2025, 12, 31))


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def by_key(state: MentorState) -> dict[str, Milestone]:
    return {m.definition_key: m for m in state.milestones}


def detected(*periods: Period, catalog: tuple[Definition, ...] | None = None, now: datetime = NOW) -> MentorState:
    return detect_milestones(mentor_state(MENTOR, *periods), catalog or ladder(), now)


def year(y: int, *, hours: str = "0", contacts: int = 0, activities: int = 0) -> Period:
    return period(date(y, 1, 1), date(y, 12, 31), hours=hours, contacts=contacts, activities=activities)


def half(span: tuple[date, date], *, hours: str = "0", contacts: int = 0, activities: int = 0) -> Period:
    return period(span[0], span[1], hours=hours, contacts=contacts, activities=activities)


def spans(state: MentorState) -> list[tuple[date, date]]:
    return [p.span for p in state.periods]


# --- milestone_id -------------------------------------------------------------------------------

# Every id the API accepts: letters, digits and . _ : @ - (validated before the domain sees them).
MENTOR_IDS = ["mentor_001", "mentor_002", "a.b", "a:b", "1:a@b", "a-b_c", "x"]
KEYS = ["100h", "300h", "50contacts", "a_b", "c"]


def test_milestone_id_is_deterministic() -> None:
    first = milestone_id("mentor_001", "100h")
    assert milestone_id("mentor_001", "100h") == first
    assert milestone_id("".join(["mentor", "_001"]), "".join(["100", "h"])) == first


@pytest.mark.parametrize("mentor", MENTOR_IDS)
@pytest.mark.parametrize("key", KEYS)
def test_milestone_id_is_url_safe(mentor: str, key: str) -> None:
    assert URL_SAFE.fullmatch(milestone_id(mentor, key))


def test_milestone_id_differs_across_mentors_and_keys() -> None:
    ids = {milestone_id(mentor, key) for mentor in MENTOR_IDS for key in KEYS}
    assert len(ids) == len(MENTOR_IDS) * len(KEYS)


@pytest.mark.parametrize("mentor", MENTOR_IDS)
def test_milestone_id_reads_back_to_its_mentor_and_key(mentor: str) -> None:
    assert milestone_id(mentor, "100h").split("~") == [mentor, "100h"]
    assert mentor_of(milestone_id(mentor, "100h")) == mentor


@pytest.mark.parametrize(
    "text",
    ["noseparator", "m~", "~100h", "m~NOPE", "m~100h~x", ".~100h", "..~100h", "a b~k", "m\x00~k", "x" * 129 + "~k"],
)
def test_text_that_cannot_be_a_milestone_id_names_no_mentor(text: str) -> None:
    assert mentor_of(text) is None


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("a_b", "c"), ("a", "b_c")),
        (("a", "b_c"), ("a_b", "c")),
        (("a:b", "c"), ("a", "b:c")),
        (("1:a", "b"), ("1", "a_b")),
        (("m-1", "0h"), ("m", "1_0h")),
    ],
)
def test_milestone_id_has_no_collision_for_ambiguous_joins(one: tuple[str, str], other: tuple[str, str]) -> None:
    assert milestone_id(*one) != milestone_id(*other)


# --- record_period / remove_period --------------------------------------------------------------


def test_record_period_adds_a_period() -> None:
    added = half(H1_2025, hours="10", contacts=2, activities=3)
    state = record_period(mentor_state(MENTOR), added)
    assert state.periods == (added,)
    assert state.mentor_id == MENTOR


def test_record_period_with_same_dates_replaces_the_summary() -> None:
    state = record_period(mentor_state(MENTOR), half(H1_2025, hours="10", contacts=2))
    state = record_period(state, half(H2_2025, hours="5"))
    corrected = half(H1_2025, hours="7.5", contacts=9, activities=1)
    state = record_period(state, corrected)
    assert spans(state) == [H1_2025, H2_2025]
    assert state.periods[0] == corrected
    assert state.periods[1].summary.total_hours == Decimal("5")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(date(2025, 6, 30), date(2025, 12, 31), id="shares-last-day"),
        pytest.param(date(2024, 7, 1), date(2025, 1, 1), id="shares-first-day"),
        pytest.param(date(2025, 6, 30), date(2025, 6, 30), id="single-day-on-end"),
        pytest.param(date(2025, 3, 1), date(2025, 3, 31), id="inside"),
        pytest.param(date(2024, 1, 1), date(2025, 12, 31), id="encloses"),
        pytest.param(date(2025, 1, 1), date(2025, 3, 31), id="same-start-other-end"),
        pytest.param(date(2024, 12, 1), date(2025, 6, 30), id="other-start-same-end"),
    ],
)
def test_record_period_rejects_an_overlapping_period(start: date, end: date) -> None:
    stored = half(H1_2025, hours="10")
    state = record_period(mentor_state(MENTOR), stored)
    with pytest.raises(PeriodOverlap):
        record_period(state, period(start, end, hours="1"))
    assert state.periods == (stored,)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(date(2025, 7, 1), date(2025, 12, 31), id="day-after"),
        pytest.param(date(2024, 7, 1), date(2024, 12, 31), id="day-before"),
        pytest.param(date(2024, 12, 31), date(2024, 12, 31), id="single-day-before"),
        pytest.param(date(2025, 7, 1), date(2025, 7, 1), id="single-day-after"),
    ],
)
def test_record_period_accepts_an_adjacent_period(start: date, end: date) -> None:
    state = record_period(mentor_state(MENTOR), half(H1_2025, hours="10"))
    state = record_period(state, period(start, end, hours="1"))
    assert sorted(spans(state)) == sorted([H1_2025, (start, end)])


def test_record_period_keeps_periods_sorted_by_date() -> None:
    state = mentor_state(MENTOR)
    for added in (half(H2_2025), year(2023), half(H1_2025), year(2024)):
        state = record_period(state, added)
    assert spans(state) == [
        (date(2023, 1, 1), date(2023, 12, 31)),
        (date(2024, 1, 1), date(2024, 12, 31)),
        H1_2025,
        H2_2025,
    ]


def test_remove_period_removes_only_that_period() -> None:
    state = mentor_state(MENTOR)
    for added in (year(2024, hours="1"), half(H1_2025, hours="2"), half(H2_2025, hours="3")):
        state = record_period(state, added)
    state = remove_period(state, *H1_2025, ladder(), NOW)
    assert spans(state) == [(date(2024, 1, 1), date(2024, 12, 31)), H2_2025]
    # And the mentor is evaluated again: 1 + 3 hours towards the first rung.
    assert by_key(state)["100h"].current_value == Decimal(4)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(date(2023, 1, 1), date(2023, 12, 31), id="absent"),
        pytest.param(date(2025, 1, 1), date(2025, 3, 31), id="same-start-only"),
        pytest.param(date(2025, 3, 1), date(2025, 6, 30), id="same-end-only"),
    ],
)
def test_remove_period_of_unknown_dates_raises(start: date, end: date) -> None:
    state = record_period(mentor_state(MENTOR), half(H1_2025, hours="2"))
    with pytest.raises(PeriodNotFound):
        remove_period(state, start, end, ladder(), NOW)


# --- detect_milestones --------------------------------------------------------------------------


def test_detection_on_no_periods_starts_the_lowest_rung_of_every_type() -> None:
    state = detected()
    assert [(m.definition_key, m.status, m.current_value) for m in state.milestones] == [
        ("100h", Status.IN_PROGRESS, Decimal(0)),
        ("25contacts", Status.IN_PROGRESS, Decimal(0)),
        ("100activities", Status.IN_PROGRESS, Decimal(0)),
    ]


def test_detection_sums_all_periods() -> None:
    state = detected(
        year(2024, hours="60", contacts=10, activities=40),
        year(2025, hours="50", contacts=10, activities=40),
    )
    found = by_key(state)
    assert found["100h"].status is Status.ACHIEVED
    assert found["100h"].achieved_value == Decimal("110")
    assert found["300h"].status is Status.IN_PROGRESS
    assert found["300h"].current_value == Decimal("110")
    assert found["25contacts"].current_value == Decimal(20)
    assert found["100activities"].current_value == Decimal(80)


def test_detected_records_carry_the_definition_and_a_stable_id() -> None:
    record = by_key(detected(year(2025, hours="150")))["300h"]
    assert record.id == milestone_id(MENTOR, "300h")
    assert record.mentor_id == MENTOR
    assert record.name == "300 hours_logged"
    assert record.type is MetricType.HOURS_LOGGED
    assert record.threshold == Decimal(300)
    assert record.position == 1
    assert record.achieved_value is None
    assert record.achieved_at is None
    assert record.set_by_person is False


def test_reaching_exactly_the_threshold_achieves_it() -> None:
    record = by_key(detected(year(2025, hours="100")))["100h"]
    assert record.status is Status.ACHIEVED
    assert record.achieved_value == Decimal(100)


def test_every_reached_rung_is_achieved_with_the_cumulative_total() -> None:
    state = detected(
        year(2024, hours="60"),
        half(H1_2025, hours="50"),
        half(H2_2025, hours="250"),
    )
    found = by_key(state)
    assert found["100h"].status is Status.ACHIEVED
    assert found["300h"].status is Status.ACHIEVED
    assert found["100h"].achieved_value == found["300h"].achieved_value == Decimal("360")
    assert found["100h"].current_value == Decimal("360")
    assert found["100h"].achieved_at == end_of(H1_2025[1])
    assert found["300h"].achieved_at == end_of(H2_2025[1])
    assert found["500h"].status is Status.IN_PROGRESS
    assert found["500h"].current_value == Decimal("360")


def test_achieved_at_is_never_later_than_now() -> None:
    state = detected(period(date(2026, 1, 1), date(2026, 3, 31), hours="120"))
    assert by_key(state)["100h"].achieved_at == NOW


def test_achieved_at_is_now_when_the_crossing_period_ends_today() -> None:
    state = detected(period(date(2026, 1, 1), NOW.date(), hours="120"))
    assert by_key(state)["100h"].achieved_at == NOW


def test_achieved_at_walks_periods_in_date_order_not_insertion_order() -> None:
    # Inserted out of order: walking in insertion order would cross 100 h in the 2025 period.
    later, earlier = year(2025, hours="150"), year(2024, hours="100")
    state = detect_milestones(mentor_state(MENTOR, later, earlier), ladder(), NOW)
    assert by_key(state)["100h"].achieved_at == end_of(date(2024, 12, 31))
    assert by_key(state)["300h"].status is Status.IN_PROGRESS


def test_only_the_next_unreached_rung_of_each_type_is_stored() -> None:
    found = by_key(detected(year(2025, hours="150", contacts=30, activities=10)))
    assert found.keys() == {"100h", "300h", "25contacts", "50contacts", "100activities"}
    assert found["300h"].status is Status.IN_PROGRESS
    assert found["50contacts"].status is Status.IN_PROGRESS
    assert found["100activities"].status is Status.IN_PROGRESS
    assert "500h" not in found


def test_the_next_rung_is_the_lowest_threshold_not_the_first_listed() -> None:
    catalog = (
        definition("big", MetricType.HOURS_LOGGED, 500, 0),
        definition("small", MetricType.HOURS_LOGGED, 50, 1),
        definition("mid", MetricType.HOURS_LOGGED, 200, 2),
    )
    found = by_key(detected(year(2025, hours="60"), catalog=catalog))
    assert found.keys() == {"small", "mid"}
    assert found["small"].status is Status.ACHIEVED
    assert found["mid"].status is Status.IN_PROGRESS


def test_a_type_with_every_rung_reached_has_no_in_progress_record() -> None:
    state = detected(year(2025, hours="520", contacts=60, activities=100))
    assert [(m.definition_key, m.status) for m in state.milestones] == [
        ("100h", Status.ACHIEVED),
        ("300h", Status.ACHIEVED),
        ("500h", Status.ACHIEVED),
        ("25contacts", Status.ACHIEVED),
        ("50contacts", Status.ACHIEVED),
        ("100activities", Status.ACHIEVED),
    ]


def test_an_achieved_record_survives_a_correction_below_its_threshold() -> None:
    state = record_period(mentor_state(MENTOR), year(2025, hours="150"))
    state = detect_milestones(state, ladder(), NOW)
    before = by_key(state)["100h"]
    state = record_period(state, year(2025, hours="20"))
    later = datetime(2026, 6, 1, tzinfo=UTC)
    found = by_key(detect_milestones(state, ladder(), later))
    assert found["100h"].status is Status.ACHIEVED
    assert found["100h"].achieved_value == Decimal("150")
    assert found["100h"].achieved_at == before.achieved_at == end_of(date(2025, 12, 31))
    assert found["300h"].status is Status.IN_PROGRESS
    assert found["300h"].current_value == Decimal("20")


def test_an_in_progress_record_that_is_no_longer_the_next_rung_is_removed() -> None:
    state = detected(year(2025, hours="80"))
    assert by_key(state)["100h"].status is Status.IN_PROGRESS
    catalog = (*ladder(), definition("90h", MetricType.HOURS_LOGGED, 90, 6))
    found = by_key(detect_milestones(state, catalog, NOW))
    assert "100h" not in found
    assert found["90h"].status is Status.IN_PROGRESS
    assert found["90h"].current_value == Decimal("80")


def test_an_in_progress_record_is_removed_when_a_lower_rung_becomes_next_again() -> None:
    state = record_period(mentor_state(MENTOR), year(2025, hours="150"))
    state = detect_milestones(state, ladder(), NOW)
    state = delete_milestone(state, milestone_id(MENTOR, "100h"))
    state = record_period(state, year(2025, hours="50"))
    found = by_key(detect_milestones(state, ladder(), NOW))
    assert "300h" not in found
    assert found["100h"].status is Status.IN_PROGRESS
    assert found["100h"].current_value == Decimal("50")


def test_a_person_set_achievement_is_kept_after_totals_drop() -> None:
    state = record_period(mentor_state(MENTOR), year(2025, hours="80"))
    state = detect_milestones(state, ladder(), NOW)
    set_at = datetime(2026, 2, 14, 9, 30, tzinfo=UTC)
    update = MilestoneUpdate(status=Status.ACHIEVED, achieved_value=Decimal("80"), achieved_at=set_at)
    state = update_milestone(state, milestone_id(MENTOR, "100h"), update, NOW)
    state = record_period(state, year(2025, hours="10"))
    record = by_key(detect_milestones(state, ladder(), NOW))["100h"]
    assert record.status is Status.ACHIEVED
    assert record.achieved_value == Decimal("80")
    assert record.achieved_at == set_at
    assert record.set_by_person is True


def test_a_person_set_in_progress_record_keeps_its_status_and_only_current_value_changes() -> None:
    state = record_period(mentor_state(MENTOR), year(2024, hours="80"))
    state = detect_milestones(state, ladder(), NOW)
    state = update_milestone(state, milestone_id(MENTOR, "100h"), MilestoneUpdate(status=Status.IN_PROGRESS), NOW)
    state = record_period(state, year(2025, hours="120"))
    found = by_key(detect_milestones(state, ladder(), NOW))
    record = found["100h"]
    assert record.status is Status.IN_PROGRESS
    assert record.set_by_person is True
    assert record.current_value == Decimal("200")
    assert record.achieved_value is None
    assert record.achieved_at is None
    assert found["300h"].status is Status.IN_PROGRESS
    assert found["300h"].current_value == Decimal("200")


def test_records_whose_definition_left_the_catalog() -> None:
    state = detected(year(2025, hours="150", contacts=5))
    person_set = update_milestone(
        state, milestone_id(MENTOR, "25contacts"), MilestoneUpdate(status=Status.IN_PROGRESS), NOW
    )
    achieved_before = by_key(person_set)["100h"]
    shrunk = (
        definition("500h", MetricType.HOURS_LOGGED, 500, 0),
        definition("100activities", MetricType.ACTIVITY_COUNT, 100, 1),
    )
    found = by_key(detect_milestones(person_set, shrunk, NOW))
    assert found["100h"] == achieved_before
    assert "300h" not in found
    assert found["25contacts"].status is Status.IN_PROGRESS
    assert found["25contacts"].set_by_person is True
    assert found["500h"].status is Status.IN_PROGRESS
    assert found["500h"].current_value == Decimal("150")


def test_plain_in_progress_record_is_dropped_when_its_definition_leaves_the_catalog() -> None:
    state = detected(year(2025, hours="50"))
    assert by_key(state)["100h"].status is Status.IN_PROGRESS
    catalog = (definition("100activities", MetricType.ACTIVITY_COUNT, 100, 0),)
    found = by_key(detect_milestones(state, catalog, NOW))
    assert found.keys() == {"100activities"}


def test_detection_orders_records_by_catalog_position() -> None:
    state = detected(year(2025, hours="150", contacts=30, activities=120))
    assert [m.definition_key for m in state.milestones] == ["100h", "300h", "25contacts", "50contacts", "100activities"]


def test_detection_order_follows_positions_across_interleaved_types() -> None:
    catalog = (
        definition("c10", MetricType.CONTACTS_HELPED, 10, 0),
        definition("h10", MetricType.HOURS_LOGGED, 10, 1),
        definition("a10", MetricType.ACTIVITY_COUNT, 10, 2),
        definition("h20", MetricType.HOURS_LOGGED, 20, 3),
        definition("c20", MetricType.CONTACTS_HELPED, 20, 4),
    )
    state = detected(year(2025, hours="15", contacts=15, activities=3), catalog=catalog)
    assert [m.definition_key for m in state.milestones] == ["c10", "h10", "a10", "h20", "c20"]


IDEMPOTENCE_CASES = [
    pytest.param((), id="nothing"),
    pytest.param((year(2025, hours="150", contacts=30, activities=120),), id="one-year"),
    pytest.param((year(2025, hours="160"), year(2024, hours="200", contacts=60)), id="unsorted"),
    pytest.param((year(2025, hours="999", contacts=999, activities=999),), id="everything"),
]


@pytest.mark.parametrize("periods", IDEMPOTENCE_CASES)
def test_detection_is_idempotent(periods: tuple[Period, ...]) -> None:
    once = detected(*periods)
    assert detect_milestones(once, ladder(), NOW) == once


def test_detection_after_a_correction_is_idempotent() -> None:
    state = record_period(mentor_state(MENTOR), year(2025, hours="350"))
    state = detect_milestones(state, ladder(), NOW)
    state = record_period(state, year(2025, hours="40"))
    once = detect_milestones(state, ladder(), NOW)
    assert detect_milestones(once, ladder(), NOW) == once


def test_decimal_sums_have_no_float_noise() -> None:
    catalog = (
        definition("h03", MetricType.HOURS_LOGGED, "0.3", 0),
        definition("h1", MetricType.HOURS_LOGGED, 1, 1),
    )
    found = by_key(detected(half(H1_2025, hours="0.1"), half(H2_2025, hours="0.2"), catalog=catalog))
    assert found["h03"].status is Status.ACHIEVED
    assert found["h03"].achieved_value == Decimal("0.3")
    assert found["h1"].current_value == Decimal("0.3")
    assert found["h1"].current_value.as_tuple() == Decimal("0.30").as_tuple()  # exact hundredths, no noise


# --- progress / in_progress_order ---------------------------------------------------------------


def milestone(
    current: str | int,
    threshold: str | int,
    *,
    key: str = "k",
    position: int = 0,
    status: Status = Status.IN_PROGRESS,
    metric: MetricType = MetricType.HOURS_LOGGED,
) -> Milestone:
    return Milestone(
        id=milestone_id(MENTOR, key),
        mentor_id=MENTOR,
        definition_key=key,
        name=key,
        type=metric,
        threshold=Decimal(str(threshold)),
        position=position,
        status=status,
        current_value=Decimal(str(current)),
    )


@pytest.mark.parametrize(
    ("current", "threshold", "percentage", "remaining"),
    [
        (47, 50, 94, "3"),
        ("49.99", 50, 99, "0.01"),
        (0, 50, 0, "50"),
        (2, 3, 66, "1"),
        (1, 3, 33, "2"),
        ("312.5", 500, 62, "187.5"),
        ("0.5", 1, 50, "0.5"),
        (50, 50, 99, "0"),
        (75, 50, 99, "0"),
    ],
)
def test_progress(current: str | int, threshold: int, percentage: int, remaining: str) -> None:
    result = progress(milestone(current, threshold))
    assert result.percentage == percentage
    assert result.remaining == Decimal(remaining)
    assert result.current_value == Decimal(str(current))


def test_in_progress_order_puts_the_highest_percentage_first() -> None:
    near = milestone(90, 100, key="near", position=5)  # 90 %, 10 remaining
    small = milestone(1, 2, key="small", position=0)  # 50 %, 1 remaining
    assert [m.definition_key for m in in_progress_order([small, near])] == ["near", "small"]


def test_in_progress_order_breaks_percentage_ties_by_least_remaining() -> None:
    big = milestone(50, 100, key="big", position=0)  # 50 %, 50 remaining
    little = milestone(5, 10, key="little", position=1)  # 50 %, 5 remaining
    assert [m.definition_key for m in in_progress_order([big, little])] == ["little", "big"]


def test_in_progress_order_breaks_remaining_ties_by_catalog_position() -> None:
    # Keys chosen so that ordering by id would give the opposite answer.
    late = milestone(5, 10, key="a_late", position=5)
    early = milestone(5, 10, key="z_early", position=2)
    assert [m.definition_key for m in in_progress_order([late, early])] == ["z_early", "a_late"]


def test_in_progress_order_excludes_achieved_records() -> None:
    done = milestone(100, 100, key="done", status=Status.ACHIEVED)
    open_one = milestone(10, 100, key="open")
    assert [m.definition_key for m in in_progress_order([done, open_one])] == ["open"]


# --- update_milestone ---------------------------------------------------------------------------


@pytest.fixture
def at_80_hours() -> MentorState:
    """100h in progress at 80."""
    return detected(year(2025, hours="80"))


@pytest.fixture
def at_150_hours() -> MentorState:
    """100h achieved at the end of 2025 with 150; 300h in progress."""
    return detected(year(2025, hours="150"))


ID_100H = milestone_id(MENTOR, "100h")


def test_achieving_an_in_progress_record_stamps_now_and_the_current_value(at_80_hours: MentorState) -> None:
    state = update_milestone(at_80_hours, ID_100H, MilestoneUpdate(status=Status.ACHIEVED), NOW)
    record = by_key(state)["100h"]
    assert record.status is Status.ACHIEVED
    assert record.achieved_at == NOW
    assert record.achieved_value == Decimal("80")
    assert record.set_by_person is True


def test_achieving_with_given_values_uses_them(at_80_hours: MentorState) -> None:
    when = datetime(2025, 11, 2, 8, 0, tzinfo=UTC)
    update = MilestoneUpdate(status=Status.ACHIEVED, achieved_value=Decimal("100"), achieved_at=when)
    record = by_key(update_milestone(at_80_hours, ID_100H, update, NOW))["100h"]
    assert record.achieved_at == when
    assert record.achieved_value == Decimal("100")


def test_achieving_an_achieved_record_keeps_its_achieved_at(at_150_hours: MentorState) -> None:
    update = MilestoneUpdate(status=Status.ACHIEVED, achieved_value=Decimal("120"))
    record = by_key(update_milestone(at_150_hours, ID_100H, update, NOW))["100h"]
    assert record.status is Status.ACHIEVED
    assert record.achieved_at == end_of(date(2025, 12, 31))
    assert record.achieved_value == Decimal("120")
    assert record.set_by_person is True


def test_re_achieving_keeps_a_previously_set_achieved_value(at_150_hours: MentorState) -> None:
    state = update_milestone(at_150_hours, ID_100H, MilestoneUpdate(achieved_value=Decimal("120")), NOW)
    state = update_milestone(state, ID_100H, MilestoneUpdate(status=Status.ACHIEVED), NOW)
    record = by_key(state)["100h"]
    assert record.current_value == Decimal("150")
    assert record.achieved_value == Decimal("120")
    assert record.achieved_at == end_of(date(2025, 12, 31))


@pytest.mark.parametrize("fixture", ["at_80_hours", "at_150_hours"])
def test_an_empty_update_changes_nothing(request: pytest.FixtureRequest, fixture: str) -> None:
    state: MentorState = request.getfixturevalue(fixture)
    assert update_milestone(state, ID_100H, MilestoneUpdate(), NOW) == state
    # Not marked as a person's decision either: detection still moves it.
    later = detect_milestones(record_period(state, year(2026, hours="500")), ladder(), NOW)
    assert by_key(later)["500h"].status is Status.ACHIEVED


def test_a_partial_update_of_achieved_at_keeps_status_and_value(at_150_hours: MentorState) -> None:
    when = datetime(2025, 10, 1, tzinfo=UTC)
    record = by_key(update_milestone(at_150_hours, ID_100H, MilestoneUpdate(achieved_at=when), NOW))["100h"]
    assert record.status is Status.ACHIEVED
    assert record.achieved_at == when
    assert record.achieved_value == Decimal("150")


def test_setting_in_progress_clears_an_achievement_given_by_hand(at_80_hours: MentorState) -> None:
    awarded = update_milestone(at_80_hours, ID_100H, MilestoneUpdate(status=Status.ACHIEVED), NOW)
    state = update_milestone(awarded, ID_100H, MilestoneUpdate(status=Status.IN_PROGRESS), NOW)
    record = by_key(state)["100h"]
    assert record.status is Status.IN_PROGRESS
    assert record.achieved_at is None
    assert record.achieved_value is None
    assert record.set_by_person is True


def test_in_progress_is_refused_while_the_current_value_meets_the_threshold(at_150_hours: MentorState) -> None:
    with pytest.raises(InvalidUpdate, match=r"already meets the threshold.*DELETE") as caught:
        update_milestone(at_150_hours, ID_100H, MilestoneUpdate(status=Status.IN_PROGRESS), NOW)
    assert caught.value.field == "status"


def test_achieved_below_the_threshold_is_allowed_by_hand(at_80_hours: MentorState) -> None:
    state = update_milestone(at_80_hours, ID_100H, MilestoneUpdate(status=Status.ACHIEVED), NOW)
    assert by_key(state)["100h"].status is Status.ACHIEVED
    assert by_key(state)["100h"].achieved_value == Decimal(80)


def test_achieved_at_may_be_a_minute_ahead_but_no_more(at_80_hours: MentorState) -> None:
    ahead = MilestoneUpdate(status=Status.ACHIEVED, achieved_at=NOW + timedelta(minutes=1))
    assert by_key(update_milestone(at_80_hours, ID_100H, ahead, NOW))["100h"].achieved_at == NOW + timedelta(minutes=1)
    future = MilestoneUpdate(status=Status.ACHIEVED, achieved_at=NOW + timedelta(minutes=1, seconds=1))
    with pytest.raises(InvalidUpdate, match="in the future") as caught:
        update_milestone(at_80_hours, ID_100H, future, NOW)
    assert caught.value.field == "achieved_at"


@pytest.mark.parametrize("value", ["-0.01", "-1", "Infinity", "NaN"])
def test_a_negative_or_non_finite_achieved_value_is_refused(at_80_hours: MentorState, value: str) -> None:
    update = MilestoneUpdate(status=Status.ACHIEVED, achieved_value=Decimal(value))
    with pytest.raises(InvalidUpdate, match="0 or more") as caught:
        update_milestone(at_80_hours, ID_100H, update, NOW)
    assert caught.value.field == "achieved_value"


def test_update_changes_only_the_targeted_record(at_150_hours: MentorState) -> None:
    state = update_milestone(at_150_hours, ID_100H, MilestoneUpdate(achieved_value=Decimal(120)), NOW)
    assert by_key(state)["100h"].achieved_value == Decimal(120)
    assert by_key(state)["300h"] == by_key(at_150_hours)["300h"]
    assert state.periods == at_150_hours.periods
    assert [m.id for m in state.milestones] == [m.id for m in at_150_hours.milestones]


@pytest.mark.parametrize(
    ("fixture", "update", "field"),
    [
        pytest.param(
            "at_150_hours",
            MilestoneUpdate(status=Status.IN_PROGRESS, achieved_at=NOW),
            "achieved_at",
            id="in-progress-with-achieved-at",
        ),
        pytest.param(
            "at_80_hours",
            MilestoneUpdate(status=Status.IN_PROGRESS, achieved_at=NOW),
            "achieved_at",
            id="in-progress-with-achieved-at-on-open-record",
        ),
        pytest.param(
            "at_150_hours",
            MilestoneUpdate(status=Status.IN_PROGRESS, achieved_value=Decimal("5")),
            "achieved_value",
            id="in-progress-with-achieved-value",
        ),
        pytest.param(
            "at_80_hours",
            MilestoneUpdate(achieved_value=Decimal("5")),
            "achieved_value",
            id="achieved-value-on-open-record",
        ),
    ],
)
def test_contradictory_updates_are_rejected(
    request: pytest.FixtureRequest, fixture: str, update: MilestoneUpdate, field: str
) -> None:
    state: MentorState = request.getfixturevalue(fixture)
    with pytest.raises(InvalidUpdate) as caught:
        update_milestone(state, ID_100H, update, NOW)
    assert caught.value.field == field


def test_updating_an_unknown_id_raises(at_80_hours: MentorState) -> None:
    with pytest.raises(MilestoneNotFound):
        update_milestone(at_80_hours, milestone_id("someone_else", "100h"), MilestoneUpdate(), NOW)


# --- delete_milestone ---------------------------------------------------------------------------


def test_delete_milestone_removes_only_that_record(at_150_hours: MentorState) -> None:
    state = delete_milestone(at_150_hours, ID_100H)
    assert "100h" not in by_key(state)
    assert len(state.milestones) == len(at_150_hours.milestones) - 1
    assert by_key(state)["300h"] == by_key(at_150_hours)["300h"]


def test_deleting_an_unknown_id_raises(at_150_hours: MentorState) -> None:
    with pytest.raises(MilestoneNotFound):
        delete_milestone(at_150_hours, milestone_id(MENTOR, "500h"))


@pytest.mark.parametrize("key", ["100h", "300h"])
def test_detection_recreates_a_deleted_record_with_the_same_id(at_150_hours: MentorState, key: str) -> None:
    original = by_key(at_150_hours)[key]
    state = delete_milestone(at_150_hours, original.id)
    recreated = by_key(detect_milestones(state, ladder(), NOW))[key]
    assert recreated.id == original.id
    assert recreated == original


def test_detection_follows_a_reordered_catalog() -> None:
    state = mentor_state("mentor_001", period(hours="150", contacts=30))
    first = detect_milestones(state, ladder(), NOW_FOR_REORDER)
    reordered = tuple(
        definition(d.key, d.type, d.threshold, position)
        for position, d in enumerate(sorted(ladder(), key=lambda d: d.type != MetricType.CONTACTS_HELPED))
    )
    again = detect_milestones(first, reordered, NOW_FOR_REORDER)
    fresh = detect_milestones(state, reordered, NOW_FOR_REORDER)
    assert [m.definition_key for m in again.milestones] == [m.definition_key for m in fresh.milestones]
    assert [m.definition_key for m in again.milestones][:2] == ["25contacts", "50contacts"]


NOW_FOR_REORDER = datetime(2026, 3, 1, tzinfo=UTC)
