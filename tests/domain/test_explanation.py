"""A milestone's value taken apart, and the estimate of when the next one comes: pure rules, by example."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from milestones.domain.evidence import contacts_total
from milestones.domain.explanation import estimated_completion, explain, pace, years_after
from milestones.domain.rows import period_to_row
from tests.factories import period

HOURS, CONTACTS, ACTIVITIES = "hours_logged", "contacts_helped", "activity_count"


def rows(*periods: object) -> list:  # type: ignore[type-arg]
    return [period_to_row("m", p) for p in periods]  # type: ignore[arg-type]


# --- what a value is made of ---------------------------------------------------------------------------------


def test_summed_hours_are_each_periods_part_in_date_order() -> None:
    stored = rows(period(date(2025, 1, 1), hours="12.5"), period(date(2024, 1, 1), hours="30"))
    explained = explain(stored, HOURS, 4000)
    assert [(p.start_date, p.value_centi) for p in explained.parts] == [("2024-01-01", 3000), ("2025-01-01", 1250)]
    assert explained.value_centi == 4250
    assert explained.crossed is not None and explained.crossed.start_date == "2025-01-01"
    assert explained.crossed.day is None  # no dated activity: only the period is known


def test_exact_contacts_count_once_in_the_period_that_first_named_them_in_date_order() -> None:
    stored = rows(
        period(date(2024, 1, 1), identifiers=("b", "a")),
        period(
            date(2025, 1, 1),
            identifiers=("a", "c", "d", "e"),
            days=((date(2025, 3, 2), "1", "e"), (date(2025, 2, 1), "1", "c")),
        ),
    )
    explained = explain(stored, CONTACTS, 400)
    assert [p.contacts for p in explained.parts] == [("a", "b"), ("c", "e", "d")]  # dated first, by day; undated last
    assert [p.value_centi for p in explained.parts] == [200, 300]
    assert explained.value_centi == 100 * contacts_total(stored)[0] == 500
    assert explained.value_is_upper_bound is False
    assert explained.crossed is not None and explained.crossed.day == "2025-03-02"  # the fourth person: e


def test_a_count_without_identifiers_adds_its_count_and_makes_an_upper_bound() -> None:
    stored = rows(period(date(2024, 1, 1), contacts=3), period(date(2025, 1, 1), identifiers=("a", "b")))
    explained = explain(stored, CONTACTS, 1000)
    assert [(p.value_centi, p.contacts) for p in explained.parts] == [(300, None), (200, ("a", "b"))]
    assert (explained.value_centi, explained.value_is_upper_bound, explained.crossed) == (500, True, None)


def test_dated_activity_gives_the_crossing_day_across_periods() -> None:
    stored = rows(
        period(date(2024, 1, 1), activities=8),
        period(date(2025, 1, 1), days=((date(2025, 1, 5), "1", None), (date(2025, 1, 9), "1", None))),
    )
    explained = explain(stored, ACTIVITIES, 1000)
    assert explained.value_centi == 1000
    assert explained.crossed is not None
    assert (explained.crossed.start_date, explained.crossed.day) == ("2025-01-01", "2025-01-09")


def test_no_periods_explain_nothing() -> None:
    explained = explain([], HOURS, 1000)
    assert (explained.value_centi, explained.parts, explained.crossed) == (0, (), None)


# --- the estimate --------------------------------------------------------------------------------------------


def estimate(current: int, threshold: int, first_start: date, last_end: date, today: date) -> date | None:
    """The estimate for a value and threshold (in hundredths) over periods from first_start to last_end."""
    at = pace(first_start, last_end, today)
    return None if at is None else estimated_completion(at, Decimal(current).scaleb(-2), Decimal(threshold).scaleb(-2))


def test_a_steady_mentors_estimate_lands_on_the_day_the_pace_makes_up_the_rest() -> None:
    # One hour a day for the 59 days of January and February; 41 hours left; counted from today, the later.
    today = date(2026, 3, 1)
    assert estimate(5900, 10000, date(2026, 1, 1), date(2026, 2, 28), today) == date(2026, 4, 11)


def test_the_estimate_counts_from_the_last_periods_end_when_that_is_later_than_today() -> None:
    assert estimate(5900, 10000, date(2026, 1, 1), date(2026, 2, 28), date(2026, 2, 10)) == date(2026, 4, 10)


def test_a_part_of_a_day_rounds_up_to_the_whole_day() -> None:
    # Two hours in ten days: one more hour takes five days; 1.01 more takes a sixth.
    assert estimate(200, 300, date(2026, 1, 1), date(2026, 1, 10), date(2026, 1, 10)) == date(2026, 1, 15)
    assert estimate(200, 301, date(2026, 1, 1), date(2026, 1, 10), date(2026, 1, 10)) == date(2026, 1, 16)


def test_no_pace_no_estimate() -> None:
    assert estimate(0, 1000, date(2026, 1, 1), date(2026, 1, 31), date(2026, 2, 1)) is None


@pytest.mark.parametrize(("today", "estimated"), [(date(2027, 2, 28), True), (date(2027, 3, 1), False)])
def test_no_estimate_once_the_latest_period_ended_more_than_a_year_ago(today: date, estimated: bool) -> None:
    found = estimate(5900, 10000, date(2026, 1, 1), date(2026, 2, 28), today)
    assert (found is not None) is estimated


def test_no_estimate_more_than_ten_years_away() -> None:
    today = date(2026, 1, 1)
    # A hundredth of an hour a year: 999 years for the rest; a millionth as fast would pass the calendar's end.
    assert estimate(1, 100_000_000_000, date(2025, 12, 31), date(2025, 12, 31), today) is None
    assert estimate(1, 1000, date(2025, 1, 1), date(2025, 12, 31), today) is None
    # Exactly ten years from today (3,652 days) is still an estimate; a day more is not.
    assert estimate(100, 100 + 100 * 3652, date(2025, 12, 31), date(2025, 12, 31), today) == date(2036, 1, 1)
    assert estimate(100, 100 + 100 * 3653, date(2025, 12, 31), date(2025, 12, 31), today) is None


def test_a_reached_threshold_estimates_the_start_day() -> None:
    assert estimate(1000, 1000, date(2026, 1, 1), date(2026, 1, 31), date(2026, 2, 5)) == date(2026, 2, 5)


def test_years_after_keeps_february_29_within_february() -> None:
    assert years_after(date(2024, 2, 29), 1) == date(2025, 2, 28)
