"""SQLite back end: reads inline on the event loop, every write on one dedicated writer thread."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

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
    parse_time,
    period_from_row,
)
from milestones.errors import DatabaseUnavailable
from milestones.ops import traces
from milestones.ops.metrics import WRITER_WAIT
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
from milestones.storage.credentials import CredentialStore, SqliteCredentialStore
from milestones.storage.webhooks import SqliteWebhookStore, WebhookStore
from milestones.storage.write_path import WRITE_PATH, TableWrite, count_deltas

_BUSY_TIMEOUT_MS = 30_000
# Writes remembered for `_unchanged_since`; a bulk pipeline keeps one or two in flight.
_COMMITS_KEPT = 16
T = TypeVar("T")


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it stays so). Two workers starting at once on a new file both try, and
    SQLite answers the loser "database is locked" at once, without its busy handler: so try again."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _parse_date(value: Any) -> date:
    return date.fromisoformat(value)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with WAL and a busy timeout."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        _switch_to_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    if read_only:
        conn.execute("PRAGMA query_only = 1")
    return conn


class SqliteRepository:
    """MilestoneRepository on one SQLite file.

    Reads are sub-millisecond, so they run inline rather than paying a thread hop; writes queue on a
    single thread so that a lock wait (another process writing) never blocks the event loop.
    """

    def __init__(self, path: Path, *, inline_writes: bool = False) -> None:
        self._path = path
        # For a process that only writes (bulk detection): no thread, and no 503 for a slow start either,
        # since there is no request waiting. Each Python row bound in executemany needs the GIL back from
        # whatever else the process is running, so a writer thread is slowest exactly when it is busiest.
        self._inline_writes = inline_writes
        self._reader = connect(path, read_only=True)
        self._writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._writer: sqlite3.Connection | None = None
        self._lock_path = path.with_name(path.name + ".write-lock")
        self._write_lock = -1
        # What bulk writes need to know whether rows read earlier are still current, without reading them
        # again: how many write transactions this repository has committed, the mentors of its recent
        # changes (None for a write that is not a change), and an epoch bumped whenever a write transaction
        # finds that another connection (another process) has committed since this one last looked.
        self._commits = 0
        self._recent_commits: deque[tuple[int, frozenset[str] | None]] = deque(maxlen=_COMMITS_KEPT)
        self._foreign_epoch = 0
        self._data_version: int | None = None
        self.webhooks: WebhookStore = SqliteWebhookStore(self, path)
        self.credentials: CredentialStore = SqliteCredentialStore(self)

    async def get(self, milestone_id: str) -> Milestone | None:
        row = self._read_one(queries.GET_MILESTONE, (milestone_id,))
        return None if row is None else milestone_from_row(row, parse_time)

    async def find(self, query: MilestoneQuery) -> tuple[list[Milestone], int | None]:
        listing = queries.list_milestones(query, encode_time)
        total: int | None = None
        if listing.count is None:  # one mentor's listing, read whole
            whole = self._read_all(listing.page, listing.page_params)
            rows, total = queries.window_of_whole(whole, query.offset, query.limit)
        else:
            rows = self._read_all(listing.page, (*listing.page_params, query.limit, query.offset))
            if query.after_id is None:
                total = int(self._read_one(listing.count, listing.count_params)[0])
        return [milestone_from_row(r, parse_time) for r in rows], total

    async def mentor_milestones(self, mentor_id: str, status: Status | None = None) -> list[Milestone]:
        if status is None:
            rows = self._read_all(queries.MENTOR_MILESTONES, queries.mentor_range(mentor_id))
        else:
            rows = self._read_all(
                queries.MENTOR_MILESTONES_WITH_STATUS, (*queries.mentor_range(mentor_id), status.value)
            )
        return [milestone_from_row(r, parse_time) for r in rows]

    async def in_progress(self, mentor_id: str) -> tuple[list[Milestone], tuple[date, date] | None]:
        rows = self._read_all(
            queries.MENTOR_IN_PROGRESS_WITH_SPAN, (mentor_id, mentor_id, *queries.mentor_range(mentor_id))
        )
        if not rows or rows[0][-2] is None:
            return [milestone_from_row(r, parse_time) for r in rows], None
        span = (_parse_date(rows[0][-2]), _parse_date(rows[0][-1]))
        return [milestone_from_row(r, parse_time) for r in rows], span

    async def periods(self, mentor_id: str) -> list[Period]:
        rows = self._read_all(queries.MENTOR_PERIODS, (mentor_id,))
        return [period_from_row(r, _parse_date) for r in rows]

    async def display_name(self, mentor_id: str) -> str | None:
        row = self._read_one(queries.MENTOR_DISPLAY_NAME, (mentor_id,))
        return None if row is None else row[0]

    async def milestone_rows(
        self, mentor_id: str | None = None, page_size: int = 5000
    ) -> AsyncIterator[list[MilestoneRow]]:
        if mentor_id is not None:  # a mentor has a row per catalog definition at most, plus history
            low, high = queries.mentor_range(mentor_id)
            yield [MilestoneRow(*row) for row in self._read_all(queries.MENTOR_MILESTONES, (low, high))]
            return
        after = ""
        while rows := self._read_all(queries.MILESTONES_AFTER, (after, page_size)):
            yield [MilestoneRow(*row) for row in rows]
            after = rows[-1][0]

    async def period_rows(self, mentor_id: str | None = None, page_size: int = 5000) -> AsyncIterator[list[PeriodRow]]:
        if mentor_id is not None:
            yield [PeriodRow(*row) for row in self._read_all(queries.MENTOR_PERIOD_ROWS_IN_ORDER, (mentor_id,))]
            return
        after: tuple[str, str, str] = ("", "", "")  # no mentor id is empty
        while rows := self._read_all(queries.PERIODS_AFTER, (*after, page_size)):
            yield [PeriodRow(*row) for row in rows]
            after = rows[-1][:3]

    async def milestone_versions(self, after: str, limit: int) -> list[tuple[str, str, str | None]]:
        return [(row[0], row[1], row[2]) for row in self._read_all(queries.MILESTONE_VERSIONS_AFTER, (after, limit))]

    async def mentor_counts(self) -> dict[str, int]:
        return {counted: int(mentors) for counted, mentors in self._read_all(queries.MENTOR_COUNTS, ())}

    async def stalled_mentors(self, ended_before: date, after: str, limit: int) -> list[StalledMentor]:
        rows = self._read_all(queries.STALLED_MENTORS_SQLITE, (after, ended_before.isoformat(), limit))
        return [StalledMentor(mentor_id, last_end, keys.split(",")) for mentor_id, last_end, keys in rows]

    async def change(
        self,
        mentors: Sequence[str],
        decide: Decide,
        *,
        seen: PackedRows | None = None,
        decided: Change | None = None,
    ) -> Applied:
        return await self._in_writer(self._change, list(mentors), decide, seen, decided)

    async def history(self, mentor_id: str, from_id: int, limit: int) -> list[HistoryEntry]:
        rows = self._read_all(queries.MENTOR_HISTORY, (mentor_id, from_id, limit))
        return [history_entry_from_row(row, mentor_id, parse_time, _parse_date) for row in rows]

    async def prune_history(self, before: datetime, batch_size: int = 1000) -> int | None:
        return await self._prune(queries.PRUNE_HISTORY, "prune-lock", before, batch_size)

    async def events(
        self, after: Position, types: int, mentor_id: str | None, limit: int
    ) -> tuple[list[StoredEvent], Position]:
        # One writer at a time: ids are commit order, and every id up to the last one is final.
        last = self._read_one(queries.EVENTS_HORIZON_SQLITE, ())[0]
        if mentor_id is None:
            rows = self._read_all(queries.EVENTS_SQLITE, (after[1], last, types, limit + 1))
        else:
            rows = self._read_all(queries.EVENTS_OF_MENTOR_SQLITE, (mentor_id, after[1], last, types, limit + 1))
        return events_from_rows(rows, after, types, limit, max(after, (0, last + 1, -1)), parse_time)

    async def event_horizon(self) -> Position:
        return (0, self._read_one(queries.EVENTS_HORIZON_SQLITE, ())[0] + 1, -1)

    async def oldest_event(self) -> tuple[str, datetime] | None:
        row = self._read_one(queries.OLDEST_EVENT_SQLITE, ())
        return None if row is None else (f"{row[0]}-0", cast(datetime, parse_time(row[1])))

    async def prune_events(self, before: datetime, batch_size: int = 1000) -> int | None:
        return await self._prune(queries.PRUNE_EVENTS_SQLITE, "prune-events-lock", before, batch_size)

    async def _prune(self, statement: str, lock_name: str, before: datetime, batch_size: int) -> int | None:
        lock = os.open(self._path.with_name(f"{self._path.name}.{lock_name}"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None  # another process is pruning
            removed = 0
            while True:
                # Each batch is its own short write transaction, so writers queue behind one batch at most.
                count = await self._in_writer(self._prune_batch, statement, encode_time(before), batch_size)
                removed += count
                if count < batch_size:
                    return removed
        finally:
            os.close(lock)  # closing releases the lock

    async def read_rows(self, mentor_ids: Sequence[str]) -> PackedRows:
        # Noted before reading: a commit that lands after this note may or may not be in the rows.
        as_of = (self._commits, self._foreign_epoch)
        try:
            return _packed_rows(self._reader, json.dumps(list(mentor_ids)), as_of)
        except sqlite3.OperationalError as exc:
            raise DatabaseUnavailable(f"The database could not be read: {exc}") from exc

    async def claim_idempotency_key(
        self,
        key: str,
        fingerprint: str,
        now: datetime,
        replaceable: Replaceable,
        expired_before: datetime,
        mentor_id: str | None = None,
    ) -> IdempotencyRecord | None:
        return await self._in_writer(
            self._claim_idempotency_key, key, fingerprint, now, replaceable, expired_before, mentor_id
        )

    async def finish_idempotency_key(
        self, key: str, fingerprint: str, status_code: int, content_type: str, body: bytes
    ) -> None:
        params = (status_code, content_type, body, key, fingerprint)
        await self._write(queries.FINISH_IDEMPOTENCY_KEY, params)

    async def release_idempotency_key(self, key: str, fingerprint: str) -> None:
        await self._write(queries.RELEASE_IDEMPOTENCY_KEY, (key, fingerprint))

    async def service_secret(self, name: str, proposed: str) -> str:
        value: str = (await self._in_writer(self._service_secret, name, proposed))[0]
        return value

    async def latest_catalog_version(self) -> str | None:
        row = self._read_one(queries.LATEST_CATALOG, ())
        return None if row is None else str(row[0])

    async def catalog_versions(self, after_seq: int = 0) -> list[tuple[int, CatalogVersion]]:
        return [
            catalog_version_from_row(row, parse_time)
            for row in self._read_all(queries.CATALOG_VERSIONS_AFTER, (after_seq,))
        ]

    async def add_catalog_version(self, catalog: CatalogVersion, now: datetime, *, first: bool = False) -> int | None:
        statement = queries.INSERT_FIRST_CATALOG_VERSION if first else queries.INSERT_CATALOG_VERSION
        params = (catalog.version, catalog.content_hash, content_of(catalog.definitions), encode_time(now))
        row = await self._in_writer(self._fetch_in_writer, statement, params)
        return None if row is None else int(row[0])

    async def access_keys(self) -> list[AccessKey]:
        return [access_key_from_row(row, parse_time) for row in self._read_all(queries.ACCESS_KEYS, ())]

    async def add_access_key(self, key: AccessKey) -> None:
        assert key.created_at is not None
        params = (key.id, key.name, key.scope.label, key.digest, encode_time(key.created_at))
        await self._write(queries.INSERT_ACCESS_KEY, params)

    async def revoke_access_key(self, key_id: str, now: datetime) -> AccessKey | None:
        row = await self._in_writer(self._fetch_in_writer, queries.REVOKE_ACCESS_KEY, (encode_time(now), key_id))
        return None if row is None else access_key_from_row(row, parse_time)

    async def schema_revision(self) -> str | None:
        row = self._read_one(queries.SCHEMA_REVISION, ())
        return None if row is None else str(row[0])

    async def close(self) -> None:
        await self.webhooks.close()
        self._writer_thread.submit(self._close_writer).result()
        self._writer_thread.shutdown(wait=True)
        self._reader.close()

    # For the webhooks' store, which shares this file's reader, writer thread and write queue.
    def read_one(self, sql: str, params: Any) -> Any:
        return self._read_one(sql, params)

    def read_all(self, sql: str, params: Any) -> list[Any]:
        return self._read_all(sql, params)

    async def in_writer(self, work: Callable[[], T]) -> T:
        return await self._in_writer(work)

    def transaction(self, mentors: frozenset[str] | None = None) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction (on the writer thread only, inside `in_writer`'s work)."""
        return self._transaction(mentors)

    def _read_one(self, sql: str, params: Any) -> Any:
        try:
            if traces.enabled():  # checked first: the span's bookkeeping would be a tenth of a hot read
                with traces.span("sqlite read", {"db.system.name": "sqlite", "db.query.text": sql}):
                    return self._reader.execute(sql, params).fetchone()
            return self._reader.execute(sql, params).fetchone()
        except sqlite3.OperationalError as exc:
            raise DatabaseUnavailable(f"The database could not be read: {exc}") from exc

    def _read_all(self, sql: str, params: Any) -> list[Any]:
        try:
            if traces.enabled():
                with traces.span("sqlite read", {"db.system.name": "sqlite", "db.query.text": sql}):
                    return self._reader.execute(sql, params).fetchall()
            return self._reader.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise DatabaseUnavailable(f"The database could not be read: {exc}") from exc

    async def _write(self, sql: str, params: Any) -> None:
        await self._in_writer(self._execute_in_writer, sql, params)

    async def _in_writer(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work` on the writer thread; give up with a 503 if it cannot start within the busy timeout.

        Work that has not started by then is withdrawn, so a request answered 503 never writes later.
        """
        if self._inline_writes:
            return work(*args)
        job = _WriterJob(work, args)
        future = asyncio.get_running_loop().run_in_executor(self._writer_thread, job.run)
        future.add_done_callback(job.record_wait)
        try:
            try:
                return cast(T, await asyncio.wait_for(asyncio.shield(future), _BUSY_TIMEOUT_MS / 1000))
            finally:
                if job.timed:
                    job.record_spans()
        except TimeoutError:
            if job.withdraw():
                # Nobody awaits it any more; retrieve its (withdrawn) outcome so it is not reported.
                future.add_done_callback(lambda done: done.exception())
                raise DatabaseUnavailable("The database is busy: another writer held it too long.") from None
            return cast(T, await future)

    # Everything below runs on the writer thread only.

    def _writer_connection(self) -> sqlite3.Connection:
        if self._writer is None:
            self._writer = connect(self._path)
            self._write_lock = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._writer

    @contextmanager
    def _transaction(self, mentors: frozenset[str] | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction, queued behind writers in other processes (other workers, `detect`);
        `mentors` are those whose rows it writes (None: not a change of mentors' rows).

        The queue is a file lock: the kernel hands it to the next writer the moment it is released, where
        SQLite's own busy handler would sleep for up to 100 ms between tries. A holder that never lets go
        is bounded by `_in_writer`'s timeout.
        """
        conn = self._writer_connection()
        fcntl.flock(self._write_lock, fcntl.LOCK_EX)
        try:
            try:
                # IMMEDIATE takes SQLite's write lock before reading, so what we read stays current.
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise DatabaseUnavailable(f"The database is busy: {exc}") from exc
            try:
                _WriterJob.start_current()
                # Changes only when another connection has committed since this one last asked.
                data_version = conn.execute("PRAGMA data_version").fetchone()[0]
                if data_version != self._data_version:
                    self._foreign_epoch += 1
                    self._data_version = data_version
                yield conn
                conn.execute("COMMIT")
                self._commits += 1
                self._recent_commits.append((self._commits, mentors))
            except BaseException as exc:
                # After a full disk or an I/O error SQLite has already rolled back by itself, and a second
                # ROLLBACK would fail and hide the real error.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    # Nothing was written, and a retry may succeed (the disk has room again, a lock was
                    # released): a 503 with Retry-After, not a 500.
                    raise DatabaseUnavailable(f"The database could not be written: {exc}") from exc
                raise
        finally:
            fcntl.flock(self._write_lock, fcntl.LOCK_UN)

    def _execute_in_writer(self, sql: str, params: Any) -> None:
        # _transaction turns SQLite's operational errors into DatabaseUnavailable.
        with self._transaction() as conn:
            conn.execute(sql, params)

    def _prune_batch(self, statement: str, before: str, batch_size: int) -> int:
        # No mentor's rows change: bulk detection need not decide a batch again for it.
        with self._transaction(frozenset()) as conn:
            return int(conn.execute(statement, (before, batch_size)).rowcount)

    def _service_secret(self, name: str, proposed: str) -> Any:
        with self._transaction() as conn:
            conn.execute(queries.INSERT_SERVICE_VALUE, (name, proposed))
            return conn.execute(queries.GET_SERVICE_VALUE, (name,)).fetchone()

    def _fetch_in_writer(self, sql: str, params: Any) -> Any:
        with self._transaction() as conn:
            return conn.execute(sql, params).fetchone()

    def _claim_idempotency_key(
        self,
        key: str,
        fingerprint: str,
        now: datetime,
        replaceable: Replaceable,
        expired_before: datetime,
        mentor_id: str | None,
    ) -> IdempotencyRecord | None:
        with self._transaction() as conn:
            conn.execute(queries.DELETE_EXPIRED_IDEMPOTENCY_KEYS, (encode_time(expired_before),))
            claim = (key, fingerprint, encode_time(now), mentor_id)
            inserted = conn.execute(queries.INSERT_IDEMPOTENCY_KEY, claim).rowcount
            if inserted:
                return None
            record = idempotency_from_row(conn.execute(queries.GET_IDEMPOTENCY_KEY, (key,)).fetchone(), parse_time)
            if replaceable(record):
                conn.execute(queries.RESTART_IDEMPOTENCY_KEY, (fingerprint, encode_time(now), mentor_id, key))
                return None
            return record

    def _change(self, mentors: list[str], decide: Decide, seen: PackedRows | None, decided: Change | None) -> Applied:
        with self._transaction(frozenset(mentors)) as conn:
            stored: StoredRows | None = None
            if decided is None or seen is None:
                stored = _stored_rows(conn, mentors)
                change = decide(stored)
            elif self._unchanged_since(seen.as_of, frozenset(mentors)):
                change = decided
            else:
                packed = _packed_rows(conn, json.dumps(mentors))
                # Written since they were read (often by the batch before, sharing a mentor): decide again.
                change = decided if packed == seen else decide(stored := packed.unpack())
            if change.counted is None:
                # Decided elsewhere, it was counted there (write_path.prepared), on the rows seen.
                change.counted = count_deltas(stored if stored is not None else seen_rows(seen).unpack(), change)
            if change.catalog_version:
                check_catalog(change, (conn.execute(queries.LATEST_CATALOG).fetchone() or (None,))[0])
            erased = _apply(conn, change)
        return applied(stored, change, erased)

    def _unchanged_since(self, as_of: object, mentors: frozenset[str]) -> bool:
        """Whether no commit since `as_of` (a read_rows note) can have touched these mentors' rows: none from
        another connection, and of this repository's own only changes to other mentors."""
        if not isinstance(as_of, tuple) or as_of[1] != self._foreign_epoch:
            return False
        commits_since = self._commits - as_of[0]
        recent = [written for number, written in self._recent_commits if number > as_of[0]]
        return len(recent) == commits_since and all(
            written is not None and written.isdisjoint(mentors) for written in recent
        )

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            os.close(self._write_lock)


class _WriterJob:
    """A unit of writer-thread work that the waiting request can withdraw until its transaction starts."""

    _current = threading.local()

    def __init__(self, work: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._work = work
        self._args = args
        self._queued_at = time.perf_counter()
        self._waited: float | None = None
        self._state_lock = threading.Lock()
        self._withdrawn = False
        self._started = False
        # With traces on, wall-clock times of its queueing, start and end, for spans recorded afterwards on the
        # event loop, where the request's span is current (the writer thread has no request context).
        self.timed = traces.enabled()
        self._times = [traces.now_ns(), 0, 0] if self.timed else []

    def run(self) -> Any:
        self._waited = time.perf_counter() - self._queued_at
        if self.timed:
            self._times[1] = traces.now_ns()
        _WriterJob._current.job = self
        try:
            return self._work(*self._args)
        finally:
            _WriterJob._current.job = None
            if self.timed:
                self._times[2] = traces.now_ns()

    def record_spans(self) -> None:
        """The SQLite writer's wait and its transaction, as children of the current span."""
        queued, started, ended = self._times
        if started:
            attributes = {"db.system.name": "sqlite"}
            traces.record("sqlite writer wait", queued, started, attributes)
            if ended:
                traces.record("sqlite transaction", started, ended, attributes)

    @classmethod
    def start_current(cls) -> None:
        """Called with the write lock held: from here on the work will complete, unless it was withdrawn."""
        job: _WriterJob | None = getattr(cls._current, "job", None)
        if job is None:
            return
        with job._state_lock:
            if job._withdrawn:
                raise DatabaseUnavailable("The request stopped waiting for the database.")
            job._started = True

    def record_wait(self, _: object) -> None:
        """Counts how long the job queued for the writer thread (on the event loop, once it is done)."""
        if self._waited is not None:
            WRITER_WAIT.observe(self._waited)

    def withdraw(self) -> bool:
        """Withdraw the work if it has not started its transaction; False when it already has."""
        with self._state_lock:
            if self._started:
                return False
            self._withdrawn = True
            return True


def _packed_rows(conn: sqlite3.Connection, ids: str, as_of: object = None) -> PackedRows:
    """The stored rows of the mentors in `ids` (a JSON array). SQLite keeps dates and times as the ISO
    text bulk rows carry, so the rows go both ways as they are."""
    return PackedRows(
        conn.execute(queries.MENTORS_PERIODS_SQLITE, (ids,)).fetchone()[0],
        conn.execute(queries.MENTORS_MILESTONES_SQLITE, (ids,)).fetchone()[0],
        as_of,
    )


def _stored_rows(conn: sqlite3.Connection, mentors: list[str]) -> StoredRows:
    """The stored rows of some mentors, read in the write transaction: by key for one mentor (a request),
    as one JSON array per table for a batch."""
    if len(mentors) != 1:
        return _packed_rows(conn, json.dumps(mentors)).unpack()
    (mentor_id,) = mentors
    return StoredRows(
        [PeriodRow(*row) for row in conn.execute(queries.MENTOR_PERIOD_ROWS, (mentor_id,))],
        [MilestoneRow(*row) for row in conn.execute(queries.MENTOR_MILESTONES, queries.mentor_range(mentor_id))],
    )


def _apply(conn: sqlite3.Connection, change: Change) -> dict[str, int]:
    """Write a change: every table the write path declares, in order. The only code that writes periods,
    milestones and history on SQLite. An erasure's counts come back (`erased_counts`)."""
    removed: list[tuple[TableWrite, int]] = []
    for write in WRITE_PATH:
        rows = write.rows_of(change)
        if write.how == "erase":
            removed.extend((write, conn.execute(write.statement, tuple(row)).rowcount) for row in rows)
        elif rows:
            # As plain tuples: sqlite3 binds a tuple subclass through the slow sequence protocol (2.3 against
            # 1.8 µs a row, millions of rows in a bulk run).
            conn.executemany(write.statement, map(tuple, rows))
    return erased_counts(change, removed)
