"""PostgreSQL back end on an asyncpg connection pool."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

from milestones.access.keys import AccessKey
from milestones.catalog import CatalogVersion, content_of
from milestones.domain import Milestone, MilestoneQuery, Period, Status
from milestones.domain.changes import Change
from milestones.domain.events import Position, StoredEvent
from milestones.domain.history import HistoryEntry
from milestones.domain.rows import (
    IdempotencyRecord,
    MilestoneRow,
    PeriodRow,
    Replaceable,
    StalledMentor,
    StoredRows,
    encode_time,
    milestone_from_row,
    period_from_row,
    time_from_text,
)
from milestones.errors import DatabaseUnavailable
from milestones.ops import metrics, traces
from milestones.ops.logs import OncePerOutage, event
from milestones.ops.read_after import READ_SESSION
from milestones.storage import queries
from milestones.storage.base import (
    Applied,
    Decide,
    PackedRows,
    access_key_from_row,
    applied,
    catalog_version_from_row,
    check_catalog,
    erased_counts,
    events_from_rows,
    history_entry_from_row,
    idempotency_from_row,
    seen_rows,
)
from milestones.storage.credentials import CredentialStore, PostgresCredentialStore
from milestones.storage.webhooks import PostgresWebhookStore, WebhookStore
from milestones.storage.write_path import WRITE_PATH, TableWrite, count_deltas

# Errors that mean "the database is not there right now", as opposed to a bug in a statement:
# refused or reset sockets (OSError), timeouts, a connection that died (ConnectionDoesNotExistError is a
# PostgresConnectionError) or was closed under us (InterfaceError), and a server shutting down,
# restarting or crashing, which ends the sessions it had with 57P01/57P02 and refuses new ones with 57P03.
# A server shutting down also says goodbye (57P01) to its idle sessions before closing them: asyncpg takes
# that unasked-for message as a protocol error, and the connection's next statement, until the socket closes,
# fails with InternalClientError ("cannot switch to state 12; another operation (2) is in progress"). The
# connection is then beyond use, so it is dropped like any other that failed.
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)

# Waits for PostgreSQL are bounded (settings `postgres_connect_timeout_seconds`, `postgres_timeout_seconds`),
# so a request that cannot be served is answered 503 instead of hanging when the server stops answering (a
# network partition, a hung host): opening a connection (TCP and authentication), waiting for a pooled
# connection, and any one statement. Statements here take milliseconds; a writer waiting on a mentor's
# advisory lock queues behind other writers of the same mentor only, each holding it for one short transaction.
# Bulk detection moves thousands of rows per statement; it is a batch job, not a request.
BULK_COMMAND_TIMEOUT = 600.0

_GET_MILESTONE = queries.numbered(queries.GET_MILESTONE)
_MENTOR_MILESTONES = queries.numbered(queries.MENTOR_MILESTONES)
_MENTOR_MILESTONES_WITH_STATUS = queries.numbered(queries.MENTOR_MILESTONES_WITH_STATUS)
_MENTOR_IN_PROGRESS_WITH_SPAN = queries.numbered(queries.MENTOR_IN_PROGRESS_WITH_SPAN)
_MENTOR_PERIODS = queries.numbered(queries.MENTOR_PERIODS)
_MENTOR_DISPLAY_NAME = queries.numbered(queries.MENTOR_DISPLAY_NAME)
_MENTOR_COUNTS = queries.MENTOR_COUNTS
_STALLED_MENTORS = queries.numbered(queries.STALLED_MENTORS_POSTGRES)
_MENTOR_PERIOD_ROWS = queries.numbered(queries.MENTOR_PERIOD_ROWS)
_MENTOR_PERIOD_ROWS_IN_ORDER = queries.numbered(queries.MENTOR_PERIOD_ROWS_IN_ORDER)
_MILESTONES_AFTER = queries.numbered(queries.MILESTONES_AFTER)
_MILESTONE_VERSIONS_AFTER = queries.numbered(queries.MILESTONE_VERSIONS_AFTER)
_PERIODS_AFTER = queries.numbered(queries.PERIODS_AFTER)
_LOCK_MENTOR = queries.numbered(queries.LOCK_MENTOR)
_CATALOG_VERSIONS_AFTER = queries.numbered(queries.CATALOG_VERSIONS_AFTER)
_INSERT_CATALOG_VERSION = queries.numbered(queries.INSERT_CATALOG_VERSION)
_INSERT_FIRST_CATALOG_VERSION = queries.numbered(queries.INSERT_FIRST_CATALOG_VERSION)
_MENTOR_HISTORY = queries.numbered(queries.MENTOR_HISTORY)
_PRUNE_HISTORY = queries.numbered(queries.PRUNE_HISTORY)
_PRUNE_EVENTS = queries.numbered(queries.PRUNE_EVENTS_POSTGRES)
_EVENTS = queries.numbered(queries.EVENTS_POSTGRES)
_EVENTS_OF_MENTOR = queries.numbered(queries.EVENTS_OF_MENTOR_POSTGRES)
_MENTORS_PERIODS = queries.numbered(queries.MENTORS_PERIODS_POSTGRES)
_MENTORS_MILESTONES = queries.numbered(queries.MENTORS_MILESTONES_POSTGRES)
_LOCK_MENTORS = queries.numbered(queries.LOCK_MENTORS)
_MENTORS_FINGERPRINT = queries.numbered(queries.MENTORS_FINGERPRINT_POSTGRES)
# What the batch queries answer for mentors with no rows at all.
_NO_ROWS = "[]"
_NO_ROWS_FINGERPRINT = hashlib.md5(b"/", usedforsecurity=False).hexdigest()
# Fewer rows than this are written by executemany; more are COPYed and merged (see `_apply`).
_COPY_FROM_ROWS = 64
_INSERT_IDEMPOTENCY_KEY = queries.numbered(queries.INSERT_IDEMPOTENCY_KEY)
_LOCK_IDEMPOTENCY_KEY = queries.numbered(queries.GET_IDEMPOTENCY_KEY + " FOR UPDATE")
_RESTART_IDEMPOTENCY_KEY = queries.numbered(queries.RESTART_IDEMPOTENCY_KEY)
_FINISH_IDEMPOTENCY_KEY = queries.numbered(queries.FINISH_IDEMPOTENCY_KEY)
_RELEASE_IDEMPOTENCY_KEY = queries.numbered(queries.RELEASE_IDEMPOTENCY_KEY)
_INSERT_SERVICE_VALUE = queries.numbered(queries.INSERT_SERVICE_VALUE)
_GET_SERVICE_VALUE = queries.numbered(queries.GET_SERVICE_VALUE)
_DELETE_EXPIRED_IDEMPOTENCY_KEYS = queries.numbered(queries.DELETE_EXPIRED_IDEMPOTENCY_KEYS)
_INSERT_ACCESS_KEY = queries.numbered(queries.INSERT_ACCESS_KEY)
_REVOKE_ACCESS_KEY = queries.numbered(queries.REVOKE_ACCESS_KEY)


_TRANSACTION = {"db.system.name": "postgresql"}
T = TypeVar("T")


# asyncpg warns, with a traceback, on each failed attempt to bring its pool back to its minimum size.
POOL_RETRYING = "Failed to restore the pool connection floor"
_POOL_LOG = logging.getLogger("asyncpg.pool")


async def _keep_session(_: asyncpg.Connection) -> None:
    """Skip the pool's default reset round trip on every release (RESET ALL, UNLISTEN, ...).

    This service never changes session state: its advisory locks are transaction-scoped, and its temporary
    tables are emptied at commit. asyncpg still rolls back a transaction left open.
    """


def _same(value: Any) -> Any:
    return value


def _as_time(value: Any) -> datetime | None:
    return value if value is None or isinstance(value, datetime) else None


def _as_date(value: Any) -> date:
    assert isinstance(value, date)
    return value


# Rows carry dates and times as ISO text (SQLite's form); PostgreSQL's own types are converted at the
# boundary. Cached: summaries hold a handful of distinct dates.
_date_text = lru_cache(maxsize=4096)(date.isoformat)
_date_from_text = lru_cache(maxsize=4096)(date.fromisoformat)


def _period_row(record: asyncpg.Record) -> PeriodRow:
    return PeriodRow(*record)._replace(
        start_date=_date_text(record["start_date"]), end_date=_date_text(record["end_date"])
    )


def _milestone_row(record: asyncpg.Record) -> MilestoneRow:
    moment, revoked = record["achieved_at"], record["revoked_at"]
    return MilestoneRow(*record)._replace(
        achieved_at=None if moment is None else encode_time(moment),
        revoked_at=None if revoked is None else encode_time(revoked),
    )


async def _packed_rows(conn: asyncpg.Connection, ids: list[str], as_of: object = None) -> PackedRows:
    timeout = BULK_COMMAND_TIMEOUT
    return PackedRows(
        await conn.fetchval(_MENTORS_PERIODS, ids, timeout=timeout),
        await conn.fetchval(_MENTORS_MILESTONES, ids, timeout=timeout),
        as_of,
    )


def asyncpg_dsn(url: str) -> str:
    """asyncpg takes libpq URLs; accept the SQLAlchemy-style driver suffix too."""
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return url


# Read replicas. Every worker polls the primary's write position and each replica's replayed position twice a
# second. A replica's lag is how long ago the primary stood at a position the replica has replayed since (an upper
# bound, to a poll): measured against the primary, it also grows when the replica's own link to the primary is
# down, when the replica would believe itself current. A read goes to a replica in use that has replayed the
# position its client last wrote at (ops.read_after); otherwise, or when the replica fails, to the primary.
REPLICA_POLL_SECONDS = 0.5
IN_USE = "in use"
LAGGING = "lagging"
UNREACHABLE = "unreachable"
NOT_A_REPLICA = "not_a_replica"


def replica_label(url: str) -> str:
    """How logs and metrics name a replica: host, port and database, never its credentials."""
    parts = urlsplit(asyncpg_dsn(url))
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


class Replica:
    """One read replica: its pool and what the last polls found."""

    def __init__(self, label: str, pool: asyncpg.Pool) -> None:
        self.label = label
        self.pool = pool
        self.state: str | None = None  # None until the first poll
        self.replayed = -1
        self.caught_up_at = float("-inf")  # monotonic time the primary last stood where the replica has replayed

    def serves(self, at_least: int | None, now: float, max_lag: float) -> bool:
        """Whether it may serve a read that must see the write at `at_least` (None: any recent state)."""
        if self.state != IN_USE or now - self.caught_up_at > max_lag:
            return False
        return at_least is None or self.replayed >= at_least


class Replicas:
    """The read replicas of one primary, polled in the background; `choose` picks one for a read, or None."""

    def __init__(self, primary: asyncpg.Pool, replicas: list[Replica], max_lag: float, timeout: float) -> None:
        self._primary = primary
        self.replicas = replicas
        self._max_lag = max_lag
        self._timeout = timeout
        # The primary's positions at the recent polls (time, position), enough to reach back past the bound.
        self._primary_at: deque[tuple[float, int]] = deque(maxlen=int(max_lag / REPLICA_POLL_SECONDS) + 4)
        self._turn = itertools.count()
        self._polling: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._polling = asyncio.ensure_future(self._poll_forever())

    async def close(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
        for replica in self.replicas:
            await replica.pool.close()

    def choose(self, at_least: int | None) -> Replica | None:
        """A replica in use that has replayed `at_least`, taking turns between those that qualify."""
        now = time.monotonic()
        count = len(self.replicas)
        first = next(self._turn) % count
        for index in range(first, first + count):
            replica = self.replicas[index % count]
            if replica.serves(at_least, now, self._max_lag):
                return replica
        return None

    def lost(self, replica: Replica, error: BaseException) -> None:
        """A read on `replica` failed for want of the database: reads go to the primary until a poll finds it."""
        self._became(replica, UNREACHABLE, error=type(error).__name__)

    async def poll(self) -> None:
        """One poll: the primary's write position, then how far each replica has replayed."""
        started = time.monotonic()
        try:
            position = await self._primary.fetchval(queries.WRITE_POSITION_POSTGRES, timeout=self._timeout)
        except _UNAVAILABLE:
            return  # without the primary's position no lag can be judged: it grows until the primary is back
        self._primary_at.append((started, int(position)))
        await asyncio.gather(*(self._poll_replica(replica) for replica in self.replicas))

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:  # a bug here must not stop the polls, which keep reads off a lagging replica
                logging.getLogger("milestones").exception("polling the read replicas failed")
            await asyncio.sleep(REPLICA_POLL_SECONDS)

    async def _poll_replica(self, replica: Replica) -> None:
        try:
            async with replica.pool.acquire(timeout=self._timeout) as conn:
                replayed = await conn.fetchval(queries.REPLAYED_POSITION_POSTGRES, timeout=self._timeout)
        except _UNAVAILABLE as exc:
            self._became(replica, UNREACHABLE, error=type(exc).__name__)
            return
        if replayed is None:
            self._became(replica, NOT_A_REPLICA)
            return
        replica.replayed = int(replayed)
        for at, position in reversed(self._primary_at):
            if position <= replica.replayed:
                replica.caught_up_at = max(replica.caught_up_at, at)
                break
        now = time.monotonic()
        if replica.caught_up_at == float("-inf"):
            if len(self._primary_at) == 1:
                return  # the first poll, a little behind: the next one has a position to measure against
            # Behind every position polled: at least as far behind as the oldest of them.
            lag = now - self._primary_at[0][0]
        else:
            lag = now - replica.caught_up_at
        metrics.REPLICA_LAG.labels(replica.label).set(lag)
        if lag <= self._max_lag:
            self._became(replica, IN_USE)
        else:
            self._became(replica, LAGGING, lag_seconds=round(lag, 1))

    def _became(self, replica: Replica, state: str, **fields: Any) -> None:
        """One log line and the metrics when a replica's state changes; nothing while it stays the same."""
        before, replica.state = replica.state, state
        if state == before:
            return
        metrics.REPLICA_IN_USE.labels(replica.label).set(1 if state == IN_USE else 0)
        if state == IN_USE:
            event("read replica in use", replica=replica.label)
            return
        metrics.REPLICA_FALLBACKS.labels(replica.label, state).inc()
        event(
            f"read replica {state.replace('_', ' ')}: its reads go to the primary",
            logging.WARNING,
            replica=replica.label,
            reason=state,
            max_lag_seconds=self._max_lag,
            **fields,
        )


class PostgresRepository:
    """MilestoneRepository on PostgreSQL; writers of one mentor queue on an advisory lock. With read replicas,
    reads of mentor data go to them (`_read`), and everything else to the primary."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        acquire_timeout: float,
        retrying: OncePerOutage | None = None,
        replicas: Replicas | None = None,
    ) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self._retrying = retrying
        self.replicas = replicas
        self.webhooks: WebhookStore = PostgresWebhookStore(self)
        self.credentials: CredentialStore = PostgresCredentialStore(self)

    @classmethod
    async def open(
        cls,
        url: str,
        pool_size: int,
        *,
        connect_timeout: float,
        timeout: float,
        replica_urls: Sequence[str] = (),
        replica_max_lag: float = 5.0,
    ) -> PostgresRepository:
        """A pool of up to `pool_size` connections; `timeout` bounds waiting for one and any one statement. Each
        replica gets a pool of its own, which connects on first use: a replica away at start-up is polled until
        it is back, and start-up never waits for it."""
        retrying = OncePerOutage(POOL_RETRYING)
        report_queries = traces.enabled()

        async def connected(conn: asyncpg.Connection) -> None:
            """On each new connection: the pool reached the database, so its next failure begins a new outage."""
            retrying.over()
            if report_queries:  # each statement becomes a span (asyncpg reports it when done)
                conn.add_query_logger(traces.record_query)

        try:
            pool = await asyncpg.create_pool(
                asyncpg_dsn(url),
                min_size=1,
                max_size=pool_size,
                timeout=connect_timeout,
                command_timeout=timeout,
                reset=_keep_session,
                init=connected,
            )
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"PostgreSQL cannot be reached: {exc}") from exc
        _POOL_LOG.addFilter(retrying)
        replicas = None
        if replica_urls:
            members = [
                Replica(
                    replica_label(replica_url),
                    await asyncpg.create_pool(
                        asyncpg_dsn(replica_url),
                        min_size=0,
                        max_size=pool_size,
                        timeout=connect_timeout,
                        command_timeout=timeout,
                        reset=_keep_session,
                    ),
                )
                for replica_url in replica_urls
            ]
            replicas = Replicas(pool, members, replica_max_lag, timeout)
            replicas.start()
        return cls(pool, acquire_timeout=timeout, retrying=retrying, replicas=replicas)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with self._pool.acquire(timeout=self._acquire_timeout) as conn:
                try:
                    yield conn
                except _UNAVAILABLE:
                    # The connection failed mid-use: drop it rather than let the pool try to reset it over
                    # a link that may be gone, which would keep this request waiting. The pool reconnects.
                    conn.terminate()
                    raise
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"PostgreSQL is unavailable: {type(exc).__name__}") from exc

    def connection(self) -> Any:
        """A pooled connection, as `_connection` gives it: for the webhooks' store, which shares this pool."""
        return self._connection()

    async def _read(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run a read of mentor data on a replica that has caught up with what this request's client wrote
        (ops.read_after), else on the primary. A replica that fails is set aside and the read runs again on the
        primary: reads change nothing, so running one twice is safe."""
        replicas = self.replicas
        if replicas is not None:
            session = READ_SESSION.get()
            replica = replicas.choose(None if session is None else session.at_least)
            if replica is not None:
                try:
                    async with replica.pool.acquire(timeout=self._acquire_timeout) as conn:
                        try:
                            return await work(conn)
                        except _UNAVAILABLE:
                            conn.terminate()
                            raise
                except _UNAVAILABLE as exc:
                    replicas.lost(replica, exc)
                except asyncpg.SerializationError:
                    pass  # cancelled by the replica for a conflict with the changes it replays: the primary answers
        async with self._connection() as conn:
            return await work(conn)

    async def get(self, milestone_id: str) -> Milestone | None:
        row = await self._read(lambda conn: conn.fetchrow(_GET_MILESTONE, milestone_id))
        return None if row is None else milestone_from_row(row, _as_time)

    async def find(self, query: MilestoneQuery) -> tuple[list[Milestone], int | None]:
        listing = queries.list_milestones(query, _same, ' COLLATE "C"')

        async def read(conn: asyncpg.Connection) -> tuple[Sequence[Any], int | None]:
            if listing.count is None:  # one mentor's listing, read whole
                whole = await conn.fetch(queries.numbered(listing.page), *listing.page_params)
                return queries.window_of_whole(whole, query.offset, query.limit)
            rows = await conn.fetch(queries.numbered(listing.page), *listing.page_params, query.limit, query.offset)
            if query.after_id is not None:
                return rows, None
            return rows, int(await conn.fetchval(queries.numbered(listing.count), *listing.count_params))

        rows, total = await self._read(read)
        return [milestone_from_row(r, _as_time) for r in rows], total

    async def mentor_milestones(self, mentor_id: str, status: Status | None = None) -> list[Milestone]:
        if status is None:
            rows = await self._read(lambda conn: conn.fetch(_MENTOR_MILESTONES, *queries.mentor_range(mentor_id)))
        else:
            rows = await self._read(
                lambda conn: conn.fetch(_MENTOR_MILESTONES_WITH_STATUS, *queries.mentor_range(mentor_id), status.value)
            )
        return [milestone_from_row(r, _as_time) for r in rows]

    async def in_progress(self, mentor_id: str) -> tuple[list[Milestone], tuple[date, date] | None]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                _MENTOR_IN_PROGRESS_WITH_SPAN, mentor_id, mentor_id, *queries.mentor_range(mentor_id)
            )
        milestones = [milestone_from_row(r, _as_time) for r in rows]
        if not rows or rows[0][-2] is None:
            return milestones, None
        return milestones, (_as_date(rows[0][-2]), _as_date(rows[0][-1]))

    async def periods(self, mentor_id: str) -> list[Period]:
        rows = await self._read(lambda conn: conn.fetch(_MENTOR_PERIODS, mentor_id))
        return [period_from_row(r, _as_date) for r in rows]

    async def display_name(self, mentor_id: str) -> str | None:
        value = await self._read(lambda conn: conn.fetchval(_MENTOR_DISPLAY_NAME, mentor_id))
        return None if value is None else str(value)

    async def milestone_rows(
        self, mentor_id: str | None = None, page_size: int = 5000
    ) -> AsyncIterator[list[MilestoneRow]]:
        if mentor_id is not None:  # a mentor has a row per catalog definition at most, plus history
            async with self._connection() as conn:
                records = await conn.fetch(_MENTOR_MILESTONES, *queries.mentor_range(mentor_id))
            yield [_milestone_row(r) for r in records]
            return
        after = ""
        while True:
            # A connection per page, given back before the page is handed on: a slow reader holds none.
            async with self._connection() as conn:
                records = await conn.fetch(_MILESTONES_AFTER, after, page_size)
            if not records:
                return
            yield [_milestone_row(r) for r in records]
            after = records[-1]["id"]

    async def milestone_versions(self, after: str, limit: int) -> list[tuple[str, str, str | None]]:
        async with self._connection() as conn:
            records = await conn.fetch(_MILESTONE_VERSIONS_AFTER, after, limit)
        return [(r[0], r[1], r[2]) for r in records]

    async def period_rows(self, mentor_id: str | None = None, page_size: int = 5000) -> AsyncIterator[list[PeriodRow]]:
        if mentor_id is not None:
            async with self._connection() as conn:
                records = await conn.fetch(_MENTOR_PERIOD_ROWS_IN_ORDER, mentor_id)
            yield [_period_row(r) for r in records]
            return
        after: tuple[str, date, date] = ("", date.min, date.min)  # no mentor id is empty
        while True:
            async with self._connection() as conn:
                records = await conn.fetch(_PERIODS_AFTER, *after, page_size)
            if not records:
                return
            yield [_period_row(r) for r in records]
            last = records[-1]
            after = (last["mentor_id"], last["start_date"], last["end_date"])

    async def mentor_counts(self) -> dict[str, int]:
        rows = await self._read(lambda conn: conn.fetch(_MENTOR_COUNTS))
        return {counted: int(mentors) for counted, mentors in rows}

    async def stalled_mentors(self, ended_before: date, after: str, limit: int) -> list[StalledMentor]:
        rows = await self._read(lambda conn: conn.fetch(_STALLED_MENTORS, after, ended_before, limit))
        return [StalledMentor(mentor_id, last_end.isoformat(), keys.split(",")) for mentor_id, last_end, keys in rows]

    async def change(
        self,
        mentors: Sequence[str],
        decide: Decide,
        *,
        seen: PackedRows | None = None,
        decided: Change | None = None,
    ) -> Applied:
        ids = list(mentors)
        bulk = len(ids) != 1
        timeout = BULK_COMMAND_TIMEOUT if bulk else None
        with traces.span("postgresql transaction", _TRANSACTION):
            return await self._change(ids, bulk, timeout, decide, seen, decided)

    async def _change(
        self,
        ids: list[str],
        bulk: bool,
        timeout: float | None,
        decide: Decide,
        seen: PackedRows | None,
        decided: Change | None,
    ) -> Applied:
        async with self._connection() as conn:
            async with conn.transaction():
                applied_change = await self._apply_change(conn, ids, bulk, timeout, decide, seen, decided)
            session = READ_SESSION.get() if self.replicas is not None else None
            if session is not None:
                # After the commit, so the position is past the commit's record: a replica that has replayed it
                # shows this write. The client is handed it (ops.read_after) to send back on its next reads.
                session.wrote(int(await conn.fetchval(queries.WRITE_POSITION_POSTGRES)))
        return applied_change

    async def _apply_change(
        self,
        conn: asyncpg.Connection,
        ids: list[str],
        bulk: bool,
        timeout: float | None,
        decide: Decide,
        seen: PackedRows | None,
        decided: Change | None,
    ) -> Applied:
        """The write transaction's work: lock, read, decide, check the catalog, apply."""
        if bulk:
            await conn.execute(queries.PREFER_INDEXES)
            await conn.execute(_LOCK_MENTORS, ids, timeout=timeout)
        else:
            await conn.execute(_LOCK_MENTOR, ids[0])
        stored: StoredRows | None = None
        if decided is None or seen is None:
            stored = await _stored_rows(conn, ids)
            change = decide(stored)
        else:
            # Under the locks nobody else can change these rows; compare their fingerprint with the one read.
            fingerprint = await conn.fetchval(_MENTORS_FINGERPRINT, ids, ids, timeout=timeout)
            if seen.as_of is not None and fingerprint == seen.as_of:
                change = decided
            else:
                # Written since they were read (by a POST, or another bulk run): decide again.
                stored = (await _packed_rows(conn, ids)).unpack()
                change = decide(stored)
        if change.counted is None:
            # Decided elsewhere, it was counted there (write_path.prepared), on the rows seen.
            change.counted = count_deltas(stored if stored is not None else seen_rows(seen).unpack(), change)
        if change.catalog_version:
            # After the mentors' locks, in a statement of its own (its snapshot is taken now): a change of
            # these mentors decided under a newer version has committed, so that version is seen here.
            check_catalog(change, await conn.fetchval(queries.LATEST_CATALOG))
        erased = await _apply(conn, change, timeout)
        return applied(stored, change, erased)

    async def history(self, mentor_id: str, from_id: int, limit: int) -> list[HistoryEntry]:
        rows = await self._read(lambda conn: conn.fetch(_MENTOR_HISTORY, mentor_id, from_id, limit))
        return [history_entry_from_row(row, mentor_id, _as_time, _as_date) for row in rows]

    async def prune_history(self, before: datetime, batch_size: int = 1000) -> int | None:
        return await self._prune(_PRUNE_HISTORY, queries.TRY_LOCK_PRUNING, queries.UNLOCK_PRUNING, before, batch_size)

    async def events(
        self, after: Position, types: int, mentor_id: str | None, limit: int
    ) -> tuple[list[StoredEvent], Position]:
        async with self._connection() as conn:
            # The horizon first, in its own statement: every transaction below it has ended, so the rows below
            # it that the next statement sees are all there will ever be.
            horizon = int(await conn.fetchval(queries.EVENTS_HORIZON_POSTGRES))
            bounds = (str(after[0]), after[1], str(horizon), types, limit + 1)
            if mentor_id is None:
                rows = await conn.fetch(_EVENTS, *bounds)
            else:
                rows = await conn.fetch(_EVENTS_OF_MENTOR, mentor_id, *bounds)
        return events_from_rows(rows, after, types, limit, max(after, (horizon, 0, -1)), _as_time)

    async def event_horizon(self) -> Position:
        async with self._connection() as conn:
            return (int(await conn.fetchval(queries.EVENTS_HORIZON_POSTGRES)), 0, -1)

    async def oldest_event(self) -> tuple[str, datetime] | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(queries.OLDEST_EVENT_POSTGRES)
        return None if row is None else (f"{row[0]}-0", row[1])

    async def prune_events(self, before: datetime, batch_size: int = 1000) -> int | None:
        return await self._prune(
            _PRUNE_EVENTS, queries.TRY_LOCK_PRUNING_EVENTS, queries.UNLOCK_PRUNING_EVENTS, before, batch_size
        )

    async def _prune(self, statement: str, lock: str, unlock: str, before: datetime, batch_size: int) -> int | None:
        async with self._connection() as conn:
            if not await conn.fetchval(lock):
                return None  # another process is pruning
            try:
                removed = 0
                while True:
                    # Each batch is its own statement and transaction: row locks held for one batch at most.
                    status = await conn.execute(statement, before, batch_size)
                    count = int(status.rpartition(" ")[2])
                    removed += count
                    if count < batch_size:
                        return removed
            finally:
                await conn.execute(unlock)

    async def read_rows(self, mentor_ids: Sequence[str]) -> PackedRows:
        ids = list(mentor_ids)
        # One snapshot for the rows and their fingerprint, so the fingerprint describes exactly these rows.
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute(queries.PREFER_INDEXES)
            rows = await _packed_rows(conn, ids)
            if rows.periods == rows.milestones == _NO_ROWS:
                return PackedRows(_NO_ROWS, _NO_ROWS, _NO_ROWS_FINGERPRINT)  # a new batch: nothing to fingerprint
            fingerprint = await conn.fetchval(_MENTORS_FINGERPRINT, ids, ids, timeout=BULK_COMMAND_TIMEOUT)
        return PackedRows(rows.periods, rows.milestones, fingerprint)

    async def claim_idempotency_key(
        self,
        key: str,
        fingerprint: str,
        now: datetime,
        replaceable: Replaceable,
        expired_before: datetime,
        mentor_id: str | None = None,
    ) -> IdempotencyRecord | None:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(_DELETE_EXPIRED_IDEMPOTENCY_KEYS, expired_before)
            inserted = await conn.execute(_INSERT_IDEMPOTENCY_KEY, key, fingerprint, now, mentor_id)
            if inserted.endswith(" 1"):
                return None
            # Locked, so two retries racing for an abandoned key cannot both take it over.
            record = idempotency_from_row(await conn.fetchrow(_LOCK_IDEMPOTENCY_KEY, key), _as_time)
            if replaceable(record):
                await conn.execute(_RESTART_IDEMPOTENCY_KEY, fingerprint, now, mentor_id, key)
                return None
            return record

    async def finish_idempotency_key(
        self, key: str, fingerprint: str, status_code: int, content_type: str, body: bytes
    ) -> None:
        async with self._connection() as conn:
            await conn.execute(_FINISH_IDEMPOTENCY_KEY, status_code, content_type, body, key, fingerprint)

    async def release_idempotency_key(self, key: str, fingerprint: str) -> None:
        async with self._connection() as conn:
            await conn.execute(_RELEASE_IDEMPOTENCY_KEY, key, fingerprint)

    async def service_secret(self, name: str, proposed: str) -> str:
        async with self._connection() as conn:
            await conn.execute(_INSERT_SERVICE_VALUE, name, proposed)
            value: str = await conn.fetchval(_GET_SERVICE_VALUE, name)
        return value

    async def latest_catalog_version(self) -> str | None:
        async with self._connection() as conn:
            value = await conn.fetchval(queries.LATEST_CATALOG)
        return None if value is None else str(value)

    async def catalog_versions(self, after_seq: int = 0) -> list[tuple[int, CatalogVersion]]:
        async with self._connection() as conn:
            rows = await conn.fetch(_CATALOG_VERSIONS_AFTER, after_seq)
        return [catalog_version_from_row(row, _as_time) for row in rows]

    async def add_catalog_version(self, catalog: CatalogVersion, now: datetime, *, first: bool = False) -> int | None:
        statement = _INSERT_FIRST_CATALOG_VERSION if first else _INSERT_CATALOG_VERSION
        async with self._connection() as conn:
            seq = await conn.fetchval(
                statement, catalog.version, catalog.content_hash, content_of(catalog.definitions), now
            )
        return None if seq is None else int(seq)

    async def access_keys(self) -> list[AccessKey]:
        async with self._connection() as conn:
            rows = await conn.fetch(queries.ACCESS_KEYS)
        return [access_key_from_row(row, _as_time) for row in rows]

    async def add_access_key(self, key: AccessKey) -> None:
        async with self._connection() as conn:
            await conn.execute(_INSERT_ACCESS_KEY, key.id, key.name, key.scope.label, key.digest, key.created_at)

    async def revoke_access_key(self, key_id: str, now: datetime) -> AccessKey | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(_REVOKE_ACCESS_KEY, now, key_id)
        return None if row is None else access_key_from_row(row, _as_time)

    async def schema_revision(self) -> str | None:
        async with self._connection() as conn:
            value = await conn.fetchval(queries.SCHEMA_REVISION)
        return None if value is None else str(value)

    async def close(self) -> None:
        if self.replicas is not None:
            await self.replicas.close()
        await self._pool.close()
        if self._retrying is not None:
            _POOL_LOG.removeFilter(self._retrying)


async def _stored_rows(conn: asyncpg.Connection, mentors: list[str]) -> StoredRows:
    """The stored rows of some mentors, read in the write transaction: by key for one mentor (a request),
    as one JSON array per table for a batch."""
    if len(mentors) != 1:
        return (await _packed_rows(conn, mentors)).unpack()
    (mentor_id,) = mentors
    return StoredRows(
        [_period_row(r) for r in await conn.fetch(_MENTOR_PERIOD_ROWS, mentor_id)],
        [_milestone_row(r) for r in await conn.fetch(_MENTOR_MILESTONES, *queries.mentor_range(mentor_id))],
    )


async def _apply(conn: asyncpg.Connection, change: Change, timeout: float | None) -> dict[str, int]:
    """Write a change: every table the write path declares, in order. The only code that writes periods,
    milestones and history on PostgreSQL. A request's few rows go by executemany; a bulk batch's thousands
    are COPYed (into scratch tables merged with an upsert, or straight into an append-only table), several
    times faster than row by row. `timeout` bounds each statement (None: the pool's statement timeout).
    An erasure's counts come back (`erased_counts`)."""
    writes = [(write, rows) for write in WRITE_PATH if (rows := write.rows_of(change))]
    removed: list[tuple[TableWrite, int]] = []
    copy = sum(len(rows) for write, rows in writes if write.how in ("upsert", "append")) >= _COPY_FROM_ROWS
    for write, rows in writes:
        statement = _statements(write)
        values = statement.values(rows)
        if write.ordered:
            values.sort()
        if write.how == "erase":
            for row in values:
                # The command tag says how many rows went: "DELETE 3".
                tag = await conn.execute(statement.one, *row, timeout=timeout)
                removed.append((write, int(tag.rsplit(" ", 1)[1])))
        elif write.how in ("delete", "add") or not copy:
            await conn.executemany(statement.one, values, timeout=timeout)
        elif write.how == "append":
            await conn.copy_records_to_table(write.table, records=values, columns=write.columns, timeout=timeout)
        else:
            await conn.execute(statement.scratch, timeout=timeout)
            await conn.copy_records_to_table(
                write.scratch_table, records=values, columns=write.columns, timeout=timeout
            )
            await conn.execute(write.merge, timeout=timeout)
    return erased_counts(change, removed)


@dataclass(frozen=True, slots=True)
class _Statements:
    """A write path declaration as PostgreSQL runs it: its statements, and its rows as asyncpg binds them."""

    one: str
    scratch: str
    values: Callable[[Sequence[Sequence[Any]]], list[Any]]


@cache
def _statements(write: TableWrite) -> _Statements:
    return _Statements(
        queries.numbered(write.statement),
        queries.create_scratch_table(write.scratch_table, write.table),
        _binder(write.columns),
    )


def _binder(columns: tuple[str, ...]) -> Callable[[Sequence[Sequence[Any]]], list[Any]]:
    """Rows carry dates and times as ISO text; asyncpg binds dates and datetimes. Converts those columns."""
    converters = [
        (index, _date_from_text if name in queries.DATE_COLUMNS else time_from_text)
        for index, name in enumerate(columns)
        if name in queries.DATE_COLUMNS or name in queries.TIME_COLUMNS
    ]
    if not converters:
        return list
    if len(converters) == 1:
        # Slicing: a bulk batch binds tens of thousands of milestone rows, each with one time.
        ((at, convert),) = converters

        def one(rows: Sequence[Sequence[Any]]) -> list[Any]:
            return [(*row[:at], None if row[at] is None else convert(row[at]), *row[at + 1 :]) for row in rows]

        return one
    if len(converters) == 2 and converters[1][0] == converters[0][0] + 1:
        # A period's two dates.
        (first, convert_first), (_, convert_second) = converters

        def two(rows: Sequence[Sequence[Any]]) -> list[Any]:
            return [
                (*row[:first], convert_first(row[first]), convert_second(row[first + 1]), *row[first + 2 :])
                for row in rows
            ]

        return two

    def several(rows: Sequence[Sequence[Any]]) -> list[Any]:
        bound = []
        for row in rows:
            values = list(row)
            for index, convert in converters:
                value = values[index]
                if value is not None:
                    values[index] = convert(value)
            bound.append(values)
        return bound

    return several
