"""What a period's summary is made of: its contacts and dated activity, how they are stored, and the rules on them.

Exact unique contacts: a mentor's contacts value is the size of the union of the identifiers of every period that
came with them, plus the counts of the periods that came without (which may count a person twice, so the value is
then an upper bound). The day a threshold was crossed: periods in date order, and within a period its dated
activity day by day; a period without it counts whole on its last day.

Both live in the period's own row (`rows.PeriodRow.contacts`, `.daily`): the union is worked out from the rows a
write already reads, under its lock, so correcting or removing one period replaces or removes that one row and the
union follows exactly, with no derived count anywhere to go stale. Pure: no framework, database or clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from milestones.domain.model import DayTotal, Precision

if TYPE_CHECKING:
    from milestones.domain.rows import PeriodRow

# Identifiers are visible ASCII (no space, no line break): a space ends one and a line break separates them.
_SEPARATOR = "\n"
_HOURS = "hours_logged"
_CONTACTS = "contacts_helped"
_ACTIVITIES = "activity_count"
DAY = Precision.DAY.value
PERIOD_END = Precision.PERIOD_END.value


def encode_contacts(contacts: Sequence[tuple[str, date | None]] | None) -> str | None:
    """A period's identifiers as stored: one a line, sorted, each followed by its first dated day if any."""
    if contacts is None:
        return None
    return _SEPARATOR.join(
        contact if day is None else f"{contact} {day.isoformat()}" for contact, day in sorted(contacts)
    )


def decode_contacts(text: str | None) -> tuple[tuple[str, date | None], ...] | None:
    if text is None:
        return None
    return tuple(
        (contact, date.fromisoformat(day) if day else None)
        for contact, _, day in (line.partition(" ") for line in text.split(_SEPARATOR) if line)
    )


def encode_daily(days: Sequence[DayTotal]) -> str | None:
    """A period's dated activity as stored: one day a line, `date hundredths-of-hours activities`, in date order."""
    if not days:
        return None
    return _SEPARATOR.join(f"{d.day.isoformat()} {int(d.hours.scaleb(2))} {d.activities}" for d in days)


def decode_daily(text: str | None) -> tuple[DayTotal, ...]:
    if not text:
        return ()
    found = []
    for line in text.split(_SEPARATOR):
        day, hours, count = line.split(" ")
        found.append(DayTotal(date.fromisoformat(day), Decimal(int(hours)).scaleb(-2), int(count)))
    return tuple(found)


def contact_days(text: str) -> dict[str, str | None]:
    """A stored identifier list as {identifier: first dated day (ISO) or None}."""
    found: dict[str, str | None] = {}
    for line in text.split(_SEPARATOR):
        if line:
            contact, _, day = line.partition(" ")
            found[contact] = day or None
    return found


def identifiers(text: str) -> list[str]:
    """The identifiers of a stored list, without their days."""
    return [line.partition(" ")[0] for line in text.split(_SEPARATOR) if line]


def contacts_total(periods: Iterable[PeriodRow]) -> tuple[int, bool]:
    """A mentor's contacts value (whole people) and whether it is an upper bound.

    The union of the identified periods' identifiers plus the counts of the others; an upper bound when counts of
    two or more periods were summed and any of them came without identifiers (a person helped in both may count
    twice). Periods with nobody helped add nothing to any sum.
    """
    union: set[str] = set()
    counted = 0
    summed = 0
    unidentified = False
    for period in periods:
        if period.unique_contacts_helped == 0:
            continue
        summed += 1
        if period.contacts is None:
            counted += period.unique_contacts_helped
            unidentified = True
        else:
            union.update(identifiers(period.contacts))
    return len(union) + counted, unidentified and summed >= 2


class Contribution(NamedTuple):
    """What one period added to a metric's running total: its steps in order, each (day, hundredths, dated), where
    what is not dated counts on the period's last day; and, for exact contacts, the identifiers first seen in it."""

    period: PeriodRow
    steps: tuple[tuple[str, int, bool], ...]
    new_contacts: tuple[str, ...] | None

    @property
    def value_centi(self) -> int:
        return sum(amount for _, amount, _ in self.steps)


def contributions(ordered: Sequence[PeriodRow], metric: str) -> Iterator[Contribution]:
    """Each period's part in a metric's running total, periods in date order, days in order within them. Their
    values add up to the mentor's value of the metric (`rules.totals`): a contact counts in the first period that
    names them, and a period with a count only adds its count."""
    seen: set[str] = set()
    for period in ordered:
        if metric == _CONTACTS:
            if period.contacts is None or period.unique_contacts_helped == 0:
                yield Contribution(period, ((period.end_date, 100 * period.unique_contacts_helped, False),), None)
                continue
            new = {c: d for c, d in contact_days(period.contacts).items() if c not in seen}
            seen.update(new)
            by_day: dict[str, int] = {}
            undated = 0
            for day in new.values():
                if day is None:
                    undated += 1
                else:
                    by_day[day] = by_day.get(day, 0) + 1
            steps = [(day, 100 * by_day[day], True) for day in sorted(by_day)]
            steps.append((period.end_date, 100 * undated, False))
            first_seen = tuple(sorted(new, key=lambda c: (new[c] is None, new[c] or "", c)))
            yield Contribution(period, tuple(steps), first_seen)
            continue
        amount = period.total_hours_centi if metric == _HOURS else 100 * period.activity_count
        if period.daily and amount:
            # Validation holds the days' sum to the summary's, so the walk through them adds the whole amount.
            days = []
            for line in period.daily.split(_SEPARATOR):
                day, hours, count = line.split(" ")
                days.append((day, int(hours) if metric == _HOURS else 100 * int(count), True))
            yield Contribution(period, tuple(days), None)
            continue
        yield Contribution(period, ((period.end_date, amount, False),), None)


def crossing_step(
    ordered: Sequence[PeriodRow], metric: str, threshold_centi: int
) -> tuple[PeriodRow, str, bool] | None:
    """The period and day whose step first brought a metric's running total to the threshold, and whether that day
    is dated (else it is the period's last day); None when the total never reaches it."""
    running = 0
    for contribution in contributions(ordered, metric):
        for day, amount, dated in contribution.steps:
            running += amount
            if running >= threshold_centi:
                return contribution.period, day, dated
    return None


def crossing(ordered: Sequence[PeriodRow], metric: str, threshold_centi: int) -> tuple[str, str]:
    """The day a metric's running total first reached the threshold, and how precisely it is known (`day` when
    dated activity shows it, else `period_end`): periods in date order, days in order within them."""
    found = crossing_step(ordered, metric, threshold_centi)
    if found is None:
        return ordered[-1].end_date, PERIOD_END
    _, day, dated = found
    return day, DAY if dated else PERIOD_END


def evidence_problems(
    start: date,
    end: date,
    total_hours: Decimal,
    unique_contacts: int,
    activity_count: int,
    contacts: Sequence[str] | None,
    activities: Sequence[tuple[date, Decimal, str | None]] | None,
) -> list[tuple[str, str]]:
    """Where a summary and the evidence sent with it disagree: (field, what is wrong) in plain words, empty when
    they agree. Identifiers are compared as given (the platform keeps any salt)."""
    problems: list[tuple[str, str]] = []
    if contacts is not None:
        hashed = {c.startswith("sha256:") for c in contacts}
        if len(hashed) > 1:
            problems.append(("contacts", "must be all plain identifiers or all sha256:<64 hex> hashes, not a mix"))
        distinct = len(set(contacts))
        if distinct != unique_contacts:
            problems.append(
                (
                    "summary.unique_contacts_helped",
                    f"is {unique_contacts} but contacts holds {distinct} distinct identifiers",
                )
            )
    if activities is not None:
        outside = sorted({d.isoformat() for d, _, _ in activities if not start <= d <= end})
        if outside:
            problems.append(("activities", f"has dates outside the period {start}..{end}: {', '.join(outside[:5])}"))
        hours = sum((h for _, h, _ in activities), Decimal(0))
        if hours != total_hours:
            problems.append(("summary.total_hours", f"is {total_hours} but the activities' hours add up to {hours}"))
        if len(activities) != activity_count:
            problems.append(
                ("summary.activity_count", f"is {activity_count} but {len(activities)} activities were sent")
            )
        named = [c for _, _, c in activities if c is not None]
        if activities and len(named) == len(activities) and contacts is None and len(set(named)) != unique_contacts:
            problems.append(
                (
                    "summary.unique_contacts_helped",
                    f"is {unique_contacts} but the activities name {len(set(named))} distinct contacts",
                )
            )
        if contacts is not None:
            missing = sorted(set(named) - set(contacts))
            if missing:
                problems.append(("activities", f"name contacts that are not in contacts: {', '.join(missing[:5])}"))
        if contacts is None and named:
            hashed = {c.startswith("sha256:") for c in named}
            if len(hashed) > 1:
                problems.append(
                    ("activities", "must name all plain identifiers or all sha256:<64 hex> hashes, not a mix")
                )
    return problems


def period_contacts(
    contacts: Sequence[str] | None, activities: Sequence[tuple[date, Decimal, str | None]] | None
) -> tuple[tuple[str, date | None], ...] | None:
    """A period's identifiers with the first day an activity named each: `contacts` when sent, else the
    activities' contacts when every activity names one, else None (a count only)."""
    first: dict[str, date] = {}
    for day, _, contact in activities or ():
        if contact is not None and (contact not in first or day < first[contact]):
            first[contact] = day
    if contacts is not None:
        return tuple(sorted((c, first.get(c)) for c in set(contacts)))
    if activities and len(first) and all(contact is not None for _, _, contact in activities):
        return tuple(sorted(first.items()))
    return None


def day_totals(activities: Sequence[tuple[date, Decimal, str | None]] | None) -> tuple[DayTotal, ...]:
    """Dated activity as one total per day, in date order."""
    totals: dict[date, tuple[Decimal, int]] = {}
    for day, hours, _ in activities or ():
        before = totals.get(day, (Decimal(0), 0))
        totals[day] = (before[0] + hours, before[1] + 1)
    return tuple(DayTotal(day, hours, count) for day, (hours, count) in sorted(totals.items()))
