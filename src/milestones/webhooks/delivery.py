"""The delivery loop each `serve` worker runs: queue new events per endpoint, claim due deliveries, send them signed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import msgspec

from milestones.catalog import CatalogVersions
from milestones.domain.events import Position, StoredEvent
from milestones.domain.webhooks import TEST_EVENT, Attempt, ClaimedDelivery, DeliveryStatus, Outcome, RetrySchedule
from milestones.errors import WebhookAddressRefused
from milestones.events.cloudevents import cloud_event
from milestones.ops import metrics
from milestones.ops.logs import event as log_event
from milestones.ops.logs import redacted
from milestones.settings import Settings
from milestones.storage.base import MilestoneRepository
from milestones.storage.webhooks import EndpointRecord, Finished, QueuedEvent
from milestones.webhooks.addresses import resolve, target_of
from milestones.webhooks.signing import SecretBox, signature

Clock = Callable[[], datetime]
# Events read from the outbox per transaction, and transactions per endpoint and round: a backlog bigger than
# that (behind a bulk run) is queued over several rounds, so one endpoint's backlog does not hold up the others.
QUEUE_BATCH = 200
QUEUE_BATCHES_PER_ROUND = 25
_encode = msgspec.json.Encoder().encode


def precise_now() -> datetime:
    return datetime.now(UTC)


def position_text(position: Position) -> str:
    """A feed position as an endpoint's cursor keeps it."""
    return ":".join(map(str, position))


def position_of(text: str) -> Position:
    txid, row, index = (int(part) for part in text.split(":"))
    return (txid, row, index)


def render(event: StoredEvent, source: str, catalogs: CatalogVersions) -> bytes:
    """The body a receiver gets: the event's CloudEvents envelope, as the feed serves it."""
    return _encode(cloud_event(event, source, catalogs))


def test_body(event_id: str, endpoint_id: str, source: str, at: datetime) -> bytes:
    """The body of `webhooks test`: an envelope like every event's, with no milestone behind it."""
    return _encode(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": source,
            "type": TEST_EVENT,
            "time": at.isoformat().replace("+00:00", "Z"),
            "subject": endpoint_id,
            "datacontenttype": "application/json",
            "data": {"endpoint_id": endpoint_id},
        }
    )


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    """How deliveries are made (from the settings)."""

    timeout: float = 10.0
    concurrency: int = 8
    poll: float = 1.0
    allow_private: bool = False
    schedule: RetrySchedule = field(default_factory=RetrySchedule)

    @classmethod
    def of(cls, settings: Settings) -> DeliveryOptions:
        return cls(
            timeout=settings.webhook_timeout_seconds,
            concurrency=settings.webhook_concurrency,
            poll=settings.webhook_poll_seconds,
            allow_private=settings.webhook_allow_private,
            schedule=RetrySchedule(
                base=timedelta(seconds=settings.webhook_retry_base_seconds),
                retry_for=timedelta(hours=settings.webhook_retry_hours),
            ),
        )

    @property
    def lease(self) -> timedelta:
        """How long a claim keeps a delivery from other workers: past the attempt's own timeout, so that an attempt
        still running is never taken over, and short enough that one lost with its worker is soon retried."""
        return timedelta(seconds=self.timeout * 2 + 1)


class DeliveryLoop:
    """Runs in each worker until cancelled. Each round it queues the events each enabled endpoint has not yet had
    (from its cursor in the outbox, in one transaction with the cursor's move: no event is queued twice or lost),
    then claims as many due deliveries as it has room for in flight and sends each in a task of its own. Nothing
    here runs on a request's path: a slow or dead receiver holds one of this loop's slots, never a request."""

    def __init__(
        self,
        repository: MilestoneRepository,
        catalogs: Callable[[], CatalogVersions],
        source: str,
        box: SecretBox,
        options: DeliveryOptions,
        clock: Clock = precise_now,
    ) -> None:
        self._repository = repository
        self._store = repository.webhooks
        # The service's stored catalog versions as they are now: a version published later is read at queueing.
        self._catalogs = catalogs
        self._source = source
        self._box = box
        self._options = options
        self._clock = clock
        self._in_flight: set[asyncio.Task[None]] = set()
        # The requests of those deliveries: the only part a shutdown cuts short. A delivery's statements are never
        # cancelled, as a connection cancelled mid-statement is lost (and asyncpg says so from its callbacks).
        self._sending: set[asyncio.Future[tuple[Outcome, int | None]]] = set()
        self._endpoints: dict[str, EndpointRecord] = {}
        self._client = httpx.AsyncClient(
            timeout=options.timeout,
            follow_redirects=False,  # a redirect could lead to an address the check would refuse
            trust_env=False,
            limits=httpx.Limits(max_connections=options.concurrency, max_keepalive_connections=options.concurrency),
        )
        self._wake = asyncio.Event()
        self._failing = False
        self._stopping = False

    async def run(self) -> None:
        try:
            while not self._stopping:
                try:
                    await self.round()
                    if self._failing:
                        self._failing = False
                        log_event("webhook deliveries resumed")
                except Exception as exc:  # the database may be away for a while: say so once, and go on trying
                    if not self._failing:
                        self._failing = True
                        log_event(
                            "webhook deliveries paused", logging.WARNING, error=redacted(f"{type(exc).__name__}: {exc}")
                        )
                if self._stopping:
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._options.poll)
        finally:
            await self.close()

    def stop(self) -> None:
        """End `run` after the round under way, without cutting a statement short (the database's connections are
        closed next); the requests of deliveries in flight are cancelled (their statements finish), and their claims
        run out for another worker to retry."""
        self._stopping = True
        self._wake.set()

    async def close(self) -> None:
        for sending in list(self._sending):
            sending.cancel()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self._client.aclose()

    async def round(self) -> None:
        """One round: queue new events, then start due deliveries (without waiting for them)."""
        if not await self._store.lead():
            return
        records = await self._store.endpoints()
        self._endpoints = {record.endpoint.id: record for record in records}
        for record in records:
            if record.endpoint.enabled:
                await self._queue(record)
        await self._start_due()

    async def drain(self) -> None:
        """Wait for the deliveries in flight (tests and shutdown)."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def _queue(self, record: EndpointRecord) -> None:
        """Queue the endpoint's new events, a batch per transaction, until none are left (or, behind a bulk run,
        until this round's share is done: the next round goes on from the cursor)."""
        cursor = record.cursor
        for _ in range(QUEUE_BATCHES_PER_ROUND):
            moved = await self._queue_batch(record.endpoint.id, record.endpoint.types, cursor)
            if moved is None:
                return
            cursor, full = moved
            if not full:
                return

    async def _queue_batch(self, endpoint_id: str, types: int, cursor: str) -> tuple[str, bool] | None:
        """One batch: the new cursor and whether the batch was full, or None when nothing moved (no new events, or
        another worker queued them first)."""
        after = position_of(cursor)
        events, resume = await self._repository.events(after, types, None, QUEUE_BATCH)
        if resume == after:
            return None
        queued = [
            QueuedEvent(
                e.id,
                e.type.value,
                e.mentor_id,
                render(e, self._source, self._catalogs()),
                e.position[0],
                e.position[1],
            )
            for e in events
            if e.notify  # `detect --no-notify`: in the feed, not pushed
        ]
        moved_to = position_text(resume)
        if not await self._store.queue(endpoint_id, cursor, moved_to, queued, self._clock()):
            return None
        return moved_to, len(events) == QUEUE_BATCH

    async def _start_due(self) -> None:
        room = self._options.concurrency - len(self._in_flight)
        if room <= 0:
            return
        now = self._clock()
        for delivery in await self._store.claim(now, now + self._options.lease, room):
            task = asyncio.create_task(self._deliver(delivery))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()  # room for another: look again now rather than at the next poll

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        try:
            record = self._endpoints.get(delivery.endpoint_id) or await self._store.endpoint(delivery.endpoint_id)
            if record is None:
                return  # removed meanwhile, with its deliveries
            started = time.perf_counter()
            sending = asyncio.ensure_future(self._send(record, delivery))
            self._sending.add(sending)
            try:
                outcome, status_code = await sending
            finally:
                self._sending.discard(sending)
            duration_ms = round((time.perf_counter() - started) * 1000)
            await self._record(record, delivery, outcome, status_code, duration_ms)
        except asyncio.CancelledError:
            raise  # shutting down: the claim runs out and another round (or worker) retries
        except Exception as exc:
            log_event(
                "webhook delivery failed unexpectedly",
                logging.ERROR,
                delivery_id=delivery.id,
                error=redacted(f"{type(exc).__name__}: {exc}"),
            )

    async def _send(self, record: EndpointRecord, delivery: ClaimedDelivery) -> tuple[Outcome, int | None]:
        """One attempt: the name resolved and every address checked (again: it may resolve elsewhere now), then the
        request sent to the checked address (so that a second lookup cannot lead elsewhere), within the timeout."""
        target = target_of(record.endpoint.url)
        try:
            addresses = await resolve(target, self._options.allow_private)
        except WebhookAddressRefused:
            return Outcome.REFUSED, None
        except OSError:
            return Outcome.UNREACHABLE, None
        now = self._clock()
        signing = [self._box.open(record.secret)]
        if record.previous_secret is not None and record.previous_until is not None and record.previous_until > now:
            signing.append(self._box.open(record.previous_secret))
        named = httpx.URL(record.endpoint.url)
        url = named.copy_with(host=str(addresses[0]))
        headers = {
            "host": named.netloc.decode(),
            "content-type": "application/json",
            "user-agent": "milestones-webhooks",
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature(delivery.message_id, now, delivery.payload, signing),
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            # The client's timeout bounds each phase; this bounds the whole, against a receiver that answers a
            # byte at a time.
            response = await asyncio.wait_for(
                self._client.post(url, content=delivery.payload, headers=headers, extensions=extensions),
                self._options.timeout,
            )
        except (TimeoutError, httpx.TimeoutException):
            return Outcome.TIMEOUT, None
        except httpx.HTTPError:
            return Outcome.UNREACHABLE, None
        if 200 <= response.status_code < 300:
            return Outcome.DELIVERED, response.status_code
        return Outcome.REJECTED, response.status_code

    async def _record(
        self,
        record: EndpointRecord,
        delivery: ClaimedDelivery,
        outcome: Outcome,
        status_code: int | None,
        duration_ms: int,
    ) -> None:
        now = self._clock()
        attempt = Attempt(delivery.id, delivery.event_id, now, outcome, status_code, duration_ms)
        metrics.WEBHOOK_DELIVERIES.labels(outcome.value).inc()
        if outcome is Outcome.DELIVERED:
            await self._store.finish(delivery, Finished(DeliveryStatus.DELIVERED, None, attempt))
            return
        attempts = delivery.attempts + 1
        next_at = self._options.schedule.next_attempt(attempts, delivery.created_at, now, random.random())  # noqa: S311
        if next_at is not None:
            await self._store.finish(delivery, Finished(DeliveryStatus.PENDING, next_at, attempt))
            return
        reason = f"Delivery {delivery.id} failed {attempts} times, the last one {outcome.value}; retries ran out"
        _, disabled = await self._store.finish(delivery, Finished(DeliveryStatus.FAILED, None, attempt, reason))
        if disabled:
            metrics.WEBHOOK_ENDPOINTS_DISABLED.inc()
            log_event(
                "webhook endpoint disabled",
                logging.WARNING,
                endpoint_id=record.endpoint.id,
                delivery_id=delivery.id,
                attempts=attempts,
                last_outcome=outcome.value,
            )
