"""Every SQL statement the service runs, written once with `?` placeholders for both databases."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from milestones.domain import MilestoneQuery, Status
from milestones.domain.rows import MilestoneRow, PeriodRow

# Column lists come from the row types: a milestone SELECT answers MilestoneRow's fields in order, a period
# row PeriodRow's; PERIOD_COLUMNS leaves out mentor_id, for reads of one mentor's periods.
MILESTONE_COLUMNS = ", ".join(MilestoneRow._fields)
PERIOD_ROW_COLUMNS = ", ".join(PeriodRow._fields)
PERIOD_COLUMNS = ", ".join(PeriodRow._fields[1:])
# Columns PostgreSQL keeps as dates and times, where rows carry ISO text (see `rows`).
DATE_COLUMNS = frozenset({"start_date", "end_date", "period_start", "period_end"})
TIME_COLUMNS = frozenset({"achieved_at", "revoked_at", "at"})


def _placeholders(fields: tuple[str, ...]) -> str:
    return ", ".join("?" for _ in fields)


def _updates(fields: tuple[str, ...], key: tuple[str, ...]) -> str:
    return ", ".join(f"{c} = excluded.{c}" for c in fields if c not in key)


_QUALIFIED_MILESTONE_COLUMNS = ", ".join(f"milestones.{c}" for c in MILESTONE_COLUMNS.split(", "))

GET_MILESTONE = f"SELECT {MILESTONE_COLUMNS} FROM milestones WHERE id = ?"
# A mentor's milestones are one primary-key range: ids are "<mentor_id>~<key>" (see `mentor_range`).
MENTOR_MILESTONES = f"SELECT {MILESTONE_COLUMNS} FROM milestones WHERE id >= ? AND id < ? ORDER BY position, id"
MENTOR_MILESTONES_WITH_STATUS = (
    f"SELECT {MILESTONE_COLUMNS} FROM milestones WHERE id >= ? AND id < ? AND status = ? ORDER BY position, id"
)
# The in-progress list with the span of the mentor's periods on every row (its pace, for the estimates), in one
# statement: one round trip, as before the estimates. The periods' primary key leads with mentor_id.
MENTOR_IN_PROGRESS_WITH_SPAN = (
    f"SELECT {MILESTONE_COLUMNS}, "
    "(SELECT min(start_date) FROM periods WHERE mentor_id = ?), "
    "(SELECT max(end_date) FROM periods WHERE mentor_id = ?) "
    "FROM milestones WHERE id >= ? AND id < ? AND status = 'in_progress' ORDER BY position, id"
)
MENTOR_PERIODS = f"SELECT {PERIOD_COLUMNS} FROM periods WHERE mentor_id = ? ORDER BY start_date, end_date"
# One mentor's period rows as bulk detection and POST read them: led by mentor_id.
MENTOR_PERIOD_ROWS = f"SELECT {PERIOD_ROW_COLUMNS} FROM periods WHERE mentor_id = ?"

MENTOR_DISPLAY_NAME = "SELECT display_name FROM mentors WHERE mentor_id = ?"

# Every row in key order, a page at a time (export): each page resumes after the last key of the one
# before, from the primary key, so the millionth page costs what the first does and nothing is held open.
MILESTONES_AFTER = f"SELECT {MILESTONE_COLUMNS} FROM milestones WHERE id > ? ORDER BY id LIMIT ?"
PERIODS_AFTER = (
    f"SELECT {PERIOD_ROW_COLUMNS} FROM periods WHERE (mentor_id, start_date, end_date) > (?, ?, ?)"
    " ORDER BY mentor_id, start_date, end_date LIMIT ?"
)
MENTOR_PERIOD_ROWS_IN_ORDER = f"{MENTOR_PERIOD_ROWS} ORDER BY start_date, end_date"
# Re-evaluation's walk over the mentors: each record's mentor and catalog version, in primary-key order (a mentor's
# records are one range of it), resuming after the last id of the page before.
MILESTONE_VERSIONS_AFTER = "SELECT id, mentor_id, catalog_version FROM milestones WHERE id > ? ORDER BY id LIMIT ?"

# Several mentors at once, for bulk detection: SQLite takes the ids as a JSON array, PostgreSQL as text[].
# Each answers one JSON array of rows (row_detection.PackedRows), dates and times as the ISO text SQLite keeps.
MENTORS_PERIODS_SQLITE = (
    f"SELECT json_group_array(json_array({PERIOD_ROW_COLUMNS})) FROM periods"
    " WHERE mentor_id IN (SELECT value FROM json_each(?))"
)
MENTORS_MILESTONES_SQLITE = (
    f"SELECT json_group_array(json_array({_QUALIFIED_MILESTONE_COLUMNS})) FROM json_each(?) AS ids JOIN milestones"
    " ON milestones.id >= ids.value || '~' AND milestones.id < ids.value || char(127)"
)
# COLLATE "C" as on the id column: without it the bounds compare in the default collation and the
# planner cannot use the primary key (a sequential scan per batch).
_MENTORS_MILESTONES_POSTGRES = (
    " FROM unnest(?::text[]) AS ids(mentor) JOIN milestones"
    " ON milestones.id >= (ids.mentor || '~') COLLATE \"C\""
    ' AND milestones.id < (ids.mentor || chr(127)) COLLATE "C"'
)
# The JSON forms: text in encode_time's format (UTC, microseconds, "Z"), whatever the session's settings.
_ISO_DATE = "'YYYY-MM-DD'"
_ISO_TIME = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''


def _json_columns(table: str, fields: tuple[str, ...]) -> str:
    """PostgreSQL's columns as the rows' JSON carries them: dates and times as text."""

    def column(name: str) -> str:
        if name in DATE_COLUMNS:
            return f"to_char({table}.{name}, {_ISO_DATE})"
        if name in TIME_COLUMNS:
            return f"to_char({table}.{name} AT TIME ZONE 'UTC', {_ISO_TIME})"
        return f"{table}.{name}"

    return ", ".join(column(name) for name in fields)


MENTORS_PERIODS_POSTGRES = (
    f"SELECT coalesce(json_agg(json_build_array({_json_columns('periods', PeriodRow._fields)})), '[]')::text"
    " FROM periods WHERE mentor_id = ANY(?::text[])"
)
MENTORS_MILESTONES_POSTGRES = (
    f"SELECT coalesce(json_agg(json_build_array({_json_columns('milestones', MilestoneRow._fields)})), '[]')::text"
    f"{_MENTORS_MILESTONES_POSTGRES}"
)
# A fingerprint of a batch's rows on PostgreSQL: each row's key and xmin (the transaction that wrote that
# version), so any insert, update or delete of them changes it. Cheaper than reading the rows again.
MENTORS_FINGERPRINT_POSTGRES = """
SELECT md5(coalesce((
    SELECT string_agg(mentor_id || ' ' || start_date || ' ' || end_date || ' ' || xmin, ','
                      ORDER BY mentor_id, start_date, end_date)
    FROM periods WHERE mentor_id = ANY(?::text[])
), '') || '/' || coalesce((
    SELECT string_agg(milestones.id || ' ' || milestones.xmin, ',' ORDER BY milestones.id)
    FROM unnest(?::text[]) AS ids(mentor) JOIN milestones
        ON milestones.id >= (ids.mentor || '~') COLLATE "C" AND milestones.id < (ids.mentor || chr(127)) COLLATE "C"
), ''))
"""
# A bulk load looks rows up by key only; while it grows the table, the planner's statistics lag behind
# and would pick sequential scans that make each batch slower than the last.
PREFER_INDEXES = "SET LOCAL enable_seqscan = off"
LOCK_MENTORS = "SELECT pg_advisory_xact_lock(hashtextextended(id, 0)) FROM unnest(?::text[]) AS ids(id) ORDER BY id"


# The write path's statements, made from its declarations (`write_path.WRITE_PATH`).
def delete_by_key(table: str, key: tuple[str, ...]) -> str:
    return f"DELETE FROM {table} WHERE {' AND '.join(f'{c} = ?' for c in key)}"


def delete_in_range(table: str, column: str) -> str:
    """Rows whose `column` lies in a range (a mentor's milestone ids: `mentor_range`)."""
    return f"DELETE FROM {table} WHERE {column} >= ? AND {column} < ?"


def _on_conflict(columns: tuple[str, ...], key: tuple[str, ...], fixed: tuple[str, ...]) -> str:
    return f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {_updates(columns, key + fixed)}"


def upsert(
    table: str, columns: tuple[str, ...], key: tuple[str, ...], fixed: tuple[str, ...], nulls: tuple[str, ...] = ()
) -> str:
    """An upsert of rows holding `columns`; `nulls` are written NULL by the statement (and by an update)."""
    if not nulls:
        return f"{insert(table, columns)} {_on_conflict(columns, key, fixed)}"
    values = ", ".join(["?"] * len(columns) + ["NULL"] * len(nulls))
    listed = ", ".join(columns + nulls)
    return f"INSERT INTO {table} ({listed}) VALUES ({values}) {_on_conflict(columns + nulls, key, fixed)}"


def insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_placeholders(columns)})"


def merge_from(scratch: str, table: str, columns: tuple[str, ...], key: tuple[str, ...], fixed: tuple[str, ...]) -> str:
    """PostgreSQL: upsert every row of a scratch table that a batch's rows were COPYed into."""
    listed = ", ".join(columns)
    return f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {scratch} {_on_conflict(columns, key, fixed)}"


def create_scratch_table(scratch: str, table: str) -> str:
    """PostgreSQL: a batch's scratch table, emptied at each commit."""
    return f"CREATE TEMP TABLE IF NOT EXISTS {scratch} (LIKE {table}) ON COMMIT DELETE ROWS"


IDEMPOTENCY_COLUMNS = "fingerprint, status_code, content_type, body, created_at"
# The mentor a request names is kept beside its stored answer, so that erasure finds it without reading bodies.
INSERT_IDEMPOTENCY_KEY = (
    "INSERT INTO idempotency_keys (key, fingerprint, created_at, mentor_id) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key) DO NOTHING"
)
GET_IDEMPOTENCY_KEY = f"SELECT {IDEMPOTENCY_COLUMNS} FROM idempotency_keys WHERE key = ?"
RESTART_IDEMPOTENCY_KEY = (
    "UPDATE idempotency_keys SET fingerprint = ?, status_code = NULL, content_type = NULL, body = NULL, "
    "created_at = ?, mentor_id = ? WHERE key = ?"
)
FINISH_IDEMPOTENCY_KEY = (
    "UPDATE idempotency_keys SET status_code = ?, content_type = ?, body = ? "
    "WHERE key = ? AND fingerprint = ? AND status_code IS NULL"
)
# Keys older than their lifetime go on the next claim; the index on created_at keeps this a short range.
DELETE_EXPIRED_IDEMPOTENCY_KEYS = "DELETE FROM idempotency_keys WHERE created_at < ?"
# A value the service keeps for itself (the erasure salt), made once by whichever process needs it first.
INSERT_SERVICE_VALUE = "INSERT INTO service_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
GET_SERVICE_VALUE = "SELECT value FROM service_secrets WHERE name = ?"
RELEASE_IDEMPOTENCY_KEY = "DELETE FROM idempotency_keys WHERE key = ? AND fingerprint = ? AND status_code IS NULL"
SCHEMA_REVISION = "SELECT version_num FROM alembic_version"

# Read replicas (PostgreSQL only): write-ahead log positions as numbers of bytes. The primary's, after a write's
# commit (what the write's client is handed back) and at each poll; how far a replica has replayed (NULL on a
# server that is not a replica).
WRITE_POSITION_POSTGRES = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
REPLAYED_POSITION_POSTGRES = "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"
ACCESS_KEY_COLUMNS = "id, name, scope, digest, created_at, revoked_at"
# The catalog's versions, in publication order: the latest is the highest seq. Workers poll LATEST_CATALOG (an
# index-only read of the primary key), and each write transaction checks it.
CATALOG_VERSION_COLUMNS = "seq, version, content_hash, content, published_at"
LATEST_CATALOG = "SELECT version FROM catalog_versions ORDER BY seq DESC LIMIT 1"
CATALOG_VERSIONS_AFTER = f"SELECT {CATALOG_VERSION_COLUMNS} FROM catalog_versions WHERE seq > ? ORDER BY seq"
# Published only when the name is new, and (for a first version) only while none is stored.
INSERT_CATALOG_VERSION = (
    "INSERT INTO catalog_versions (version, content_hash, content, published_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (version) DO NOTHING RETURNING seq"
)
INSERT_FIRST_CATALOG_VERSION = (
    "INSERT INTO catalog_versions (version, content_hash, content, published_at) "
    "SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM catalog_versions) "
    "ON CONFLICT (version) DO NOTHING RETURNING seq"
)
ACCESS_KEYS = f"SELECT {ACCESS_KEY_COLUMNS} FROM access_keys ORDER BY created_at, id"
INSERT_ACCESS_KEY = f"INSERT INTO access_keys ({ACCESS_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL)"
# Revoking twice keeps the first time; the key is returned either way, or nothing for an unknown id.
REVOKE_ACCESS_KEY = (
    f"UPDATE access_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? RETURNING {ACCESS_KEY_COLUMNS}"
)
# History: a mentor's entries in the order they were written (ids grow in commit order per mentor, whose
# writers are serialized), from an id on; pruning takes the oldest by time, a small batch per transaction.
HISTORY_READ_COLUMNS = "id, at, actor, request_id, cause, period_start, period_end, catalog_version, transitions"
MENTOR_HISTORY = f"SELECT {HISTORY_READ_COLUMNS} FROM history WHERE mentor_id = ? AND id >= ? ORDER BY id LIMIT ?"
# No ORDER BY: any old entries will do, and on PostgreSQL's BRIN index a sort would read every old one.
# Erasure entries stay: they prove an erasure happened and hold no one's data (only a salted hash).
PRUNE_HISTORY = "DELETE FROM history WHERE id IN (SELECT id FROM history WHERE at < ? AND cause <> 'erasure' LIMIT ?)"
# One pruner at a time on PostgreSQL (a session lock, held across its batches); SQLite uses a file lock.
TRY_LOCK_PRUNING = "SELECT pg_try_advisory_lock(hashtextextended('milestones.prune_history', 0))"
UNLOCK_PRUNING = "SELECT pg_advisory_unlock(hashtextextended('milestones.prune_history', 0))"
# Events (the outbox): read in feed order, up to a horizon below which every row is final. SQLite has one writer
# at a time, so ids are commit order and the horizon is the last id. PostgreSQL's writers of different mentors
# commit out of id order: rows are read in (txid, id) order below the oldest transaction still running
# (`pg_snapshot_xmin`), whose rows, and those of every transaction after it, all sort after anything read now.
EVENT_READ_COLUMNS = "id, mentor_id, at, actor, request_id, cause, catalog_version, notify, types, transitions"
EVENTS_HORIZON_SQLITE = "SELECT coalesce(max(id), 0) FROM events"
EVENTS_SQLITE = (
    f"SELECT 0, {EVENT_READ_COLUMNS} FROM events WHERE id >= ? AND id <= ? AND types & ? <> 0 ORDER BY id LIMIT ?"
)
EVENTS_OF_MENTOR_SQLITE = (
    f"SELECT 0, {EVENT_READ_COLUMNS} FROM events"
    " WHERE mentor_id = ? AND id >= ? AND id <= ? AND types & ? <> 0 ORDER BY id LIMIT ?"
)
EVENTS_HORIZON_POSTGRES = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"
# xid8 crosses as text: asyncpg has no codec of its own for it.
EVENTS_POSTGRES = (
    f"SELECT txid::text, {EVENT_READ_COLUMNS} FROM events WHERE (txid, id) >= (?::text::xid8, ?)"
    " AND txid < ?::text::xid8 AND types & ? <> 0 ORDER BY txid, id LIMIT ?"
)
EVENTS_OF_MENTOR_POSTGRES = (
    f"SELECT txid::text, {EVENT_READ_COLUMNS} FROM events WHERE mentor_id = ? AND (txid, id) >= (?::text::xid8, ?)"
    " AND txid < ?::text::xid8 AND types & ? <> 0 ORDER BY txid, id LIMIT ?"
)
OLDEST_EVENT_SQLITE = "SELECT id, at FROM events ORDER BY id LIMIT 1"
OLDEST_EVENT_POSTGRES = "SELECT id, at FROM events ORDER BY txid, id LIMIT 1"
PRUNE_EVENTS_SQLITE = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? LIMIT ?)"
PRUNE_EVENTS_POSTGRES = "DELETE FROM events WHERE (txid, id) IN (SELECT txid, id FROM events WHERE at < ? LIMIT ?)"
TRY_LOCK_PRUNING_EVENTS = "SELECT pg_try_advisory_lock(hashtextextended('milestones.prune_events', 0))"
UNLOCK_PRUNING_EVENTS = "SELECT pg_advisory_unlock(hashtextextended('milestones.prune_events', 0))"
# One migration at a time on PostgreSQL: hosts starting at once on a fresh database queue here (inside the
# migration's transaction, before Alembic reads the version), and those after the first find it current.
LOCK_MIGRATIONS = "SELECT pg_advisory_xact_lock(hashtextextended('milestones.migrate', 0))"
# Serializes writers of one mentor on PostgreSQL; SQLite has a single writer anyway.
LOCK_MENTOR = "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))"


def mentor_range(mentor_id: str) -> tuple[str, str]:
    """Bounds of a mentor's ids: "~" sorts after every character a mentor id may hold, DEL after "~"."""
    return f"{mentor_id}~", f"{mentor_id}\x7f"


@dataclass(frozen=True, slots=True)
class ListingStatements:
    """The statements of one listing: the page takes LIMIT and OFFSET after `page_params`, and `count` gives
    the total. One mentor's listing has no count: its `page` reads every match, unordered and whole (a row per
    catalog definition at most, plus the mentor's history), and `window_of_whole` sorts and cuts it. That is
    one statement instead of two, and no sort in the database (measured: 19 against 27 µs on SQLite)."""

    page: str
    page_params: list[Any]
    count: str | None
    count_params: list[Any]


Row = TypeVar("Row", bound=Sequence[Any])
_POSITION = MilestoneRow._fields.index("position")


def window_of_whole(rows: list[Row], offset: int, limit: int) -> tuple[list[Row], int]:
    """The window of a whole mentor listing in catalog order (position, then id), and the listing's total."""
    ordered = sorted(rows, key=lambda row: (row[_POSITION], row[0]))
    return ordered[offset : offset + limit], len(rows)


def list_milestones(
    query: MilestoneQuery, encode_time: Callable[[datetime], Any], id_collation: str = ""
) -> ListingStatements:
    """The page and count statements of a filtered listing, and their parameters.

    One mentor's listing is in catalog order (see `ListingStatements`); any other, and every cursor walk, is
    in id order so that `id > cursor` resumes it from the index however deep it goes. Revoked milestones are
    listed only when asked for by status. `id_collation`: PostgreSQL's ` COLLATE "C"`, which a bound on the id
    column made from another column needs for the primary key to serve it (as in `_MENTORS_MILESTONES_POSTGRES`).
    """
    conditions: list[str] = []
    params: list[Any] = []
    if query.mentor_id is not None:
        conditions.append("id >= ? AND id < ?")
        params.extend(mentor_range(query.mentor_id))
    if query.type is not None:
        conditions.append("type = ?")
        params.append(query.type.value)
    if query.status is not None:
        conditions.append("status = ?")
        params.append(query.status.value)
    else:
        conditions.append("status <> ?")
        params.append(Status.REVOKED.value)
    if not query.superseded:
        # An achieved rung is superseded when the mentor achieved a higher one of its type: looked up in the
        # mentor's own range of the primary key.
        conditions.append(
            "(status <> ? OR NOT EXISTS (SELECT 1 FROM milestones AS higher"
            f" WHERE higher.id >= (milestones.mentor_id || '~'){id_collation}"
            f" AND higher.id < (milestones.mentor_id || ?){id_collation}"
            " AND higher.type = milestones.type AND higher.status = ?"
            " AND higher.threshold_centi > milestones.threshold_centi))"
        )
        params.extend((Status.ACHIEVED.value, "\x7f", Status.ACHIEVED.value))
    if query.achieved_from is not None:
        conditions.append("achieved_at >= ?")
        params.append(encode_time(query.achieved_from))
    if query.achieved_before is not None:
        conditions.append("achieved_at < ?")
        params.append(encode_time(query.achieved_before))
    if query.mentor_id is not None and query.after_id is None:
        return ListingStatements(f"SELECT {MILESTONE_COLUMNS} FROM milestones {_where(conditions)}", params, None, [])
    count = f"SELECT count(*) FROM milestones {_where(conditions)}"
    count_params = list(params)
    if query.after_id is not None:
        conditions.append("id > ?")
        params.append(query.after_id)
    page = f"SELECT {MILESTONE_COLUMNS} FROM milestones {_where(conditions)} ORDER BY id LIMIT ? OFFSET ?"
    return ListingStatements(page, params, count, count_params)


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


@cache  # listings are built per request, from a few dozen filter combinations
def numbered(sql: str) -> str:
    """Rewrite `?` placeholders as PostgreSQL's `$1, $2, ...`."""
    counter = iter(range(1, 1_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


# --- webhooks: endpoints, the delivery queue and the attempts' log ------------------------------------------------

WEBHOOK_ENDPOINT_COLUMNS = (
    "id, url, types, enabled, created_at, disabled_reason, secret, previous_secret, previous_until, cursor"
)
INSERT_WEBHOOK_ENDPOINT = (
    f"INSERT INTO webhook_endpoints ({WEBHOOK_ENDPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
WEBHOOK_ENDPOINTS = f"SELECT {WEBHOOK_ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id"
WEBHOOK_ENDPOINT = f"SELECT {WEBHOOK_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?"
SET_WEBHOOK_ENABLED = "UPDATE webhook_endpoints SET enabled = ?, disabled_reason = ? WHERE id = ?"
# Once: of several deliveries running out together, one disables the endpoint (and says so).
DISABLE_WEBHOOK = "UPDATE webhook_endpoints SET enabled = false, disabled_reason = ? WHERE id = ? AND enabled"
ROTATE_WEBHOOK_SIGNING = (
    "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ?, secret = ? WHERE id = ?"
)
DELETE_WEBHOOK_ENDPOINT = "DELETE FROM webhook_endpoints WHERE id = ?"
DELETE_WEBHOOK_DELIVERIES_OF_ENDPOINT = "DELETE FROM webhook_deliveries WHERE endpoint_id = ?"
DELETE_WEBHOOK_ATTEMPTS_OF_ENDPOINT = "DELETE FROM webhook_attempts WHERE endpoint_id = ?"
# Compare and set: of two workers that read the same cursor, only one moves it (the other's rows are rolled back).
ADVANCE_WEBHOOK_CURSOR = "UPDATE webhook_endpoints SET cursor = ? WHERE id = ? AND cursor = ? AND enabled"
_WEBHOOK_DELIVERY_INSERT = (
    "INSERT INTO webhook_deliveries"
    " (endpoint_id, event_id, event_type, mentor_id, payload, status, attempts, claims, created_at, next_at)"
)
# Only while the event is still in the outbox: an erasure that removed it must not be undone by a late queueing.
QUEUE_WEBHOOK_DELIVERY_SQLITE = (
    f"{_WEBHOOK_DELIVERY_INSERT} SELECT ?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?"
    " WHERE EXISTS (SELECT 1 FROM events WHERE id = ?) ON CONFLICT DO NOTHING"
)
QUEUE_WEBHOOK_DELIVERY_POSTGRES = (
    f"{_WEBHOOK_DELIVERY_INSERT} SELECT ?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?"
    " WHERE EXISTS (SELECT 1 FROM events WHERE txid = ?::text::xid8 AND id = ?) ON CONFLICT DO NOTHING"
)
QUEUE_WEBHOOK_TEST = f"{_WEBHOOK_DELIVERY_INSERT} VALUES (?, ?, ?, NULL, ?, 'pending', 0, 0, ?, ?) RETURNING id"
_DUE_WEBHOOK_DELIVERIES = (
    "SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
    " WHERE d.status = 'pending' AND d.next_at <= ? AND e.enabled ORDER BY d.next_at LIMIT ?"
)
_CLAIM_WEBHOOK_DELIVERIES = (
    "UPDATE webhook_deliveries SET next_at = ?, claims = claims + 1 WHERE id IN ({due})"
    " RETURNING id, endpoint_id, event_id, payload, attempts, created_at, claims"
)
# A claim moves `next_at` past the attempt's timeout: a worker that dies mid-delivery leaves it due again later.
# SQLite: one writer at a time makes the claim atomic; PostgreSQL: rows another worker is claiming are skipped.
CLAIM_WEBHOOK_DELIVERIES_SQLITE = _CLAIM_WEBHOOK_DELIVERIES.format(due=_DUE_WEBHOOK_DELIVERIES)
CLAIM_WEBHOOK_DELIVERIES_POSTGRES = _CLAIM_WEBHOOK_DELIVERIES.format(
    due=_DUE_WEBHOOK_DELIVERIES + " FOR UPDATE OF d SKIP LOCKED"
)
# Only while this worker's claim is the newest: one whose claim ran out and was taken over records nothing.
FINISH_WEBHOOK_DELIVERY = (
    "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, next_at = ?, last_status_code = ?"
    " WHERE id = ? AND claims = ?"
)
INSERT_WEBHOOK_ATTEMPT = (
    "INSERT INTO webhook_attempts (endpoint_id, delivery_id, event_id, at, outcome, status_code, duration_ms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
REDELIVER_WEBHOOK = (
    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, created_at = ?, next_at = ? WHERE id = ?"
    " RETURNING endpoint_id"
)
_WEBHOOK_DELIVERY_COLUMNS = (
    "id, endpoint_id, event_id, event_type, status, attempts, created_at, next_at, last_status_code"
)
WEBHOOK_DELIVERY = f"SELECT {_WEBHOOK_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?"
WEBHOOK_DELIVERIES = (
    f"SELECT {_WEBHOOK_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id DESC LIMIT ?"
)
WEBHOOK_ATTEMPTS = (
    "SELECT delivery_id, event_id, at, outcome, status_code, duration_ms FROM webhook_attempts"
    " WHERE endpoint_id = ? ORDER BY id DESC LIMIT ?"
)
# Pruned with the events they carried (MILESTONES_EVENT_RETENTION_DAYS); a pending delivery is kept until it ends.
PRUNE_WEBHOOK_DELIVERIES = (
    "DELETE FROM webhook_deliveries WHERE id IN"
    " (SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ? LIMIT ?)"
)
PRUNE_WEBHOOK_ATTEMPTS = (
    "DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM webhook_attempts WHERE at < ? LIMIT ?)"
)
