"""Sentences a screen reader speaks for a milestone, generated from its current values, the words of a
definition that its catalog entry leaves out, and a definition's name and description in each language."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from milestones.domain import Definition, MetricType, Milestone, Progress, Status, progress
from milestones.wording.languages import ENGLISH, Plural, Word, say, translate, word
from milestones.wording.languages import format_date as local_date
from milestones.wording.languages import format_number as local_number

HOURS, CONTACTS, ACTIVITIES = MetricType.HOURS_LOGGED, MetricType.CONTACTS_HELPED, MetricType.ACTIVITY_COUNT
# The English sentences are the source text of every language's message catalog (locales/).
REACHED: dict[MetricType, Plural] = {
    HOURS: Plural(
        "You reached {threshold} hour of mentoring on {date}", "You reached {threshold} hours of mentoring on {date}"
    ),
    CONTACTS: Plural(
        "You reached {threshold} unique contact on {date}", "You reached {threshold} unique contacts on {date}"
    ),
    ACTIVITIES: Plural(
        "You reached {threshold} mentoring activity on {date}", "You reached {threshold} mentoring activities on {date}"
    ),
}
# {remaining} is the REMAINING phrase, whose form follows the remaining value.
WORKING: dict[MetricType, Plural] = {
    HOURS: Plural(
        "You have logged {current} out of {threshold} hour of mentoring, {remaining}",
        "You have logged {current} out of {threshold} hours of mentoring, {remaining}",
    ),
    CONTACTS: Plural(
        "You have helped {current} out of {threshold} unique contact, {remaining}",
        "You have helped {current} out of {threshold} unique contacts, {remaining}",
    ),
    ACTIVITIES: Plural(
        "You have completed {current} out of {threshold} mentoring activity, {remaining}",
        "You have completed {current} out of {threshold} mentoring activities, {remaining}",
    ),
}
REMAINING = Plural("{remaining} remaining", "{remaining} remaining", note="the remaining value")
GOAL: dict[MetricType, Plural] = {
    HOURS: Plural("Log {threshold} hour of mentoring.", "Log {threshold} hours of mentoring."),
    CONTACTS: Plural("Help {threshold} unique contact.", "Help {threshold} unique contacts."),
    ACTIVITIES: Plural("Complete {threshold} mentoring activity.", "Complete {threshold} mentoring activities."),
}
# {name} is the milestone's name in the same language.
REVOKED = Word("Your {name} was revoked on {date}")
MESSAGES: tuple[Plural | Word, ...] = (*REACHED.values(), *WORKING.values(), REMAINING, *GOAL.values(), REVOKED)


def description_of(definition: Definition, language: str = ENGLISH) -> str:
    """A definition's description in a language: the catalog's own translation, else the message catalog's
    translation of its English description, else that English; without any description, one worded from
    its type and threshold."""
    if language != ENGLISH:
        given = definition.translation(language)
        if given is not None and given.description is not None:
            return given.description
    if definition.description is not None:
        if language == ENGLISH:
            return definition.description
        return translate(language, definition.description) or definition.description
    return _goal(definition.type, definition.threshold, language)


def name_of(definition: Definition, language: str = ENGLISH) -> str:
    """A definition's name in a language: the catalog's own translation, else the message catalog's, else
    the English name."""
    if language == ENGLISH:
        return definition.name
    given = definition.translation(language)
    return given.name if given is not None else translate(language, definition.name) or definition.name


def milestone_name(milestone: Milestone, definition: Definition | None, language: str) -> str:
    """A stored milestone's name in a language. The record keeps the name it was created under; a translation
    is taken from its definition while the catalog still has it, else the message catalogs."""
    if language == ENGLISH:
        return milestone.name
    if definition is not None:
        given = definition.translation(language)
        if given is not None:
            return given.name
    return translate(language, milestone.name) or milestone.name


@lru_cache(maxsize=1024)
def _goal(metric: MetricType, threshold: Decimal, language: str) -> str:
    if language == ENGLISH:
        return _english(GOAL[metric], threshold).format(threshold=format_number(threshold))
    return say(language, GOAL[metric], threshold).format(threshold=local_number(threshold, language))


def accessibility_label(
    milestone: Milestone, state: Progress | None = None, language: str = ENGLISH, name: str | None = None
) -> str:
    """A full sentence, in the language, describing the milestone as it stands now (pass its progress if
    known, and its name in the language if known: a revoked milestone's sentence names it)."""
    if milestone.status is Status.REVOKED and milestone.revoked_at is not None:
        if name is None:
            name = milestone.name if language == ENGLISH else translate(language, milestone.name) or milestone.name
        return _revoked_label(name, milestone.revoked_at, language)
    if milestone.status is Status.ACHIEVED and milestone.achieved_at is not None:
        return _reached_label(milestone.type, milestone.threshold, milestone.achieved_at, language)
    state = state or progress(milestone)
    return _working_label(milestone.type, milestone.threshold, state.current_value, state.remaining, language)


# Sentences are made from a few values that repeat across mentors (a catalog's thresholds, the end dates of
# reporting periods), and every listing renders one per item: worth remembering, within a bound.
@lru_cache(maxsize=8192)
def _reached_label(metric: MetricType, threshold: Decimal, achieved_at: datetime, language: str) -> str:
    if language == ENGLISH:
        sentence = _english(REACHED[metric], threshold)
        return sentence.format(threshold=format_number(threshold), date=format_date(achieved_at))
    return say(language, REACHED[metric], threshold).format(
        threshold=local_number(threshold, language), date=local_date(achieved_at, language)
    )


@lru_cache(maxsize=1024)
def _revoked_label(name: str, revoked_at: datetime, language: str) -> str:
    if language == ENGLISH:
        return REVOKED.text.format(name=name, date=format_date(revoked_at))
    return word(language, REVOKED).format(name=name, date=local_date(revoked_at, language))


@lru_cache(maxsize=8192)
def _working_label(metric: MetricType, threshold: Decimal, current: Decimal, remaining: Decimal, language: str) -> str:
    if language == ENGLISH:
        left = REMAINING.other.format(remaining=format_number(remaining))
        sentence = _english(WORKING[metric], threshold)
        return sentence.format(current=format_number(current), threshold=format_number(threshold), remaining=left)
    left = say(language, REMAINING, remaining).format(remaining=local_number(remaining, language))
    return say(language, WORKING[metric], threshold).format(
        current=local_number(current, language), threshold=local_number(threshold, language), remaining=left
    )


def _english(message: Plural, value: Decimal) -> str:
    # CLDR's English rule for numbers written without trailing zeros, as here: `one` is exactly 1.
    return message.one if value == 1 else message.other


def format_number(value: Decimal) -> str:
    """312.5, 1,000, 0.25: no trailing zeros, no exponent, thousands grouped (English)."""
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
