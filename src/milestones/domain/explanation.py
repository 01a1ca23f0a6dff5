"""Why a milestone stands where it does: the periods its value is made of, where it crossed, and when it may come.

Pure: the periods are the stored rows, and "today" is passed in. The value's parts come from the same walk that
dates a crossing (`evidence.contributions`), so what the evidence shows is what detection counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

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


def estimated_completion(
    current_centi: int, threshold_centi: int, first_start: date, last_end: date, today: date
) -> date | None:
    """The day the remaining amount is reached at the mentor's pace: the value over the days from their first
    period's start to their last period's end (both counted), from the later of that end and today.

    An estimate, not a promise: None when there is no pace (nothing done yet), when the last period ended more
    than a year before today, or when the day would be more than ten years away.
    """
    if current_centi <= 0 or last_end < first_start:
        return None
    if years_after(last_end, _STALE_AFTER_YEARS) < today:
        return None
    remaining = max(threshold_centi - current_centi, 0)
    span_days = (last_end - first_start).days + 1
    # Whole days, rounded up: the amount is reached on the day the pace has made it up, not the day before.
    days = -(-remaining * span_days // current_centi)
    start = max(last_end, today)
    horizon = years_after(today, _HORIZON_YEARS)
    if (horizon - start).days < days:
        return None
    return start + timedelta(days=days)
