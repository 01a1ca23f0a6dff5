"""Sentences a screen reader speaks for a milestone, generated from its current values, and the words of a
definition that its catalog entry leaves out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from milestones.domain import Definition, MetricType, Milestone, Progress, Status, progress

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

_GOAL: dict[MetricType, str] = {
    MetricType.HOURS_LOGGED: "Log {threshold} {noun} of mentoring.",
    MetricType.CONTACTS_HELPED: "Help {threshold} {noun}.",
    MetricType.ACTIVITY_COUNT: "Complete {threshold} {noun}.",
}


def description_of(definition: Definition) -> str:
    """The catalog's description of a definition, or one worded from its type and threshold."""
    if definition.description is not None:
        return definition.description
    return _GOAL[definition.type].format(
        threshold=format_number(definition.threshold), noun=_noun(definition.type, definition.threshold)
    )


def accessibility_label(milestone: Milestone, state: Progress | None = None) -> str:
    """A full English sentence describing the milestone as it stands now (pass its progress if known)."""
    if milestone.status is Status.ACHIEVED and milestone.achieved_at is not None:
        return _reached_label(milestone.type, milestone.threshold, milestone.achieved_at)
    state = state or progress(milestone)
    return _working_label(milestone.type, milestone.threshold, state.current_value, state.remaining)


# Sentences are made from a few values that repeat across mentors (a catalog's thresholds, the end dates of
# reporting periods), and every listing renders one per item: worth remembering, within a bound.
@lru_cache(maxsize=4096)
def _reached_label(metric: MetricType, threshold: Decimal, achieved_at: datetime) -> str:
    return _REACHED[metric].format(
        threshold=format_number(threshold), noun=_noun(metric, threshold), date=format_date(achieved_at)
    )


@lru_cache(maxsize=4096)
def _working_label(metric: MetricType, threshold: Decimal, current: Decimal, remaining: Decimal) -> str:
    return _WORKING[metric].format(
        current=format_number(current),
        threshold=format_number(threshold),
        noun=_noun(metric, threshold),
        remaining=format_number(remaining),
    )


def _noun(metric: MetricType, threshold: Decimal) -> str:
    singular, plural = _NOUNS[metric]
    return singular if threshold == 1 else plural


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
