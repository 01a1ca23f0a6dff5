"""Events: which transitions make which event, and events as the outbox holds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from milestones.domain.changes import Actor, Cause
from milestones.domain.history import RecordedTransition


class EventType(StrEnum):
    """The kinds of event a platform can follow."""

    MILESTONE_ACHIEVED = "milestone.achieved"
    MILESTONE_PROGRESSED = "milestone.progressed"
    MILESTONE_UPDATED = "milestone.updated"
    MILESTONE_DELETED = "milestone.deleted"
    MILESTONE_REVOKED = "milestone.revoked"
    MILESTONE_REINSTATED = "milestone.reinstated"
    MENTOR_ERASED = "mentor.erased"


# Each type's bit: an outbox row (one per step) stores the set of types its events have, so a feed filtered by
# type skips rows in the database. Bits are stored: never renumber one.
TYPE_BITS: dict[EventType, int] = {kind: 1 << number for number, kind in enumerate(EventType)}
ALL_TYPES = sum(TYPE_BITS.values())

# The one place a transition's kind becomes an event. `revised` (only the catalog's wording, threshold or order
# moved) and a lost threshold's `unsupported`/`supported` make none: the catalog's own version tells of the first.
# `revoked` and `reinstated` come with revocation.
EVENT_OF_KIND: dict[str, EventType] = {
    "created": EventType.MILESTONE_PROGRESSED,
    "progressed": EventType.MILESTONE_PROGRESSED,
    "achieved": EventType.MILESTONE_ACHIEVED,
    "updated": EventType.MILESTONE_UPDATED,
    "deleted": EventType.MILESTONE_DELETED,
    "revoked": EventType.MILESTONE_REVOKED,
    "reinstated": EventType.MILESTONE_REINSTATED,
}
KIND_BITS: dict[str, int] = {kind: TYPE_BITS[event] for kind, event in EVENT_OF_KIND.items()}


def types_mask(types: frozenset[EventType]) -> int:
    return sum(TYPE_BITS[kind] for kind in types)


# A place in the feed: (transaction, outbox row, index of the event in the row). The transaction is PostgreSQL's
# 64-bit transaction id (0 on SQLite, where one writer at a time makes row order commit order).
Position = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as the outbox holds it: a transition (or an erasure) with its change's who, why and when."""

    position: Position
    type: EventType
    mentor_id: str  # the mentor; for mentor.erased, their salted hash
    at: datetime
    actor: Actor
    request_id: str | None
    cause: Cause
    catalog_version: str | None
    notify: bool
    transition: RecordedTransition | None  # None for mentor.erased

    @property
    def id(self) -> str:
        """The event's id, unique in this service: its outbox row and its index in it."""
        return f"{self.position[1]}-{self.position[2]}"


@dataclass(frozen=True, slots=True)
class EventWindow:
    """A page of the feed and where to resume: after the last event, or at the horizon when the page ran short."""

    events: list[StoredEvent]
    resume: Position
    resume_at: datetime
