"""Sentences a screen reader speaks for a milestone, generated from its current values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from milestones.domain import MetricType, Milestone, Progress, Status, progress

# (singular, plural) of the noun that follows the threshold in each type's sentences.
_NOUNS: dict[MetricType, tuple[str, str]] = {
    MetricType.HOURS_LOGGED: ("hour", "hours"),
    MetricType.CONTACTS_HELPED: ("unique contact", "unique contacts"),
    MetricType.ACTIVITY_COUNT: ("mentoring activity", "mentoring activities"),
}
_REACHED: dict[MetricType, str] = {
    MetricType.HOURS_LOGGED: "You reached {threshold} {noun} of mentoring on {date}",
    MetricType.CONTACTS_HELPED: "You reached {threshold} {noun} on {date}",
    MetricType.ACTIVITY_COUNT: "You reached {threshold} {noun} on {date}",
}
_WORKING: dict[MetricType, str] = {
    MetricType.HOURS_LOGGED: "You have logged {current} out of {threshold} {noun} of mentoring, {remaining} remaining",
    MetricType.CONTACTS_HELPED: "You have helped {current} out of {threshold} {noun}, {remaining} remaining",
    MetricType.ACTIVITY_COUNT: "You have completed {current} out of {threshold} {noun}, {remaining} remaining",
}


def accessibility_label(milestone: Milestone, state: Progress | None = None) -> str:
    """A full English sentence describing the milestone as it stands now (pass its progress if known)."""
    singular, plural = _NOUNS[milestone.type]
    noun = singular if milestone.threshold == 1 else plural
    threshold = format_number(milestone.threshold)
    if milestone.status is Status.ACHIEVED and milestone.achieved_at is not None:
        return _REACHED[milestone.type].format(threshold=threshold, noun=noun, date=format_date(milestone.achieved_at))
    state = state or progress(milestone)
    return _WORKING[milestone.type].format(
        current=format_number(state.current_value),
        threshold=threshold,
        noun=noun,
        remaining=format_number(state.remaining),
    )


def format_number(value: Decimal) -> str:
    """312.5, 1,000, 0.25: no trailing zeros, no exponent, thousands grouped."""
    text = format(value, ",f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_date(moment: datetime) -> str:
    """'July 14, 2025': the date part of a UTC timestamp, spelled out in English."""
    months = (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    )  # fmt: skip
    day = moment.astimezone(UTC)
    return f"{months[day.month - 1]} {day.day}, {day.year}"
