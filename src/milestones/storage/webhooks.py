"""Webhook storage on both databases: endpoints, the delivery queue (claimed with a lease), the attempts' log."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from milestones.domain.rows import encode_time, parse_time
from milestones.domain.webhooks import Attempt, ClaimedDelivery, Delivery, DeliveryStatus, Endpoint, Outcome
from milestones.storage import queries

if TYPE_CHECKING:
    from milestones.storage.postgres import PostgresRepository
    from milestones.storage.sqlite import SqliteRepository


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    """An endpoint as stored: its secrets as kept (perhaps encrypted) and its place in the event feed."""

    endpoint: Endpoint
    secret: str
    previous_secret: str | None
    previous_until: datetime | None
    cursor: str


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """An event to queue for an endpoint: rendered, and where it is in the outbox (to check it is still there)."""

    event_id: str
    event_type: str
    mentor_id: str
    payload: bytes
    txid: int
    row: int


@dataclass(frozen=True, slots=True)
class Finished:
    """What an attempt leaves: the delivery's new status and next try, its log line, and an endpoint to disable."""

    status: DeliveryStatus
    next_at: datetime | None
    attempt: Attempt
    disable_reason: str | None = None


class WebhookStore(Protocol):
    """All webhooks ask of a database."""

    async def add_endpoint(self, record: EndpointRecord) -> None: ...

    async def endpoints(self) -> list[EndpointRecord]: ...

    async def endpoint(self, endpoint_id: str) -> EndpointRecord | None: ...

    async def set_enabled(self, endpoint_id: str, enabled: bool, reason: str | None) -> bool: ...

    async def rotate_secret(self, endpoint_id: str, secret: str, previous_until: datetime) -> bool: ...

    async def remove_endpoint(self, endpoint_id: str) -> bool:
        """Remove an endpoint with its deliveries and their log."""
        ...

    async def queue(
        self, endpoint_id: str, cursor: str, moved_to: str, events: Sequence[QueuedEvent], now: datetime
    ) -> bool:
        """Queue events for an endpoint and move its cursor, in one transaction, if the cursor is still `cursor`
        (else nothing: another worker queued them). Events no longer in the outbox (erased) are skipped."""
        ...

    async def queue_test(self, endpoint_id: str, event_id: str, payload: bytes, now: datetime) -> int: ...

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[ClaimedDelivery]:
        """Up to `limit` due deliveries of enabled endpoints, leased to this worker until `lease_until`."""
        ...

    async def finish(self, delivery: ClaimedDelivery, finished: Finished) -> tuple[bool, bool]:
        """Record an attempt: whether it was (not when the claim was taken over meanwhile), and whether this
        disabled the endpoint (not when it already was)."""
        ...

    async def redeliver(self, delivery_id: int, now: datetime) -> str | None:
        """Make a delivery due again now, its schedule anew; its endpoint's id, or None when there is none."""
        ...

    async def delivery(self, delivery_id: int) -> Delivery | None: ...

    async def deliveries(self, endpoint_id: str, limit: int) -> list[Delivery]: ...

    async def attempts(self, endpoint_id: str, limit: int) -> list[Attempt]: ...

    async def prune(self, before: datetime, batch_size: int = 1000) -> int:
        """Remove finished deliveries made, and attempts logged, before `before`, a batch per transaction."""
        ...

    async def lead(self) -> bool:
        """Whether this process may run deliveries now (SQLite: one process at a time; PostgreSQL: any)."""
        ...

    async def close(self) -> None: ...


def _record(row: Sequence[Any], parse: Any) -> EndpointRecord:
    return EndpointRecord(
        Endpoint(row[0], row[1], row[2], bool(row[3]), parse(row[4]), row[5]), row[6], row[7], parse(row[8]), row[9]
    )


def _delivery(row: Sequence[Any], parse: Any) -> Delivery:
    return Delivery(
        row[0], row[1], row[2], row[3], DeliveryStatus(row[4]), row[5], parse(row[6]), parse(row[7]), row[8]
    )


def _claimed(row: Sequence[Any], parse: Any) -> ClaimedDelivery:
    return ClaimedDelivery(row[0], row[1], row[2], bytes(row[3]), row[4], parse(row[5]), row[6])


def _attempt(row: Sequence[Any], parse: Any) -> Attempt:
    return Attempt(row[0], row[1], parse(row[2]), Outcome(row[3]), row[4], row[5])


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else encode_time(moment)


class SqliteWebhookStore:
    """WebhookStore on the SQLite repository's file: reads inline, writes on its writer thread."""

    def __init__(self, repository: SqliteRepository, path: Any) -> None:
        self._repository = repository
        self._lock_path = path.with_name(f"{path.name}.webhooks-lock")
        self._lead = -1

    async def add_endpoint(self, record: EndpointRecord) -> None:
        e = record.endpoint
        params = (
            e.id, e.url, e.types, e.enabled, encode_time(e.created_at), e.disabled_reason,
            record.secret, record.previous_secret, _time(record.previous_until), record.cursor,
        )  # fmt: skip
        await self._write(queries.INSERT_WEBHOOK_ENDPOINT, params)

    async def endpoints(self) -> list[EndpointRecord]:
        return [_record(row, parse_time) for row in self._repository.read_all(queries.WEBHOOK_ENDPOINTS, ())]

    async def endpoint(self, endpoint_id: str) -> EndpointRecord | None:
        row = self._repository.read_one(queries.WEBHOOK_ENDPOINT, (endpoint_id,))
        return None if row is None else _record(row, parse_time)

    async def set_enabled(self, endpoint_id: str, enabled: bool, reason: str | None) -> bool:
        return await self._count(queries.SET_WEBHOOK_ENABLED, (enabled, reason, endpoint_id)) > 0

    async def rotate_secret(self, endpoint_id: str, secret: str, previous_until: datetime) -> bool:
        return await self._count(queries.ROTATE_WEBHOOK_SIGNING, (encode_time(previous_until), secret, endpoint_id)) > 0

    async def remove_endpoint(self, endpoint_id: str) -> bool:
        def work() -> bool:
            with self._repository.transaction() as conn:
                conn.execute(queries.DELETE_WEBHOOK_ATTEMPTS_OF_ENDPOINT, (endpoint_id,))
                conn.execute(queries.DELETE_WEBHOOK_DELIVERIES_OF_ENDPOINT, (endpoint_id,))
                return bool(conn.execute(queries.DELETE_WEBHOOK_ENDPOINT, (endpoint_id,)).rowcount)

        return await self._repository.in_writer(work)

    async def queue(
        self, endpoint_id: str, cursor: str, moved_to: str, events: Sequence[QueuedEvent], now: datetime
    ) -> bool:
        at = encode_time(now)
        rows = [(endpoint_id, e.event_id, e.event_type, e.mentor_id, e.payload, at, at, e.row) for e in events]

        def work() -> bool:
            with self._repository.transaction(frozenset()) as conn:
                if not conn.execute(queries.ADVANCE_WEBHOOK_CURSOR, (moved_to, endpoint_id, cursor)).rowcount:
                    return False
                conn.executemany(queries.QUEUE_WEBHOOK_DELIVERY_SQLITE, rows)
                return True

        return await self._repository.in_writer(work)

    async def queue_test(self, endpoint_id: str, event_id: str, payload: bytes, now: datetime) -> int:
        at = encode_time(now)
        row = await self._fetch(queries.QUEUE_WEBHOOK_TEST, (endpoint_id, event_id, "webhook.test", payload, at, at))
        return int(row[0])

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[ClaimedDelivery]:
        params = (encode_time(lease_until), encode_time(now), limit)

        def work() -> list[Any]:
            with self._repository.transaction(frozenset()) as conn:
                return conn.execute(queries.CLAIM_WEBHOOK_DELIVERIES_SQLITE, params).fetchall()

        return [_claimed(row, parse_time) for row in await self._repository.in_writer(work)]

    async def finish(self, delivery: ClaimedDelivery, finished: Finished) -> tuple[bool, bool]:
        a = finished.attempt
        update = (finished.status.value, _time(finished.next_at), a.status_code, delivery.id, delivery.claim)
        log = (
            delivery.endpoint_id,
            delivery.id,
            a.event_id,
            encode_time(a.at),
            a.outcome.value,
            a.status_code,
            a.duration_ms,
        )

        def work() -> tuple[bool, bool]:
            with self._repository.transaction(frozenset()) as conn:
                if not conn.execute(queries.FINISH_WEBHOOK_DELIVERY, update).rowcount:
                    return False, False
                conn.execute(queries.INSERT_WEBHOOK_ATTEMPT, log)
                if finished.disable_reason is None:
                    return True, False
                disable = (finished.disable_reason, delivery.endpoint_id)
                return True, conn.execute(queries.DISABLE_WEBHOOK, disable).rowcount > 0

        return await self._repository.in_writer(work)

    async def redeliver(self, delivery_id: int, now: datetime) -> str | None:
        row = await self._fetch(queries.REDELIVER_WEBHOOK, (encode_time(now), encode_time(now), delivery_id))
        return None if row is None else str(row[0])

    async def delivery(self, delivery_id: int) -> Delivery | None:
        row = self._repository.read_one(queries.WEBHOOK_DELIVERY, (delivery_id,))
        return None if row is None else _delivery(row, parse_time)

    async def deliveries(self, endpoint_id: str, limit: int) -> list[Delivery]:
        rows = self._repository.read_all(queries.WEBHOOK_DELIVERIES, (endpoint_id, limit))
        return [_delivery(row, parse_time) for row in rows]

    async def attempts(self, endpoint_id: str, limit: int) -> list[Attempt]:
        rows = self._repository.read_all(queries.WEBHOOK_ATTEMPTS, (endpoint_id, limit))
        return [_attempt(row, parse_time) for row in rows]

    async def prune(self, before: datetime, batch_size: int = 1000) -> int:
        removed = 0
        for statement in (queries.PRUNE_WEBHOOK_DELIVERIES, queries.PRUNE_WEBHOOK_ATTEMPTS):
            while True:
                count = await self._count(statement, (encode_time(before), batch_size))
                removed += count
                if count < batch_size:
                    break
        return removed

    async def lead(self) -> bool:
        # A file lock held while this process lives: the kernel lets it go when the process dies, however it dies.
        if self._lead >= 0:
            return True
        lock = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            return False
        self._lead = lock
        return True

    async def close(self) -> None:
        if self._lead >= 0:
            os.close(self._lead)
            self._lead = -1

    async def _write(self, sql: str, params: Any) -> None:
        await self._count(sql, params)

    async def _count(self, sql: str, params: Any) -> int:
        def work() -> int:
            with self._repository.transaction(frozenset()) as conn:
                return int(conn.execute(sql, params).rowcount)

        return await self._repository.in_writer(work)

    async def _fetch(self, sql: str, params: Any) -> Any:
        def work() -> Any:
            with self._repository.transaction(frozenset()) as conn:
                return conn.execute(sql, params).fetchone()

        return await self._repository.in_writer(work)


def _same(value: Any) -> Any:
    return value


_INSERT_WEBHOOK_ENDPOINT = queries.numbered(queries.INSERT_WEBHOOK_ENDPOINT)
_WEBHOOK_ENDPOINTS = queries.numbered(queries.WEBHOOK_ENDPOINTS)
_WEBHOOK_ENDPOINT = queries.numbered(queries.WEBHOOK_ENDPOINT)
_SET_WEBHOOK_ENABLED = queries.numbered(queries.SET_WEBHOOK_ENABLED)
_DISABLE_WEBHOOK = queries.numbered(queries.DISABLE_WEBHOOK)
_ROTATE_WEBHOOK_SIGNING = queries.numbered(queries.ROTATE_WEBHOOK_SIGNING)
_DELETE_WEBHOOK_ENDPOINT = queries.numbered(queries.DELETE_WEBHOOK_ENDPOINT)
_DELETE_WEBHOOK_DELIVERIES_OF_ENDPOINT = queries.numbered(queries.DELETE_WEBHOOK_DELIVERIES_OF_ENDPOINT)
_DELETE_WEBHOOK_ATTEMPTS_OF_ENDPOINT = queries.numbered(queries.DELETE_WEBHOOK_ATTEMPTS_OF_ENDPOINT)
_ADVANCE_WEBHOOK_CURSOR = queries.numbered(queries.ADVANCE_WEBHOOK_CURSOR)
_QUEUE_WEBHOOK_DELIVERY = queries.numbered(queries.QUEUE_WEBHOOK_DELIVERY_POSTGRES)
_QUEUE_WEBHOOK_TEST = queries.numbered(queries.QUEUE_WEBHOOK_TEST)
_CLAIM_WEBHOOK_DELIVERIES = queries.numbered(queries.CLAIM_WEBHOOK_DELIVERIES_POSTGRES)
_FINISH_WEBHOOK_DELIVERY = queries.numbered(queries.FINISH_WEBHOOK_DELIVERY)
_INSERT_WEBHOOK_ATTEMPT = queries.numbered(queries.INSERT_WEBHOOK_ATTEMPT)
_REDELIVER_WEBHOOK = queries.numbered(queries.REDELIVER_WEBHOOK)
_WEBHOOK_DELIVERY = queries.numbered(queries.WEBHOOK_DELIVERY)
_WEBHOOK_DELIVERIES = queries.numbered(queries.WEBHOOK_DELIVERIES)
_WEBHOOK_ATTEMPTS = queries.numbered(queries.WEBHOOK_ATTEMPTS)
_LOCK_MENTORS = queries.numbered(queries.LOCK_MENTORS)
_PRUNE_WEBHOOK_DELIVERIES = queries.numbered(queries.PRUNE_WEBHOOK_DELIVERIES)
_PRUNE_WEBHOOK_ATTEMPTS = queries.numbered(queries.PRUNE_WEBHOOK_ATTEMPTS)


class PostgresWebhookStore:
    """WebhookStore on the PostgreSQL repository's pool; claims skip rows another worker is claiming."""

    def __init__(self, repository: PostgresRepository) -> None:
        self._repository = repository

    async def add_endpoint(self, record: EndpointRecord) -> None:
        e = record.endpoint
        async with self._repository.connection() as conn:
            await conn.execute(
                _INSERT_WEBHOOK_ENDPOINT, e.id, e.url, e.types, e.enabled, e.created_at, e.disabled_reason,
                record.secret, record.previous_secret, record.previous_until, record.cursor,
            )  # fmt: skip

    async def endpoints(self) -> list[EndpointRecord]:
        async with self._repository.connection() as conn:
            return [_record(row, _same) for row in await conn.fetch(_WEBHOOK_ENDPOINTS)]

    async def endpoint(self, endpoint_id: str) -> EndpointRecord | None:
        async with self._repository.connection() as conn:
            row = await conn.fetchrow(_WEBHOOK_ENDPOINT, endpoint_id)
        return None if row is None else _record(row, _same)

    async def set_enabled(self, endpoint_id: str, enabled: bool, reason: str | None) -> bool:
        async with self._repository.connection() as conn:
            return _count(await conn.execute(_SET_WEBHOOK_ENABLED, enabled, reason, endpoint_id)) > 0

    async def rotate_secret(self, endpoint_id: str, secret: str, previous_until: datetime) -> bool:
        async with self._repository.connection() as conn:
            return _count(await conn.execute(_ROTATE_WEBHOOK_SIGNING, previous_until, secret, endpoint_id)) > 0

    async def remove_endpoint(self, endpoint_id: str) -> bool:
        async with self._repository.connection() as conn, conn.transaction():
            await conn.execute(_DELETE_WEBHOOK_ATTEMPTS_OF_ENDPOINT, endpoint_id)
            await conn.execute(_DELETE_WEBHOOK_DELIVERIES_OF_ENDPOINT, endpoint_id)
            return _count(await conn.execute(_DELETE_WEBHOOK_ENDPOINT, endpoint_id)) > 0

    async def queue(
        self, endpoint_id: str, cursor: str, moved_to: str, events: Sequence[QueuedEvent], now: datetime
    ) -> bool:
        rows = [
            (endpoint_id, e.event_id, e.event_type, e.mentor_id, e.payload, now, now, str(e.txid), e.row)
            for e in events
        ]
        async with self._repository.connection() as conn, conn.transaction():
            if not _count(await conn.execute(_ADVANCE_WEBHOOK_CURSOR, moved_to, endpoint_id, cursor)):
                return False
            if rows:
                # The mentors' locks, as a change takes them: an erasure either committed before (its events are
                # gone, and nothing is queued) or waits for this transaction and then removes what it queued.
                await conn.execute(_LOCK_MENTORS, sorted({e.mentor_id for e in events}))
                await conn.executemany(_QUEUE_WEBHOOK_DELIVERY, rows)
            return True

    async def queue_test(self, endpoint_id: str, event_id: str, payload: bytes, now: datetime) -> int:
        async with self._repository.connection() as conn:
            return int(
                await conn.fetchval(_QUEUE_WEBHOOK_TEST, endpoint_id, event_id, "webhook.test", payload, now, now)
            )

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[ClaimedDelivery]:
        async with self._repository.connection() as conn:
            rows = await conn.fetch(_CLAIM_WEBHOOK_DELIVERIES, lease_until, now, limit)
        return [_claimed(row, _same) for row in rows]

    async def finish(self, delivery: ClaimedDelivery, finished: Finished) -> tuple[bool, bool]:
        a = finished.attempt
        async with self._repository.connection() as conn, conn.transaction():
            updated = await conn.execute(
                _FINISH_WEBHOOK_DELIVERY,
                finished.status.value,
                finished.next_at,
                a.status_code,
                delivery.id,
                delivery.claim,
            )
            if not _count(updated):
                return False, False
            await conn.execute(
                _INSERT_WEBHOOK_ATTEMPT, delivery.endpoint_id, delivery.id, a.event_id, a.at, a.outcome.value,
                a.status_code, a.duration_ms,
            )  # fmt: skip
            if finished.disable_reason is None:
                return True, False
            return True, _count(await conn.execute(_DISABLE_WEBHOOK, finished.disable_reason, delivery.endpoint_id)) > 0

    async def redeliver(self, delivery_id: int, now: datetime) -> str | None:
        async with self._repository.connection() as conn:
            endpoint_id = await conn.fetchval(_REDELIVER_WEBHOOK, now, now, delivery_id)
        return None if endpoint_id is None else str(endpoint_id)

    async def delivery(self, delivery_id: int) -> Delivery | None:
        async with self._repository.connection() as conn:
            row = await conn.fetchrow(_WEBHOOK_DELIVERY, delivery_id)
        return None if row is None else _delivery(row, _same)

    async def deliveries(self, endpoint_id: str, limit: int) -> list[Delivery]:
        async with self._repository.connection() as conn:
            return [_delivery(row, _same) for row in await conn.fetch(_WEBHOOK_DELIVERIES, endpoint_id, limit)]

    async def attempts(self, endpoint_id: str, limit: int) -> list[Attempt]:
        async with self._repository.connection() as conn:
            return [_attempt(row, _same) for row in await conn.fetch(_WEBHOOK_ATTEMPTS, endpoint_id, limit)]

    async def prune(self, before: datetime, batch_size: int = 1000) -> int:
        removed = 0
        for statement in (_PRUNE_WEBHOOK_DELIVERIES, _PRUNE_WEBHOOK_ATTEMPTS):
            while True:
                async with self._repository.connection() as conn:
                    count = _count(await conn.execute(statement, before, batch_size))
                removed += count
                if count < batch_size:
                    break
        return removed

    async def lead(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def _count(status: str) -> int:
    """The row count of a command's status ("UPDATE 1")."""
    return int(status.rpartition(" ")[2])
