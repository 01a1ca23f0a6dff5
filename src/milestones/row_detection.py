"""Detection on stored rows in integer hundredths: the bulk engine's evaluator, equal to `domain.detect_milestones`.

`domain` states the rules on Decimals and dataclasses, which is clear but costs about 300 µs per summary;
a bulk run of a million summaries cannot afford that. This module applies the same rules to the rows the
database stores (tuples in `MILESTONE_COLUMNS` / `PERIOD_COLUMNS` order, dates and times as ISO text) and
never builds an object per milestone. `tests/test_row_detection.py` checks it against the domain on
generated states; a change to the rules in one place must be made in the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from milestones.domain import ID_SEPARATOR, Definition, MetricType, Period, Status
from milestones.errors import PeriodOverlap

# Columns of a milestone row (storage.queries.MILESTONE_COLUMNS).
ID, MENTOR, KEY, NAME, TYPE, THRESHOLD, POSITION, STATUS, CURRENT, ACHIEVED_VALUE, ACHIEVED_AT, BY_PERSON = range(12)
# Columns of a period row: mentor_id, then storage.queries.PERIOD_COLUMNS.
P_MENTOR, P_START, P_END, P_YEAR, P_HOURS, P_CONTACTS, P_ACTIVITIES = range(7)

MilestoneRow = tuple[Any, ...]
PeriodRow = tuple[Any, ...]

_ACHIEVED = Status.ACHIEVED.value
_IN_PROGRESS = Status.IN_PROGRESS.value
# Where each metric is in a period row, and its factor to hundredths.
_METRIC_COLUMNS = {
    MetricType.HOURS_LOGGED.value: (P_HOURS, 1),
    MetricType.CONTACTS_HELPED.value: (P_CONTACTS, 100),
    MetricType.ACTIVITY_COUNT.value: (P_ACTIVITIES, 100),
}


@dataclass(frozen=True, slots=True)
class StoredRows:
    """A batch of mentors' stored rows; `as_of` is the storage's note of when they were read."""

    periods: list[PeriodRow]
    milestones: list[MilestoneRow]
    as_of: object = field(default=None, compare=False)


# Rows as JSON arrays; each decodes to a tuple of str, int, bool and None, as the database drivers return them.
_ROWS = msgspec.json.Decoder(list[tuple[Any, ...]])


@dataclass(frozen=True, slots=True)
class PackedRows:
    """StoredRows as the database serialises them for bulk detection: each list as one JSON array of rows.

    Bulk detection runs in another process; two strings cross to it for the price of a copy, where the
    millions of tuples of a re-run would cost more to pickle and unpickle than to read. Equal texts are
    equal rows, so a writer can also tell whether rows changed since they were read by comparing texts.
    """

    periods: str
    milestones: str
    as_of: object = field(default=None, compare=False)

    def unpack(self) -> StoredRows:
        return StoredRows(_ROWS.decode(self.periods), _ROWS.decode(self.milestones), self.as_of)


@dataclass(frozen=True, slots=True)
class RowsDiff:
    """The rows a batch writes (bulk detection never deletes periods), and the lines it refused."""

    upsert_periods: list[PeriodRow] = field(default_factory=list)
    upsert_milestones: list[MilestoneRow] = field(default_factory=list)
    delete_milestones: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Rung:
    """A catalog definition in row terms."""

    key: str
    name: str
    type: str
    threshold: int
    position: int


class RowCatalog:
    """The catalog arranged for row detection: rungs in catalog order, and each metric's ladder."""

    def __init__(self, catalog: Sequence[Definition]) -> None:
        self.rungs = tuple(Rung(d.key, d.name, d.type.value, int(d.threshold.scaleb(2)), d.position) for d in catalog)
        self.keys = frozenset(r.key for r in self.rungs)
        # The next rung of a metric is its lowest unreached one, ties broken by position (as in the domain).
        self.ladders = tuple(
            tuple(sorted((r for r in self.rungs if r.type == metric), key=lambda r: (r.threshold, r.position)))
            for metric in dict.fromkeys(r.type for r in self.rungs)
        )


def detect_batch(lines: list[tuple[int, PeriodRow]], stored: StoredRows, catalog: RowCatalog, now: str) -> RowsDiff:
    """Record each numbered period row and detect its mentor's milestones, line by line as a POST each would;
    returns the rows that differ from `stored` (the batch's mentors' rows). A line whose period overlaps
    a stored one is refused, as POST refuses it, and the others go on."""
    stored_periods: dict[str, dict[tuple[str, str], PeriodRow]] = {}
    for row in stored.periods:
        stored_periods.setdefault(row[P_MENTOR], {})[(row[P_START], row[P_END])] = row
    stored_records: dict[str, dict[str, MilestoneRow]] = {}
    for row in stored.milestones:
        stored_records.setdefault(row[MENTOR], {})[row[KEY]] = row

    diff = RowsDiff()
    periods_after: dict[str, dict[tuple[str, str], PeriodRow]] = {}
    records_after: dict[str, dict[str, MilestoneRow]] = {}
    for number, row in lines:
        mentor_id = row[P_MENTOR]
        periods = periods_after.get(mentor_id)
        if periods is None:
            periods = periods_after[mentor_id] = dict(stored_periods.get(mentor_id, {}))
        try:
            record_period_row(periods, row)
        except PeriodOverlap as exc:
            diff.rejected.append((number, exc.detail))
            continue
        records = records_after.get(mentor_id)
        if records is None:
            records = stored_records.get(mentor_id, {})
        records_after[mentor_id] = detect_rows(mentor_id, periods, records, catalog, now)

    # Rows equal to the stored ones are not written again: a re-run of the same file writes nothing.
    for mentor_id, periods in periods_after.items():
        before = stored_periods.get(mentor_id, {})
        diff.upsert_periods.extend(row for span, row in periods.items() if before.get(span) != row)
    for mentor_id, records in records_after.items():
        old = stored_records.get(mentor_id, {})
        diff.upsert_milestones.extend(row for key, row in records.items() if old.get(key) != row)
        diff.delete_milestones.extend(row[ID] for key, row in old.items() if key not in records)
    return diff


def period_row(mentor_id: str, period: Period) -> PeriodRow:
    """A domain period as a row: dates as ISO text, hours in hundredths."""
    summary = period.summary
    return (
        mentor_id,
        period.start_date.isoformat(),
        period.end_date.isoformat(),
        period.year,
        int(summary.total_hours.scaleb(2)),
        summary.unique_contacts_helped,
        summary.activity_count,
    )


def end_of_day(day: str) -> str:
    """The last second of a day (ISO date), as storage encodes times; fixed width, so text order is time order."""
    return f"{day}T23:59:59.000000Z"


def record_period_row(periods: dict[tuple[str, str], PeriodRow], row: PeriodRow) -> None:
    """Add a period row, or replace the stored one with the same dates; `domain.record_period` on rows."""
    start, end = row[P_START], row[P_END]
    span = (start, end)
    if span not in periods:
        # In date order, so the message names the same stored period as the domain's would.
        for other_start, other_end in sorted(periods):
            if start <= other_end and other_start <= end:
                raise PeriodOverlap(
                    f"The period {start}..{end} overlaps the stored period {other_start}..{other_end}; "
                    "delete that one first or post the same dates."
                )
    periods[span] = row


def detect_rows(
    mentor_id: str,
    periods: dict[tuple[str, str], PeriodRow],
    records: dict[str, MilestoneRow],
    catalog: RowCatalog,
    now: str,
) -> dict[str, MilestoneRow]:
    """The milestone rows to keep, by definition key: `domain.detect_milestones` on rows.

    `records` are the stored rows by definition key; `now` is the current time as storage encodes it.
    """
    sums = {
        metric: factor * sum(p[column] for p in periods.values())
        for metric, (column, factor) in _METRIC_COLUMNS.items()
    }
    if not records:
        return _detect_new(mentor_id, periods, sums, catalog, now)
    ordered: list[PeriodRow] | None = None
    kept: dict[str, MilestoneRow] = {}
    unreached: set[str] = set()

    for rung in catalog.rungs:
        record = records.get(rung.key)
        current = sums[rung.type]
        if record is not None and record[STATUS] == _ACHIEVED:
            # Reached records keep their history but follow the catalog's current order.
            kept[rung.key] = record if record[POSITION] == rung.position else _with(record, POSITION, rung.position)
        elif record is not None and record[BY_PERSON]:
            kept[rung.key] = (*record[:POSITION], rung.position, record[STATUS], current, *record[ACHIEVED_VALUE:])
        elif current >= rung.threshold:
            if ordered is None:
                ordered = [periods[span] for span in sorted(periods)]
            achieved_at = min(end_of_day(_crossing_day(ordered, rung)), now)
            kept[rung.key] = _new_row(mentor_id, rung, _ACHIEVED, current, current, achieved_at)
        else:
            unreached.add(rung.key)

    for ladder in catalog.ladders:
        for rung in ladder:
            if rung.key not in unreached:
                continue
            record = records.get(rung.key)
            current = sums[rung.type]
            if record is None:
                kept[rung.key] = _new_row(mentor_id, rung, _IN_PROGRESS, current, None, None)
            else:
                # The rung being worked towards shows the catalog's current wording and threshold.
                kept[rung.key] = (
                    *record[:NAME],
                    rung.name,
                    rung.type,
                    rung.threshold,
                    rung.position,
                    record[STATUS],
                    current,
                    *record[ACHIEVED_VALUE:],
                )
            break

    # Records whose definition left the catalog: reached or person-set ones are history and stay.
    for key, record in records.items():
        if key not in kept and key not in catalog.keys:
            if record[STATUS] == _ACHIEVED:
                kept[key] = record
            elif record[BY_PERSON]:
                kept[key] = _with(record, CURRENT, sums[record[TYPE]])
    return kept


def _detect_new(
    mentor_id: str, periods: dict[tuple[str, str], PeriodRow], sums: dict[str, int], catalog: RowCatalog, now: str
) -> dict[str, MilestoneRow]:
    """detect_rows for a mentor with no stored milestones, the common case of a first bulk run: each
    ladder's reached rungs, then its lowest unreached one. The same result as the general loop (the
    property test covers both), in a third of the time."""
    ordered = [periods[span] for span in sorted(periods)]
    kept: dict[str, MilestoneRow] = {}
    for ladder in catalog.ladders:
        for rung in ladder:
            current = sums[rung.type]
            if current < rung.threshold:
                kept[rung.key] = _new_row(mentor_id, rung, _IN_PROGRESS, current, None, None)
                break
            achieved_at = min(end_of_day(_crossing_day(ordered, rung)), now)
            kept[rung.key] = _new_row(mentor_id, rung, _ACHIEVED, current, current, achieved_at)
    return kept


def _crossing_day(ordered: list[PeriodRow], rung: Rung) -> str:
    """The end date of the period whose running total first reached the threshold."""
    column, factor = _METRIC_COLUMNS[rung.type]
    running = 0
    for period in ordered:
        running += period[column] * factor
        if running >= rung.threshold:
            return str(period[P_END])
    return str(ordered[-1][P_END])


def _new_row(
    mentor_id: str, rung: Rung, status: str, current: int, achieved_value: int | None, achieved_at: str | None
) -> MilestoneRow:
    return (
        f"{mentor_id}{ID_SEPARATOR}{rung.key}",
        mentor_id,
        rung.key,
        rung.name,
        rung.type,
        rung.threshold,
        rung.position,
        status,
        current,
        achieved_value,
        achieved_at,
        False,
    )


def _with(row: MilestoneRow, column: int, value: Any) -> MilestoneRow:
    return (*row[:column], value, *row[column + 1 :])
