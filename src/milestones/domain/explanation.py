"""Why a milestone stands where it does: the periods its value is made of, where it crossed, and when it may come.

Pure: the periods are the stored rows, and "today" is passed in. The value's parts come from the same walk that
dates a crossing (`evidence.contributions`), so what the evidence shows is what detection counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from milestones.domain.evidence import contacts_total, contributions, crossing_step
from milestones.domain.model import MetricType
from milestones.domain.rows import PeriodRow

_CONTACTS = MetricType.CONTACTS_HELPED.value
# An estimate needs a pace that still holds: none from periods that ended longer ago than this,
_STALE_AFTER_YEARS = 1
# and none further away than this, where a date says less than "not soon".
_HORIZON_YEARS = 10


@dataclass(frozen=True, slots=True)
class PeriodPart:
    """What one period added to a milestone's value (hundredths); for exact contacts, who was first seen in it."""

    start_date: str
    end_date: str
    value_centi: int
    contacts: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Crossed:
    """The period whose summary brought the value to the threshold, and the day when dated activity shows it."""

    start_date: str
    end_date: str
    day: str | None


@dataclass(frozen=True, slots=True)
class Explanation:
    """A metric's value for one mentor, taken apart period by period (parts add up to `value_centi`)."""

    value_centi: int
    parts: tuple[PeriodPart, ...]
    value_is_upper_bound: bool
    crossed: Crossed | None


def explain(periods: Sequence[PeriodRow], metric: str, threshold_centi: int) -> Explanation:
    """A metric's value over a mentor's periods, its parts in date order, and where it reached the threshold (None
    when it has not: a milestone a person set, or one whose periods were since corrected downwards)."""
    ordered = sorted(periods, key=lambda p: (p.start_date, p.end_date))
    parts = tuple(
        PeriodPart(c.period.start_date, c.period.end_date, c.value_centi, c.new_contacts)
        for c in contributions(ordered, metric)
    )
    crossed = None
    if ordered and threshold_centi > 0:
        found = crossing_step(ordered, metric, threshold_centi)
        if found is not None:
            period, day, dated = found
            crossed = Crossed(period.start_date, period.end_date, day if dated else None)
    upper_bound = metric == _CONTACTS and contacts_total(ordered)[1]
    return Explanation(sum(p.value_centi for p in parts), parts, upper_bound, crossed)


def years_after(day: date, years: int) -> date:
    """The same day `years` later (February 29 becomes February 28)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class Pace(NamedTuple):
    """A mentor's pace as estimates use it: the days their periods span (first start to last end, both counted),
    the day estimates count from (the later of that end and today, as an ordinal) and today, for the horizon."""

    span_days: int
    start: int
    today: date


# Cached: most mentors' periods are calendar years, so a day's reads share a handful of paces.
@lru_cache(maxsize=1024)
def pace(first_start: date, last_end: date, today: date) -> Pace | None:
    """The mentor's pace, or None when it no longer holds: their last period ended more than a year before today."""
    if last_end < first_start or years_after(last_end, _STALE_AFTER_YEARS) < today:
        return None
    return Pace((last_end - first_start).days + 1, max(last_end, today).toordinal(), today)


# Cached: the in-progress list asks on every read, and a mentor's values and the thresholds repeat between them.
@lru_cache(maxsize=8192)
def estimated_completion(at: Pace, current: Decimal, threshold: Decimal) -> date | None:
    """The day the remaining amount is reached at the mentor's pace (the value over the days their periods span),
    counted from the later of their last period's end and today.

    An estimate, not a promise: None when there is no pace (nothing done yet), or when the day would be more than
    ten years after today (`pace` says when there is none at all).
    """
    if current <= 0:
        return None
    remaining = threshold - current if threshold > current else 0
    # Whole days, rounded up: the amount is reached on the day the pace has made it up, not the day before.
    days, part = divmod(remaining * at.span_days, current)
    day = at.start + int(days) + (1 if part else 0)
    # Compared as ordinals: a pace slow enough would name a day past the calendar's end.
    return None if day > years_after(at.today, _HORIZON_YEARS).toordinal() else date.fromordinal(day)
