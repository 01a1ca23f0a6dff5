"""The storage interface the service depends on, and the pieces both database back ends share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import msgspec

from milestones.access.keys import AccessKey, Scope
from milestones.catalog import CatalogVersion, definitions_of
from milestones.domain import Milestone, MilestoneQuery, Period, Precision, Status, milestone_id
from milestones.domain.changes import Actor, Cause, Change, TransitionKind
from milestones.domain.events import EVENT_OF_KIND, TYPE_BITS, EventType, Position, StoredEvent
from milestones.domain.history import HistoryEntry, MilestoneState, RecordedTransition
from milestones.domain.rows import (
    IdempotencyRecord,
    MilestoneRow,
    PeriodRow,
    Replaceable,
    StalledMentor,
    StoredRows,
    from_centi,
    milestone_from_row,
)
from milestones.domain.rows import parse_time as parse_time_text
from milestones.domain.rules import milestones_after
from milestones.errors import CatalogMoved, MentorNotFound
from milestones.storage.credentials import CredentialStore
from milestones.storage.webhooks import WebhookStore
from milestones.storage.write_path import MENTOR_TABLES, StoredState, TableWrite, unpack_transitions

__all__ = [
    "Applied",
    "Decide",
    "MilestoneQuery",
    "MilestoneRepository",
    "PackedRows",
]

# Decides a write from the stored rows of the mentors it concerns (read inside the write's transaction).
Decide = Callable[[StoredRows], Change]


@dataclass(frozen=True, slots=True)
class Applied:
    """A change as applied, and its mentor's milestones afterwards (catalog order) when it was decided on one
    mentor's rows read in its transaction; a batch's are not worked out (empty)."""

    change: Change
    milestones: list[Milestone]
    # The types of the milestones the change newly achieved (for the metrics), read from its transitions.
    achieved_types: list[str] = field(default_factory=list)
    # An erasure: the rows removed from each table that holds mentor data, by `MentorTable.counted_as`.
    erased: dict[str, int] = field(default_factory=dict)


def erased_counts(change: Change, removed: Sequence[tuple[TableWrite, int]]) -> dict[str, int]:
    """What an erasure removed, by table, from the rows each erase declaration removed (called in the
    transaction). An erasure that removed nothing is refused, so that an unknown mentor leaves no trace."""
    if not change.mentors_erased:
        return {}
    counted_as = {held.table: held.counted_as for held in MENTOR_TABLES}
    counts = {held.counted_as: 0 for held in MENTOR_TABLES}
    for write, count in removed:
        counts[counted_as[write.table]] += count
    if not any(counts.values()):
        raise MentorNotFound()
    return counts


def seen_rows(seen: PackedRows | None) -> PackedRows:
    """The rows a change decided elsewhere was decided on: a change without stored rows read is one with them seen."""
    assert seen is not None
    return seen


def applied(stored: StoredRows | None, change: Change, erased: dict[str, int] | None = None) -> Applied:
    """The Applied of a change, worked out in the writing transaction's thread: on SQLite that thread is
    otherwise waiting, while the event loop serves every request (measured: POST at 2 workers kept 4,300
    req/s with this here, 3,100 with it on the event loop)."""
    if erased:
        return Applied(change, [], erased=erased)
    if stored is None or len(change.mentors) != 1:
        return Applied(change, [])
    milestones = [milestone_from_row(row) for row in milestones_after(stored, change)]
    return Applied(change, milestones, [row.type for row in change.newly_achieved()])


# Rows as the databases serialise them; SQLite's booleans arrive as 0 and 1, hence not strict.
_PERIOD_ROWS = msgspec.json.Decoder(list[PeriodRow], strict=False)
_MILESTONE_ROWS = msgspec.json.Decoder(list[MilestoneRow], strict=False)


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
        return StoredRows(_PERIOD_ROWS.decode(self.periods), _MILESTONE_ROWS.decode(self.milestones), self.as_of)


class MilestoneRepository(Protocol):
    """All the service asks of a database. Every write of mentors' rows goes through `change`; webhooks keep
    their endpoints and deliveries through `webhooks`, credentials their keys and status list through
    `credentials`."""

    webhooks: WebhookStore
    credentials: CredentialStore

    async def get(self, milestone_id: str) -> Milestone | None: ...

    async def find(self, query: MilestoneQuery) -> tuple[list[Milestone], int | None]:
        """A window of the listing and the number of matches (None for a cursor walk, which skips it)."""
        ...

    async def mentor_milestones(self, mentor_id: str, status: Status | None = None) -> list[Milestone]: ...

    async def in_progress(self, mentor_id: str) -> tuple[list[Milestone], tuple[date, date] | None]:
        """The mentor's in-progress milestones in catalog order, and the span of their periods (None without any)."""
        ...

    async def periods(self, mentor_id: str) -> list[Period]: ...

    async def display_name(self, mentor_id: str) -> str | None:
        """The mentor's name as the platform last gave it, or None."""
        ...

    def milestone_rows(self, mentor_id: str | None = None, page_size: int = 5000) -> AsyncIterator[list[MilestoneRow]]:
        """Every stored milestone row (or one mentor's), in id order, a page at a time: constant memory
        however many there are. Pages are read one after another, each in its own short read."""
        ...

    def period_rows(self, mentor_id: str | None = None, page_size: int = 5000) -> AsyncIterator[list[PeriodRow]]:
        """Every stored period row (or one mentor's), by mentor and dates, a page at a time, as milestone_rows."""
        ...

    async def milestone_versions(self, after: str, limit: int) -> list[tuple[str, str, str | None]]:
        """Up to `limit` milestone records after the id `after`, in id order, as (id, mentor, catalog version):
        re-evaluation's walk over the mentors, each page its own short read."""
        ...

    async def mentor_counts(self) -> dict[str, int]:
        """The mentor counts the write path keeps (write_path.count_deltas), by what each counts: read from the
        counts alone, never the milestones."""
        ...

    async def stalled_mentors(self, ended_before: date, after: str, limit: int) -> list[StalledMentor]:
        """Up to `limit` mentors after the id `after`, in id order, whose latest period ended before `ended_before`
        and who have a record in progress."""
        ...

    async def change(
        self,
        mentors: Sequence[str],
        decide: Decide,
        *,
        seen: PackedRows | None = None,
        decided: Change | None = None,
    ) -> Applied:
        """The one write path: in one transaction, with `mentors` locked, read their rows, `decide` the change
        and apply it. Writes to the same mentors are serialized; a change that raises writes nothing.

        Bulk detection decides ahead, on rows `seen` earlier by `read_rows`, and passes that `decided`
        change: it is applied as it is when the rows are still as seen, else decided again on the current
        ones.
        """
        ...

    async def history(self, mentor_id: str, from_id: int, limit: int) -> list[HistoryEntry]:
        """Up to `limit` of a mentor's history entries, oldest first, from the entry with id `from_id` on."""
        ...

    async def prune_history(self, before: datetime, batch_size: int = 1000) -> int | None:
        """Remove history entries older than `before`, `batch_size` at a time, each batch its own short write
        transaction; the number removed, or None when another process is pruning (one at a time)."""
        ...

    async def events(
        self, after: Position, types: int, mentor_id: str | None, limit: int
    ) -> tuple[list[StoredEvent], Position]:
        """Up to `limit` events after `after` in feed order, of the types in the bits `types` (and of one mentor),
        and where to resume: after the last one, or at the horizon when none are left below it. Only events every
        later read will also see are answered: none can appear later before the resume point."""
        ...

    async def event_horizon(self) -> Position:
        """Where a feed that starts now (`cursor=latest`) begins: every event committed later sorts after it."""
        ...

    async def oldest_event(self) -> tuple[str, datetime] | None:
        """The id and time of the oldest event kept, or None when there are none."""
        ...

    async def prune_events(self, before: datetime, batch_size: int = 1000) -> int | None:
        """Remove events older than `before`, as prune_history removes history."""
        ...

    async def read_rows(self, mentor_ids: Sequence[str]) -> PackedRows:
        """The stored rows of a batch of mentors, for bulk detection, noted with when they were read."""
        ...

    async def claim_idempotency_key(
        self,
        key: str,
        fingerprint: str,
        now: datetime,
        replaceable: Replaceable,
        expired_before: datetime,
        mentor_id: str | None = None,
    ) -> IdempotencyRecord | None:
        """Claim `key` for a request and return None, or return the record already stored under it. The
        mentor the request names is kept beside it, for erasure.

        In the same transaction, keys created before `expired_before` are removed: they live no longer.
        """
        ...

    async def finish_idempotency_key(
        self, key: str, fingerprint: str, status_code: int, content_type: str, body: bytes
    ) -> None: ...

    async def release_idempotency_key(self, key: str, fingerprint: str) -> None:
        """Forget an unfinished claim, so that a retry runs the request again."""
        ...

    async def service_secret(self, name: str, proposed: str) -> str:
        """The value the service keeps under `name` (the erasure salt); `proposed` is stored when there is none
        yet. Every process and host gets the same value, whichever proposed it first."""
        ...

    async def latest_catalog_version(self) -> str | None:
        """The name of the latest stored catalog version (None while none is stored): what workers poll."""
        ...

    async def catalog_versions(self, after_seq: int = 0) -> list[tuple[int, CatalogVersion]]:
        """The stored catalog versions published after `after_seq`, in publication order, with their seq."""
        ...

    async def add_catalog_version(self, catalog: CatalogVersion, now: datetime, *, first: bool = False) -> int | None:
        """Store `catalog` as the latest version; its seq, or None when a version of that name is stored already
        (or, with `first`, when any version is)."""
        ...

    async def access_keys(self) -> list[AccessKey]:
        """Every key made by `milestones keys create`, revoked ones included, oldest first."""
        ...

    async def add_access_key(self, key: AccessKey) -> None: ...

    async def revoke_access_key(self, key_id: str, now: datetime) -> AccessKey | None:
        """Revoke a key (once: revoking again keeps the first time); None when no key has this id."""
        ...

    async def schema_revision(self) -> str | None: ...

    async def close(self) -> None: ...


async def latest_catalog(repository: MilestoneRepository, configured: CatalogVersion, now: datetime) -> CatalogVersion:
    """The latest stored catalog version; `configured` is published as the first when none is stored."""
    if await repository.latest_catalog_version() is None:
        await repository.add_catalog_version(configured, now, first=True)
    return (await repository.catalog_versions())[-1][1]


def check_catalog(change: Change, latest: str | None) -> None:
    """Refuse, inside the write's transaction, a change decided under a catalog version that is no longer the
    latest: its mentors' records would otherwise flip between two versions. A change decided under no version
    (erasure, or the rules called without one) is not checked."""
    if change.catalog_version and latest is not None and latest != change.catalog_version:
        raise CatalogMoved(change.catalog_version, latest)


def catalog_version_from_row(
    row: Sequence[Any], parse_time: Callable[[Any], datetime | None]
) -> tuple[int, CatalogVersion]:
    """A stored catalog version (queries.CATALOG_VERSION_COLUMNS) and its seq."""
    return row[0], CatalogVersion(row[1], definitions_of(row[3]), row[2], parse_time(row[4]))


def history_entry_from_row(
    row: Sequence[Any], mentor_id: str, parse_time: Callable[[Any], datetime | None], parse_date: Callable[[Any], date]
) -> HistoryEntry:
    """A stored history entry (queries.HISTORY_READ_COLUMNS), its transitions unpacked."""
    at = parse_time(row[1])
    assert at is not None
    start, end = row[5], row[6]
    return HistoryEntry(
        id=row[0],
        mentor_id=mentor_id,
        at=at,
        actor=Actor.parse(row[2]),
        request_id=row[3],
        cause=Cause(row[4]),
        period=None if start is None else (parse_date(start), parse_date(end)),
        catalog_version=row[7],
        transitions=[
            RecordedTransition(milestone_id(mentor_id, key), TransitionKind(kind), _state(before), _state(after))
            for key, kind, before, after in unpack_transitions(bytes(row[8]))
        ],
    )


_EVENT_TYPES = {kind.value: kind for kind in EventType}
_ERASED = TYPE_BITS[EventType.MENTOR_ERASED]


def events_from_rows(
    rows: Sequence[Sequence[Any]],
    after: Position,
    types: int,
    limit: int,
    horizon: Position,
    parse_time: Callable[[Any], datetime | None],
) -> tuple[list[StoredEvent], Position]:
    """The events of outbox rows read in feed order (queries.EVENT_READ_COLUMNS after the transaction id), up to
    `limit` of them after `after` and of the `types` bits, and the resume point. The rows were read `limit + 1`
    at most, from `after`'s row on: when fewer came, every row below `horizon` has been seen."""
    events: list[StoredEvent] = []
    for row in rows:
        txid, row_id, mentor_id, at_value, actor, request_id, cause, version, notify, row_types, packed = row
        at = parse_time(at_value)
        assert at is not None
        common = (mentor_id, at, Actor.parse(actor), request_id, Cause(cause), version, bool(notify))
        if row_types == _ERASED:
            position = (int(txid), row_id, 0)
            if position > after and types & _ERASED:
                events.append(StoredEvent(position, EventType.MENTOR_ERASED, *common, transition=None))
            continue
        for index, (key, kind, before, after_state) in enumerate(unpack_transitions(bytes(packed))):
            position = (int(txid), row_id, index)
            event_type = EVENT_OF_KIND[kind]
            if position > after and types & TYPE_BITS[event_type]:
                transition = RecordedTransition(
                    milestone_id(mentor_id, key), TransitionKind(kind), _state(before), _state(after_state)
                )
                events.append(StoredEvent(position, _EVENT_TYPES[event_type], *common, transition=transition))
    if len(events) > limit:
        events = events[:limit]
        return events, events[-1].position
    if len(rows) <= limit:
        return events, horizon
    # limit + 1 rows gave no more than `limit` events: every event of the last row is here.
    return events, (events[-1].position if events else after)


def _state(stored: StoredState | None) -> MilestoneState | None:
    if stored is None:
        return None
    status, current, achieved, achieved_at, set_by_person, threshold = stored[:6]
    precision, upper_bound = stored[6:8] if len(stored) >= 8 else (None, None)
    revoked_at, reason, supported = stored[8:11] if len(stored) >= 11 else (None, None, None)
    return MilestoneState(
        status=Status(status),
        current_value=from_centi(current),
        achieved_value=None if achieved is None else from_centi(achieved),
        # History packs times as rows carry them (encode_time's text), on both databases.
        achieved_at=parse_time_text(achieved_at),
        set_by_person=bool(set_by_person),
        threshold=from_centi(threshold),
        achieved_at_precision=None if precision is None else Precision(precision),
        value_is_upper_bound=None if upper_bound is None else bool(upper_bound),
        revoked_at=parse_time_text(revoked_at),
        revocation_reason=reason,
        supported=None if supported is None else bool(supported),
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


def access_key_from_row(row: Sequence[Any], parse_time: Callable[[Any], datetime | None]) -> AccessKey:
    return AccessKey(
        id=row[0],
        name=row[1],
        scope=Scope.named(row[2]),
        digest=row[3],
        created_at=parse_time(row[4]),
        revoked_at=parse_time(row[5]),
    )
