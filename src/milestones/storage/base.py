"""The storage interface the service depends on, and the pieces both database back ends share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

from milestones.domain import MentorState, MetricType, Milestone, Period, Status, Summary
from milestones.row_detection import PackedRows, RowsDiff, StoredRows

MentorChange = Callable[[MentorState], MentorState]


@dataclass(frozen=True, slots=True)
class MilestoneQuery:
    """Filters and window of a milestone listing; achieved_* bounds are [from, to)."""

    mentor_id: str | None = None
    type: MetricType | None = None
    status: Status | None = None
    achieved_from: datetime | None = None
    achieved_before: datetime | None = None
    # Keyset pagination: only ids after this one, in id order, and no count.
    after_id: str | None = None
    offset: int = 0
    limit: int = 20


@dataclass(frozen=True, slots=True)
class StateDiff:
    """The rows to write to turn one stored mentor state into the next."""

    upsert_periods: list[tuple[str, Period]] = field(default_factory=list)
    delete_periods: list[tuple[str, Period]] = field(default_factory=list)
    upsert_milestones: list[Milestone] = field(default_factory=list)
    delete_milestones: list[Milestone] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.upsert_periods or self.delete_periods or self.upsert_milestones or self.delete_milestones)


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


# Bulk form of MentorChange: gets a batch of mentors' stored rows, returns the rows to write.
RowsChange = Callable[[StoredRows], RowsDiff]


class MilestoneRepository(Protocol):
    """All the service asks of a database. Every write goes through `change_mentor`."""

    async def get(self, milestone_id: str) -> Milestone | None: ...

    async def find(self, query: MilestoneQuery) -> tuple[list[Milestone], int | None]:
        """A window of the listing and the number of matches (None for a cursor walk, which skips it)."""
        ...

    async def mentor_milestones(self, mentor_id: str, status: Status | None = None) -> list[Milestone]: ...

    async def periods(self, mentor_id: str) -> list[Period]: ...

    async def change_mentor(self, mentor_id: str, change: MentorChange) -> tuple[MentorState, bool]:
        """Load the mentor's state, apply `change`, store the difference, all in one transaction.

        Changes to one mentor are serialized. Returns the new state and whether anything was written.
        """
        ...

    async def change_mentor_rows(self, mentor_id: str, change: RowsChange) -> tuple[list[Milestone], RowsDiff]:
        """change_mentor on rows: load the mentor's rows, apply `change`, write its diff, in one transaction.

        Returns the mentor's milestones afterwards, in catalog order, and the diff.
        """
        ...

    async def read_rows(self, mentor_ids: Sequence[str]) -> PackedRows:
        """The stored rows of a batch of mentors, for bulk detection: dates and times as ISO text."""
        ...

    async def write_rows(
        self, mentor_ids: Sequence[str], seen: PackedRows, diff: RowsDiff, change: RowsChange
    ) -> RowsDiff:
        """The bulk form of change_mentor: write `diff`, worked out from the rows `seen` earlier by `read_rows`.

        In one transaction with the mentors locked: if their rows are no longer as seen, `change` works out
        the diff again from the current ones. Returns what was written.
        """
        ...

    async def claim_idempotency_key(
        self, key: str, fingerprint: str, now: datetime, replaceable: Replaceable
    ) -> IdempotencyRecord | None:
        """Claim `key` for a request and return None, or return the record already stored under it."""
        ...

    async def finish_idempotency_key(
        self, key: str, fingerprint: str, status_code: int, content_type: str, body: bytes
    ) -> None: ...

    async def release_idempotency_key(self, key: str, fingerprint: str) -> None:
        """Forget an unfinished claim, so that a retry runs the request again."""
        ...

    async def schema_revision(self) -> str | None: ...

    async def close(self) -> None: ...


def diff_states(before: MentorState, after: MentorState) -> StateDiff:
    """What changed between two states of one mentor, row by row."""
    old_periods = {p.span: p for p in before.periods}
    new_periods = {p.span: p for p in after.periods}
    old_milestones = {m.id: m for m in before.milestones}
    new_milestones = {m.id: m for m in after.milestones}
    return StateDiff(
        upsert_periods=[(after.mentor_id, p) for span, p in new_periods.items() if old_periods.get(span) != p],
        delete_periods=[(before.mentor_id, p) for span, p in old_periods.items() if span not in new_periods],
        upsert_milestones=[m for key, m in new_milestones.items() if old_milestones.get(key) != m],
        delete_milestones=[m for key, m in old_milestones.items() if key not in new_milestones],
    )


@lru_cache(maxsize=4096)
def encode_time(moment: datetime) -> str:
    """A time as ISO text in UTC with microseconds: how SQLite stores times and how bulk rows carry them.

    Fixed width, so text order is time order (range filters work on the column, and bulk detection compares
    times as text). isoformat, not strftime: strftime("%Y") does not pad years before 1000. Cached: most
    achieved_at values are the last second of a few period end dates.
    """
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# Bulk rows carry times as encode_time's text; cached, as a bulk file holds a handful of distinct times.
time_from_text = lru_cache(maxsize=4096)(datetime.fromisoformat)


def milestones_after(stored: StoredRows, diff: RowsDiff) -> list[Milestone]:
    """The milestones of `stored` (rows of one mentor) once `diff` is written, in catalog order."""
    rows = {row[0]: row for row in stored.milestones}
    for milestone_id in diff.delete_milestones:
        del rows[milestone_id]
    rows.update((row[0], row) for row in diff.upsert_milestones)
    milestones = [milestone_from_row(row, parse_time) for row in rows.values()]
    return sorted(milestones, key=lambda m: (m.position, m.id))


def parse_time(value: Any) -> datetime | None:
    """A stored time (encode_time's text), or None."""
    return None if value is None else time_from_text(value)


def to_centi(value: Decimal) -> int:
    """Values are stored as exact hundredths, so sums never pick up float noise."""
    return int(value.scaleb(2))


@lru_cache(maxsize=4096)  # every row read converts three; thresholds and common values repeat
def from_centi(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


# Dict lookups: calling the Enum classes is measurably slow when loading millions of rows.
_METRICS = {m.value: m for m in MetricType}
_STATUSES = {s.value: s for s in Status}


def milestone_from_row(row: Sequence[Any], parse_time: Callable[[Any], datetime | None]) -> Milestone:
    # Positional arguments in field order: this runs for every row read, millions of times in bulk runs.
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
    )


def milestone_to_row(m: Milestone, encode_time: Callable[[datetime], Any]) -> tuple[Any, ...]:
    return (
        m.id,
        m.mentor_id,
        m.definition_key,
        m.name,
        # The enums are str subclasses: the drivers store them as their text.
        m.type,
        to_centi(m.threshold),
        m.position,
        m.status,
        to_centi(m.current_value),
        None if m.achieved_value is None else to_centi(m.achieved_value),
        None if m.achieved_at is None else encode_time(m.achieved_at),
        m.set_by_person,
    )


def period_to_row(mentor_id: str, p: Period) -> tuple[Any, ...]:
    s = p.summary
    return (
        mentor_id,
        p.start_date,
        p.end_date,
        p.year,
        to_centi(s.total_hours),
        s.unique_contacts_helped,
        s.activity_count,
    )


def period_from_row(row: Sequence[Any], parse_date: Callable[[Any], date]) -> Period:
    return Period(
        start_date=parse_date(row[0]),
        end_date=parse_date(row[1]),
        year=row[2],
        summary=Summary(
            total_hours=from_centi(row[3]),
            unique_contacts_helped=row[4],
            activity_count=row[5],
        ),
    )


def idempotency_from_row(row: Sequence[Any], parse_time: Callable[[Any], datetime | None]) -> IdempotencyRecord:
    created_at = parse_time(row[4])
    assert created_at is not None
    return IdempotencyRecord(
        fingerprint=row[0],
        status_code=row[1],
        content_type=row[2],
        body=None if row[3] is None else bytes(row[3]),
        created_at=created_at,
    )
