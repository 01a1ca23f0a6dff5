"""The tables a change writes, declared once: both back ends' `_apply` work through this list, in order.

A table joins the write path (history, the events' outbox and the mentors' names now; deliveries later) by adding a
`TableWrite` here: which rows of a change it takes, and whether they are deleted by key, upserted by key or appended.
The statements come from the declaration (`queries`), and each back end applies every declaration the same
way (SQLite `executemany`; PostgreSQL `executemany` for a request's few rows, COPY for a batch's).
"""

from __future__ import annotations

import operator
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

import msgspec

from milestones.domain.changes import Cause, Change, Transition
from milestones.domain.events import KIND_BITS, TYPE_BITS, EventType
from milestones.domain.rows import WITH_PERIOD, MentorRow, MilestoneRow, PeriodRow, StoredRows, counted_status
from milestones.storage import queries

Row = Sequence[Any]


@dataclass(frozen=True)
class TableWrite:
    """One kind of write a change makes to one table."""

    how: Literal["erase", "delete", "upsert", "append", "add"]
    table: str
    # erase: the column naming the mentor; delete: the key columns; upsert, append and add: every column written
    # (add: the key, then the one column the rows' numbers are added to).
    columns: tuple[str, ...]
    rows: Callable[[Change], Sequence[Row]]
    # upsert: the conflict key, and the columns an update never changes.
    key: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    # PostgreSQL: merge rows in key order, so that concurrent merges lock rows in one order.
    ordered: bool = False
    # Rows worked out from the change's steps, which bulk detection prepares ahead (see `prepared`).
    from_steps: bool = False
    # erase: the column holds ids that begin with the mentor's id (a range of the primary key), not the id.
    ranged: bool = False
    # upsert: columns written as NULL by the statement itself, which the rows leave out. Binding None costs
    # sqlite3 several times what binding a number does (measured: two NULL columns made a period upsert 65%
    # slower), so rows whose optional columns are all None go through a declaration of their own.
    nulls: tuple[str, ...] = ()

    def rows_of(self, change: Change) -> Sequence[Row]:
        """The rows this change writes to the table."""
        if self.from_steps and change.prepared is not None and self.table in change.prepared:
            return change.prepared[self.table]
        return self.rows(change)

    @cached_property
    def statement(self) -> str:
        """The statement for one row, with `?` placeholders."""
        if self.how == "erase" and self.ranged:
            return queries.delete_in_range(self.table, self.columns[0])
        if self.how in ("erase", "delete"):
            return queries.delete_by_key(self.table, self.columns)
        if self.how == "upsert":
            return queries.upsert(self.table, self.columns, self.key, self.fixed, self.nulls)
        if self.how == "add":
            return queries.add_to(self.table, self.columns[:-1], self.columns[-1])
        return queries.insert(self.table, self.columns)

    @cached_property
    def scratch_table(self) -> str:
        """PostgreSQL: the temporary table a batch's rows are COPYed into before an upsert merges them."""
        # A table's declarations with NULL columns of their own merge apart: each its own scratch table.
        return f"bulk_{self.table}" + "".join(f"_no_{column}" for column in self.nulls)

    @cached_property
    def merge(self) -> str:
        """PostgreSQL: the statement that merges the scratch table into the table."""
        return queries.merge_from(self.scratch_table, self.table, self.columns + self.nulls, self.key, self.fixed)


# --- history: one entry per step, its transitions packed compactly -------------------------------------------

HISTORY_COLUMNS = (
    "mentor_id",
    "at",
    "actor",
    "request_id",
    "cause",
    "period_start",
    "period_end",
    "catalog_version",
    "transitions",
)
# What history keeps of a milestone row, before and after: the fields a transition moves. The rest (name,
# type, position) is the catalog's, which the catalog version names.
# How the date was found and whether the value is an upper bound come next: entries written before they were
# kept have six fields. Revocation's time and reason, and whether the values support an achieved record, come
# last: entries written before them have eight.
STATE_FIELDS = (
    "status",
    "current_centi",
    "achieved_centi",
    "achieved_at",
    "set_by_person",
    "threshold_centi",
    "achieved_at_precision",
    "value_is_upper_bound",
    "revoked_at",
    "revocation_reason",
    "supported",
)
_state = operator.itemgetter(*(MilestoneRow._fields.index(name) for name in STATE_FIELDS))
_KEY = MilestoneRow._fields.index("definition_key")
_encode = msgspec.msgpack.Encoder().encode
# A stored transition: [definition key, kind, state before or nil, state after or nil]; a state is STATE_FIELDS.
# [status, current, achieved, achieved_at, set_by_person, threshold, precision, upper bound, revoked_at, revocation
# reason, supported]: the precision and upper bound only in entries written since migration 0011, the last three
# since migration 0014.
StoredState = tuple[Any, ...]
StoredTransition = tuple[str, str, StoredState | None, StoredState | None]
# Not strict: rows read from SQLite carry set_by_person as 0 or 1.
_decode_transitions = msgspec.msgpack.Decoder(list[StoredTransition], strict=False)


def pack_transitions(transitions: list[Transition]) -> bytes:
    """A step's transitions as history stores them: MessagePack of codes and hundredths, a few dozen bytes each."""
    # Indexes and itemgetter rather than attributes and a helper: bulk detection packs millions of these.
    return _encode(
        [
            (
                (t[2] if t[2] is not None else t[1])[_KEY],  # type: ignore[index]
                t[0],
                None if t[1] is None else _state(t[1]),
                None if t[2] is None else _state(t[2]),
            )
            for t in transitions
        ]
    )


def unpack_transitions(packed: bytes) -> list[StoredTransition]:
    return _decode_transitions.decode(packed)


def history_rows(change: Change) -> list[Row]:
    """One history row per step of the change; a change that alters no milestone has none."""
    if not change.steps:
        return []
    actor, cause = str(change.actor), change.cause.value
    at, request_id, version, pack = change.at, change.request_id, change.catalog_version, pack_transitions
    return [
        (
            step.mentor_id,
            at,
            actor,
            request_id,
            cause,
            *(step.period or _NO_PERIOD),
            version,
            pack(step.transitions),
        )
        for step in change.steps
    ]


_NO_PERIOD = (None, None)


# --- events: the outbox, one row per step that makes an event, its transitions packed as history's ----------

EVENT_COLUMNS = (
    "mentor_id",
    "at",
    "actor",
    "request_id",
    "cause",
    "catalog_version",
    "notify",
    "types",
    "transitions",
)
_ERASED = TYPE_BITS[EventType.MENTOR_ERASED]
_NO_TRANSITIONS = _encode([])


def event_rows(change: Change) -> list[Row]:
    """The outbox rows of a change: one per step with a transition that makes an event (domain.events), holding
    those transitions and the set of their event types; an erasure's one step is `mentor.erased`. One row per step
    rather than per event keeps a bulk run's outbox at one row per summary, as history's."""
    if not change.steps:
        return []
    actor, cause = str(change.actor), change.cause.value
    at, request_id, version, notify = change.at, change.request_id, change.catalog_version, change.notify
    if change.cause is Cause.ERASURE:
        return [
            (step.mentor_id, at, actor, request_id, cause, version, notify, _ERASED, _NO_TRANSITIONS)
            for step in change.steps
        ]
    rows: list[Row] = []
    bits = KIND_BITS
    for step in change.steps:
        transitions = step.transitions
        mask = 0
        for transition in transitions:
            mask |= bits.get(transition[0], 0)
        if not mask:
            continue
        if any(transition[0] not in bits for transition in transitions):
            transitions = [transition for transition in transitions if transition[0] in bits]
        rows.append(
            (step.mentor_id, at, actor, request_id, cause, version, notify, mask, pack_transitions(transitions))
        )
    return rows


_PERIOD_KEY = ("mentor_id", "start_date", "end_date")
# A period's evidence columns come last (rows.PeriodRow): a period without evidence is the row's head.
_EVIDENCE = ("contacts", "daily")
_PLAIN_PERIOD_LENGTH = len(PeriodRow._fields) - len(_EVIDENCE)
_PLAIN_PERIOD = PeriodRow._fields[:_PLAIN_PERIOD_LENGTH]
assert PeriodRow._fields[_PLAIN_PERIOD_LENGTH:] == _EVIDENCE
_CONTACTS_AT, _DAILY_AT = (PeriodRow._fields.index(name) for name in _EVIDENCE)
# What an unachieved milestone leaves empty, and what one not revoked does; the statements write them NULL rather
# than binding Nones.
_UNREVOKED = ("revoked_at", "revocation_reason")
_UNACHIEVED = ("achieved_centi", "achieved_at", "achieved_at_precision", *_UNREVOKED)


def _leaving_out(nulls: tuple[str, ...]) -> tuple[tuple[str, ...], Callable[[MilestoneRow], Row]]:
    """The columns of a milestone row other than `nulls`, and what takes them from a row."""
    kept_at = tuple(i for i, name in enumerate(MilestoneRow._fields) if name not in nulls)
    return tuple(MilestoneRow._fields[i] for i in kept_at), operator.itemgetter(*kept_at)


_UNDATED_MILESTONE, _kept = _leaving_out(_UNACHIEVED)
_UNREVOKED_MILESTONE, _kept_unrevoked = _leaving_out(_UNREVOKED)
_achieved_centi, _achieved_at, _precision, _revoked_at, _reason = (
    operator.itemgetter(MilestoneRow._fields.index(name)) for name in _UNACHIEVED
)


def _no_evidence(row: PeriodRow) -> bool:
    return row[_CONTACTS_AT] is None and row[_DAILY_AT] is None


def _unrevoked(row: MilestoneRow) -> bool:
    return _revoked_at(row) is None and _reason(row) is None


def _unachieved(row: MilestoneRow) -> bool:
    return _achieved_centi(row) is None and _achieved_at(row) is None and _precision(row) is None and _unrevoked(row)


def _undated_milestones(change: Change) -> list[Row]:
    return [_kept(row) for row in change.milestones_written if _unachieved(row)]


def _dated_milestones(change: Change) -> list[Row]:
    return [_kept_unrevoked(row) for row in change.milestones_written if _unrevoked(row) and not _unachieved(row)]


def _revoked_milestones(change: Change) -> list[Row]:
    return [row for row in change.milestones_written if not _unrevoked(row)]


# --- mentor counts: the rarity of each milestone, kept by every write -----------------------------------------

COUNT_COLUMNS = ("counted", "slot", "mentors")
# What a count row counts (rows.counted_status, rows.WITH_PERIOD): achieved ones are a definition's rarity, in-progress
# ones the program report's.
#
# Slots per count. Writers add to the slot of the mentor they change, so on PostgreSQL two concurrent writes wait on
# one row only when their mentors share a slot (1 in 64) and both move that count; a read sums 64 rows per count at
# most. Insert-only delta rows would never wait at all, but they grow until compacted, and compaction is one more
# writer to schedule; slots stay bounded and exact with nothing else running.
SLOTS = 64
CountRow = tuple[str, int, int]


def count_slot(mentor_id: str) -> int:
    """The slot a mentor's counts go to: the same in every process (crc32, not Python's salted hash)."""
    return zlib.crc32(mentor_id.encode()) % SLOTS


def count_deltas(stored: StoredRows, change: Change) -> list[CountRow]:
    """What the change adds to each count, by slot, worked out from the rows it writes and removes against the
    stored rows it was decided on: nonzero only, in key order (so concurrent writers lock rows in one order)."""
    deltas: dict[tuple[str, int], int] = {}

    def add(counted: str, mentor_id: str, delta: int) -> None:
        at = (counted, count_slot(mentor_id))
        deltas[at] = deltas.get(at, 0) + delta

    erased = set(change.mentors_erased)
    if change.milestones_written or change.milestones_removed or erased:
        before = {row.id: row for row in stored.milestones}
        after: dict[str, MilestoneRow | None] = {}
        for row in stored.milestones:
            if row.mentor_id in erased:
                after[row.id] = None
        for milestone_id in change.milestones_removed:
            after[milestone_id] = None
        for row in change.milestones_written:
            after[row.id] = row
        for milestone_id, now in after.items():
            old = before.get(milestone_id)
            if old is not None and now is not None and old.status == now.status:
                continue
            if old is not None:
                add(counted_status(old.status, old.definition_key), old.mentor_id, -1)
            if now is not None:
                add(counted_status(now.status, now.definition_key), now.mentor_id, 1)
    if change.periods_written or change.periods_removed or erased:
        touched = {row.mentor_id for row in change.periods_written}
        touched |= {row.mentor_id for row in change.periods_removed}
        touched |= erased
        periods: dict[str, set[tuple[str, str]]] = {mentor_id: set() for mentor_id in touched}
        for period in stored.periods:
            if period.mentor_id in periods:
                periods[period.mentor_id].add((period.start_date, period.end_date))
        had = {mentor_id for mentor_id, held_periods in periods.items() if held_periods}
        for period in change.periods_removed:
            periods[period.mentor_id].discard((period.start_date, period.end_date))
        for mentor_id in erased:
            periods[mentor_id].clear()
        for period in change.periods_written:
            periods[period.mentor_id].add((period.start_date, period.end_date))
        for mentor_id, held_periods in periods.items():
            if held := bool(held_periods) - (mentor_id in had):
                add(WITH_PERIOD, mentor_id, held)
    return sorted((counted, slot, delta) for (counted, slot), delta in deltas.items() if delta)


# --- erasure: every table that holds anything about a mentor, and those that hold nothing -------------------


@dataclass(frozen=True)
class MentorTable:
    """A table that holds mentor data: erasure removes its rows whose `column` names the mentor."""

    table: str
    column: str
    # What the erasure's answer calls the rows it removed.
    counted_as: str
    # The column holds milestone ids, "<mentor_id>~<key>": the mentor's rows are a range of it (the primary
    # key's index), where a mentor_id column of its own has no index.
    ranged: bool = False

    def erasure(self) -> TableWrite:
        """The write path's declaration that removes a mentor's rows from this table."""
        if self.ranged:
            return TableWrite(
                "erase",
                self.table,
                (self.column,),
                lambda change: [queries.mentor_range(m) for m in change.mentors_erased],
                ranged=True,
            )
        return TableWrite("erase", self.table, (self.column,), lambda change: [(m,) for m in change.mentors_erased])


# A table that a migration adds must be in one of these two lists: a test of the migrated schema fails otherwise,
# so no table can hold a mentor's data that erasure does not reach.
MENTOR_TABLES: tuple[MentorTable, ...] = (
    MentorTable("periods", "mentor_id", "periods"),
    MentorTable("milestones", "id", "milestones", ranged=True),
    MentorTable("history", "mentor_id", "history_entries"),
    # The outbox: a mentor's events go, and the erasure's own `mentor.erased` (named by the hash) is written after.
    MentorTable("events", "mentor_id", "events"),
    # Stored answers to POSTs with an Idempotency-Key: they repeat the mentor's milestones.
    MentorTable("idempotency_keys", "mentor_id", "idempotency_records"),
    # What the platform told about the mentor themselves: their name.
    MentorTable("mentors", "mentor_id", "mentor_records"),
    # Webhook deliveries carry the rendered event: erasure cancels a mentor's pending ones and forgets the rest.
    MentorTable("webhook_deliveries", "mentor_id", "webhook_deliveries"),
    # Each issued credential's index in the revocation status list names its milestone.
    MentorTable("credential_status", "mentor_id", "credential_status_entries"),
)
# Endpoints hold URLs and secrets; the attempts' log holds event ids, outcomes and timings, never a payload.
HOLDS_NO_MENTOR_DATA: tuple[str, ...] = (
    "alembic_version",
    "access_keys",
    "service_secrets",
    "catalog_versions",
    # Counts of mentors per slot: no mentor is named, and no count is of fewer than the slot's mentors.
    "mentor_counts",
    "webhook_endpoints",
    "webhook_attempts",
    # The service's own signing keys (quick start only).
    "credential_keys",
)

# In this order: erasures first (the erasure's own history entry, appended last, names the mentor by a hash
# and so survives), then removals (a period removed and one written may share nothing, but a milestone removed
# and written again by one change never happens), then upserts, then what follows from the change.
WRITE_PATH: tuple[TableWrite, ...] = (
    *(held.erasure() for held in MENTOR_TABLES),
    TableWrite(
        "delete",
        "periods",
        _PERIOD_KEY,
        lambda change: [(p.mentor_id, p.start_date, p.end_date) for p in change.periods_removed],
    ),
    TableWrite("delete", "milestones", ("id",), lambda change: [(i,) for i in change.milestones_removed]),
    # Periods sent with a summary alone (the common case), then those with evidence.
    TableWrite(
        "upsert",
        "periods",
        _PLAIN_PERIOD,
        lambda change: [row[:_PLAIN_PERIOD_LENGTH] for row in change.periods_written if _no_evidence(row)],
        key=_PERIOD_KEY,
        nulls=_EVIDENCE,
    ),
    TableWrite(
        "upsert",
        "periods",
        PeriodRow._fields,
        lambda change: [row for row in change.periods_written if not _no_evidence(row)],
        key=_PERIOD_KEY,
    ),
    # Milestones not achieved (nothing to date), achieved ones, then revoked ones.
    *(
        TableWrite(
            "upsert",
            "milestones",
            columns,
            rows,
            key=("id",),
            # The id names the mentor and the key, so an update never changes those (nor has the CHECK to test them).
            fixed=("mentor_id", "definition_key"),
            ordered=True,
            nulls=nulls,
        )
        for columns, rows, nulls in (
            (_UNDATED_MILESTONE, _undated_milestones, _UNACHIEVED),
            (_UNREVOKED_MILESTONE, _dated_milestones, _UNREVOKED),
            (MilestoneRow._fields, _revoked_milestones, ()),
        )
    ),
    TableWrite(
        "upsert", "mentors", MentorRow._fields, lambda change: change.mentors_written, key=("mentor_id",), ordered=True
    ),
    TableWrite("append", "history", HISTORY_COLUMNS, history_rows, from_steps=True),
    TableWrite("append", "events", EVENT_COLUMNS, event_rows, from_steps=True),
    # Last: on PostgreSQL a slot's row stays locked from here to the commit, so it is held as briefly as can be.
    TableWrite("add", "mentor_counts", COUNT_COLUMNS, lambda change: change.counted or (), ordered=True),
)


def prepared(change: Change, stored: StoredRows) -> Change:
    """The change with the rows its steps give worked out, and without the steps, counted against the rows it was
    decided on (`counted`): what bulk detection's second process sends to the writing one. Rows of codes and
    hundredths cross for a fraction of what the steps' before and after rows would cost to encode and decode, and
    the writer builds none of them."""
    rows = {write.table: list(map(tuple, write.rows(change))) for write in WRITE_PATH if write.from_steps}
    return replace(change, steps=[], prepared=rows, counted=count_deltas(stored, change))
