"""Named rows: a mentor's periods and milestones as the rules work on them and the databases store them.

Values are integer hundredths (sums never pick up float noise), dates ISO text and times `encode_time`'s
fixed-width text, so text order is time order. Each field is a column of the same name: the storage layer
derives its column lists from these types, so a column added here is added everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from milestones.domain.evidence import decode_contacts, decode_daily, encode_contacts, encode_daily
from milestones.domain.model import Evidence, MetricType, Milestone, Period, Precision, Status, Summary


class PeriodRow(NamedTuple):
    """One stored period of a mentor."""

    mentor_id: str
    start_date: str
    end_date: str
    year: int
    total_hours_centi: int
    unique_contacts_helped: int
    activity_count: int
    # The period's evidence (`domain.evidence`): its contact identifiers, one a line with the first day an activity
    # named it, or None when it came with a count only; and its dated activity, one day a line, or None.
    contacts: str | None = None
    daily: str | None = None


class MilestoneRow(NamedTuple):
    """One stored milestone of a mentor."""

    id: str
    mentor_id: str
    definition_key: str
    name: str
    type: str
    threshold_centi: int
    position: int
    status: str
    current_centi: int
    achieved_centi: int | None
    achieved_at: str | None
    set_by_person: bool
    # The catalog version whose definition the record shows: the one it was achieved under, or for a rung in
    # progress the latest it was decided under. Its name and threshold are that version's.
    catalog_version: str
    # A Precision value (achieved only), and whether a contacts value may count a person twice.
    achieved_at_precision: str | None = None
    value_is_upper_bound: bool = False
    # Revoked only: when (encode_time's text) and why. Achieved only: whether the mentor's value still reaches the
    # threshold (False after a correction took it below, under MILESTONES_ON_LOST_THRESHOLD=keep).
    revoked_at: str | None = None
    revocation_reason: str | None = None
    supported: bool = True


class MentorRow(NamedTuple):
    """What the platform told about a mentor apart from summaries."""

    mentor_id: str
    display_name: str | None


# What the mentor counts count (kept by storage.write_path.count_deltas): mentors whose record of a definition is in a
# status (`counted_status`), and mentors with a stored period.
WITH_PERIOD = "with_period"


def counted_status(status: str, definition_key: str) -> str:
    """The count of mentors whose record of a definition is in a status."""
    return f"{status}:{definition_key}"


class StalledMentor(NamedTuple):
    """A mentor whose latest period ended a while ago while a record of theirs is in progress."""

    mentor_id: str
    last_period_end: str  # ISO date
    in_progress: list[str]  # the definitions' keys, in no order


@dataclass(frozen=True, slots=True)
class StoredRows:
    """The stored rows of some mentors (in no particular order); `as_of` is the storage's note of when."""

    periods: list[PeriodRow]
    milestones: list[MilestoneRow]
    as_of: object = field(default=None, compare=False)


@lru_cache(maxsize=4096)
def encode_time(moment: datetime) -> str:
    """A time as ISO text in UTC with microseconds: how rows carry times (and SQLite stores them).

    Fixed width, so text order is time order (range filters work on the column, and the rules compare
    times as text). isoformat, not strftime: strftime("%Y") does not pad years before 1000. Cached: most
    achieved_at values are the last second of a few period end dates.
    """
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def end_of_day(day: str) -> str:
    """The last second of a day (ISO date), as `encode_time` writes it."""
    return f"{day}T23:59:59.000000Z"


# Rows carry times as encode_time's text; cached, as a mentor's times are a handful of period end dates.
time_from_text = lru_cache(maxsize=4096)(datetime.fromisoformat)


def parse_time(value: Any) -> datetime | None:
    """A stored time (encode_time's text), or None."""
    return None if value is None else time_from_text(value)


def to_centi(value: Decimal) -> int:
    """Values are kept as exact hundredths."""
    return int(value.scaleb(2))


@lru_cache(maxsize=4096)  # every row read converts three; thresholds and common values repeat
def from_centi(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


# Dict lookups: calling the Enum classes is measurably slow when loading many rows.
_METRICS = {m.value: m for m in MetricType}
_STATUSES = {s.value: s for s in Status}
_PRECISIONS: dict[str | None, Precision | None] = {p.value: p for p in Precision}
_PRECISIONS[None] = None


def milestone_from_row(row: Sequence[Any], parse_time: Callable[[Any], datetime | None] = parse_time) -> Milestone:
    """A stored milestone row (MilestoneRow's columns; a driver's own time type with its `parse_time`)."""
    # Positional arguments in MilestoneRow's field order: this runs for every row a read returns.
    achieved = row[9]
    return Milestone(
        row[0],
        row[1],
        row[2],
        row[3],
        _METRICS[row[4]],
        from_centi(row[5]),
        row[6],
        _STATUSES[row[7]],
        from_centi(row[8]),
        None if achieved is None else from_centi(achieved),
        parse_time(row[10]),
        bool(row[11]),
        row[12],
        _PRECISIONS[row[13]],
        bool(row[14]),
        parse_time(row[15]),
        row[16],
        bool(row[17]),
    )


def milestone_to_row(m: Milestone) -> MilestoneRow:
    return MilestoneRow(
        id=m.id,
        mentor_id=m.mentor_id,
        definition_key=m.definition_key,
        name=m.name,
        type=m.type.value,
        threshold_centi=to_centi(m.threshold),
        position=m.position,
        status=m.status.value,
        current_centi=to_centi(m.current_value),
        achieved_centi=None if m.achieved_value is None else to_centi(m.achieved_value),
        achieved_at=None if m.achieved_at is None else encode_time(m.achieved_at),
        set_by_person=m.set_by_person,
        catalog_version=m.catalog_version,
        achieved_at_precision=None if m.achieved_at_precision is None else m.achieved_at_precision.value,
        value_is_upper_bound=bool(m.value_is_upper_bound),
        revoked_at=None if m.revoked_at is None else encode_time(m.revoked_at),
        revocation_reason=m.revocation_reason,
        supported=m.supported,
    )


def period_to_row(mentor_id: str, period: Period) -> PeriodRow:
    summary = period.summary
    return PeriodRow(
        mentor_id=mentor_id,
        start_date=period.start_date.isoformat(),
        end_date=period.end_date.isoformat(),
        year=period.year,
        total_hours_centi=to_centi(summary.total_hours),
        unique_contacts_helped=summary.unique_contacts_helped,
        activity_count=summary.activity_count,
        contacts=encode_contacts(period.evidence.contacts),
        daily=encode_daily(period.evidence.days),
    )


def period_from_row(row: Sequence[Any], parse_date: Callable[[Any], date]) -> Period:
    """A stored period (PeriodRow's columns after mentor_id; a driver's own date type with its `parse_date`)."""
    return Period(
        start_date=parse_date(row[0]),
        end_date=parse_date(row[1]),
        year=row[2],
        summary=Summary(
            total_hours=from_centi(row[3]),
            unique_contacts_helped=row[4],
            activity_count=row[5],
        ),
        evidence=Evidence(decode_contacts(row[6]), decode_daily(row[7])) if len(row) > 6 else Evidence(),
    )


def milestone_version(m: Milestone) -> str:
    """A fingerprint of everything stored about a milestone; it changes whenever the record does."""
    return _version(
        m.id,
        m.mentor_id,
        m.definition_key,
        m.name,
        m.type.value,
        to_centi(m.threshold),
        m.position,
        m.status.value,
        to_centi(m.current_value),
        None if m.achieved_value is None else to_centi(m.achieved_value),
        None if m.achieved_at is None else encode_time(m.achieved_at),
        m.set_by_person,
        m.catalog_version,
        None if m.achieved_at_precision is None else m.achieved_at_precision.value,
        bool(m.value_is_upper_bound),
        None if m.revoked_at is None else encode_time(m.revoked_at),
        m.revocation_reason,
        m.supported,
    )


def row_version(row: MilestoneRow) -> str:
    """milestone_version of a stored row."""
    return _version(*row)


def _version(
    id: str,
    mentor_id: str,
    definition_key: str,
    name: str,
    type: str,
    threshold_centi: int,
    position: int,
    status: str,
    current_centi: int,
    achieved_centi: int | None,
    achieved_at: str | None,
    set_by_person: bool,
    catalog_version: str,
    achieved_at_precision: str | None,
    value_is_upper_bound: bool,
    revoked_at: str | None,
    revocation_reason: str | None,
    supported: bool,
) -> str:
    # Written out rather than built from the row: the ETag of every GET pays for this. set_by_person as a
    # bool, since SQLite stores it as 0 or 1.
    text = (
        f"{id}|{mentor_id}|{definition_key}|{name}|{type}|{threshold_centi}|{position}|{status}|{current_centi}|"
        f"{achieved_centi}|{achieved_at}|{bool(set_by_person)}|{catalog_version}|{achieved_at_precision}|"
        f"{bool(value_is_upper_bound)}"
    )
    # Only where revocation or a lost threshold touched the record: every other ETag stays what it was.
    if revoked_at is not None or revocation_reason is not None or not supported:
        text += f"|{revoked_at}|{revocation_reason}|{bool(supported)}"
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What is stored under an idempotency key; status_code is None while the first request runs."""

    fingerprint: str
    status_code: int | None
    content_type: str | None
    body: bytes | None
    created_at: datetime


# Decides, inside the claim's transaction, whether an existing record may be replaced by a new claim.
Replaceable = Callable[[IdempotencyRecord], bool]
