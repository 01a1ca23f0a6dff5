"""Screen-reader sentences and the number and date formats inside them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from milestones.domain import Definition, MetricType, Milestone, Status, milestone_id
from milestones.labels import accessibility_label, description_of, format_date, format_number

HOURS = MetricType.HOURS_LOGGED
CONTACTS = MetricType.CONTACTS_HELPED
ACTIVITIES = MetricType.ACTIVITY_COUNT
JULY_14 = datetime(2025, 7, 14, 23, 59, 59, tzinfo=UTC)


def achieved(metric: MetricType, threshold: str, at: datetime = JULY_14) -> Milestone:
    return Milestone(
        id=milestone_id("mentor_001", "k"),
        mentor_id="mentor_001",
        definition_key="k",
        name="k",
        type=metric,
        threshold=Decimal(threshold),
        position=0,
        status=Status.ACHIEVED,
        current_value=Decimal(threshold),
        achieved_value=Decimal(threshold),
        achieved_at=at,
    )


def working(metric: MetricType, current: str, threshold: str) -> Milestone:
    return Milestone(
        id=milestone_id("mentor_001", "k"),
        mentor_id="mentor_001",
        definition_key="k",
        name="k",
        type=metric,
        threshold=Decimal(threshold),
        position=0,
        status=Status.IN_PROGRESS,
        current_value=Decimal(current),
    )


@pytest.mark.parametrize(
    ("milestone", "sentence"),
    [
        pytest.param(
            achieved(HOURS, "100"), "You reached 100 hours of mentoring on July 14, 2025", id="hours-achieved"
        ),
        pytest.param(
            achieved(CONTACTS, "50"), "You reached 50 unique contacts on July 14, 2025", id="contacts-achieved"
        ),
        pytest.param(
            achieved(ACTIVITIES, "100"),
            "You reached 100 mentoring activities on July 14, 2025",
            id="activities-achieved",
        ),
        pytest.param(
            working(HOURS, "312.5", "500"),
            "You have logged 312.5 out of 500 hours of mentoring, 187.5 remaining",
            id="hours-in-progress",
        ),
        pytest.param(
            working(CONTACTS, "47", "50"),
            "You have helped 47 out of 50 unique contacts, 3 remaining",
            id="contacts-in-progress",
        ),
        pytest.param(
            working(ACTIVITIES, "198", "250"),
            "You have completed 198 out of 250 mentoring activities, 52 remaining",
            id="activities-in-progress",
        ),
        pytest.param(
            working(HOURS, "1250.50", "2500.00"),
            "You have logged 1,250.5 out of 2,500 hours of mentoring, 1,249.5 remaining",
            id="hours-grouped",
        ),
        pytest.param(
            working(HOURS, "120", "100"),
            "You have logged 120 out of 100 hours of mentoring, 0 remaining",
            id="over-threshold-never-negative",
        ),
        pytest.param(
            achieved(HOURS, "1000", datetime(2026, 1, 3, 0, 0, tzinfo=UTC)),
            "You reached 1,000 hours of mentoring on January 3, 2026",
            id="hours-achieved-grouped",
        ),
    ],
)
def test_accessibility_label(milestone: Milestone, sentence: str) -> None:
    assert accessibility_label(milestone) == sentence


@pytest.mark.parametrize(
    ("milestone", "sentence"),
    [
        pytest.param(achieved(HOURS, "1"), "You reached 1 hour of mentoring on July 14, 2025", id="hour-achieved"),
        pytest.param(achieved(CONTACTS, "1"), "You reached 1 unique contact on July 14, 2025", id="contact-achieved"),
        pytest.param(
            achieved(ACTIVITIES, "1"),
            "You reached 1 mentoring activity on July 14, 2025",
            id="activity-achieved",
        ),
        pytest.param(
            working(HOURS, "0.5", "1"),
            "You have logged 0.5 out of 1 hour of mentoring, 0.5 remaining",
            id="hour-in-progress",
        ),
        pytest.param(
            working(CONTACTS, "0", "1"),
            "You have helped 0 out of 1 unique contact, 1 remaining",
            id="contact-in-progress",
        ),
        pytest.param(
            working(ACTIVITIES, "0", "1.00"),
            "You have completed 0 out of 1 mentoring activity, 1 remaining",
            id="activity-in-progress",
        ),
    ],
)
def test_accessibility_label_is_singular_for_a_threshold_of_one(milestone: Milestone, sentence: str) -> None:
    assert accessibility_label(milestone) == sentence


def test_accessibility_label_date_comes_from_achieved_at() -> None:
    first = accessibility_label(achieved(HOURS, "100", datetime(2025, 7, 14, 0, 0, tzinfo=UTC)))
    last = accessibility_label(achieved(HOURS, "100", datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)))
    assert first.endswith("on July 14, 2025")
    assert last.endswith("on December 31, 2025")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("312.50", "312.5"),
        ("100.00", "100"),
        ("100", "100"),
        ("1000", "1,000"),
        ("1000.00", "1,000"),
        ("1234567.50", "1,234,567.5"),
        ("0.25", "0.25"),
        ("0.5", "0.5"),
        ("0", "0"),
        ("0.00", "0"),
        ("10.0", "10"),
        ("1E+3", "1,000"),
        ("2.5E+1", "25"),
    ],
)
def test_format_number(value: str, text: str) -> None:
    assert format_number(Decimal(value)) == text


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 1, 3, 12, 0, tzinfo=UTC), "January 3, 2026"),
        (datetime(2025, 2, 28, tzinfo=UTC), "February 28, 2025"),
        (datetime(2025, 3, 1, tzinfo=UTC), "March 1, 2025"),
        (datetime(2025, 4, 10, tzinfo=UTC), "April 10, 2025"),
        (datetime(2025, 5, 5, tzinfo=UTC), "May 5, 2025"),
        (datetime(2025, 6, 6, tzinfo=UTC), "June 6, 2025"),
        (datetime(2025, 7, 14, 23, 59, 59, tzinfo=UTC), "July 14, 2025"),
        (datetime(2025, 8, 8, tzinfo=UTC), "August 8, 2025"),
        (datetime(2025, 9, 9, tzinfo=UTC), "September 9, 2025"),
        (datetime(2025, 10, 10, tzinfo=UTC), "October 10, 2025"),
        (datetime(2025, 11, 11, tzinfo=UTC), "November 11, 2025"),
        (datetime(2025, 12, 31, tzinfo=UTC), "December 31, 2025"),
    ],
)
def test_format_date(moment: datetime, text: str) -> None:
    assert format_date(moment) == text


def test_format_date_uses_the_utc_date() -> None:
    from datetime import timedelta, timezone

    late_in_utc = datetime(2025, 7, 15, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    assert format_date(late_in_utc) == "July 14, 2025"


@pytest.mark.parametrize(
    ("metric", "threshold", "sentence"),
    [
        (HOURS, "100", "Log 100 hours of mentoring."),
        (HOURS, "12.5", "Log 12.5 hours of mentoring."),
        (HOURS, "1", "Log 1 hour of mentoring."),
        (CONTACTS, "1000", "Help 1,000 unique contacts."),
        (CONTACTS, "1", "Help 1 unique contact."),
        (ACTIVITIES, "250", "Complete 250 mentoring activities."),
    ],
)
def test_a_definition_without_a_description_gets_one_worded_from_it(
    metric: MetricType, threshold: str, sentence: str
) -> None:
    assert description_of(Definition("k", "K", metric, Decimal(threshold), 0)) == sentence


def test_a_catalog_description_is_kept_as_written() -> None:
    given = Definition("k", "K", HOURS, Decimal(100), 0, description="A hundred hours.")
    assert description_of(given) == "A hundred hours."
