"""Webhooks as plain data: endpoints, deliveries and their attempts, and the retry schedule (pure: time passed in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from milestones.domain.events import ALL_TYPES, TYPE_BITS, EventType

# Sent by `webhooks test`: no outbox event stands behind it, so it has no type bit.
TEST_EVENT = "webhook.test"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at `next_at` (or claimed by a worker until then)
    DELIVERED = "delivered"
    FAILED = "failed"  # its retry schedule ran out: the endpoint was disabled


class Outcome(StrEnum):
    """What one attempt came to."""

    DELIVERED = "delivered"  # a 2xx answer
    REJECTED = "rejected"  # any other answer
    TIMEOUT = "timeout"  # no whole answer within MILESTONES_WEBHOOK_TIMEOUT_SECONDS
    UNREACHABLE = "unreachable"  # the name did not resolve, or the connection failed
    REFUSED = "refused"  # the name resolved to an address deliveries may not reach


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A receiver of events. `types` is the set of event types it wants, as the outbox's bits."""

    id: str
    url: str
    types: int
    enabled: bool
    created_at: datetime
    disabled_reason: str | None = None

    @property
    def type_names(self) -> list[str]:
        """Its event types, or an empty list when it takes them all."""
        if self.types == ALL_TYPES:
            return []
        return [kind.value for kind, bit in TYPE_BITS.items() if self.types & bit]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event on its way to one endpoint; its id is the `webhook-id` of every attempt."""

    id: int
    endpoint_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_at: datetime | None
    last_status_code: int | None

    @property
    def message_id(self) -> str:
        return message_id(self.id)


def message_id(delivery_id: int) -> str:
    """The `webhook-id` header: the same on every retry and redelivery, so receivers can drop repeats."""
    return f"msg_{delivery_id}"


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A due delivery a worker claimed: its lease (`claim`) and what it sends."""

    id: int
    endpoint_id: str
    event_id: str
    payload: bytes
    attempts: int
    created_at: datetime
    claim: int

    @property
    def message_id(self) -> str:
        return message_id(self.id)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at a delivery, as the log keeps it: no payload, no headers."""

    delivery_id: int
    event_id: str
    at: datetime
    outcome: Outcome
    status_code: int | None
    duration_ms: int


def parse_types(names: list[str]) -> int:
    """The bits of event type names; no names means every type. Raises ValueError naming an unknown one."""
    if not names:
        return ALL_TYPES
    known = {kind.value: kind for kind in EventType}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r}; the types are {', '.join(known)}")
    return sum({TYPE_BITS[known[name]] for name in names})


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Exponential backoff with jitter: the n-th retry waits `base * factor**(n-1)` (at most `cap`), times a
    random factor in [1 - jitter, 1 + jitter] so that many receivers failing at once do not come back at once.
    Retries go on while less than `retry_for` has passed since the delivery began: the last one lands at or
    after it (24 hours by default, as the Standard Webhooks specification suggests at least)."""

    base: timedelta = timedelta(seconds=5)
    factor: float = 4.0
    cap: timedelta = timedelta(hours=6)
    jitter: float = 0.2
    retry_for: timedelta = timedelta(hours=24)

    def next_attempt(self, attempts: int, began: datetime, now: datetime, random: float) -> datetime | None:
        """When to try again after `attempts` failed tries (`random` uniform in [0, 1)), or None when the
        schedule is exhausted."""
        if now - began >= self.retry_for:
            return None
        wait = min(self.base * self.factor ** (attempts - 1), self.cap)
        return now + wait * (1 - self.jitter + 2 * self.jitter * random)
