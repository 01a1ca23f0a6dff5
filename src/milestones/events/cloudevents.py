"""An outbox event as a platform receives it: a CloudEvents 1.0 JSON envelope, its `data` rendered when read."""

from __future__ import annotations

from milestones.catalog import CatalogVersions
from milestones.contract import EventDataOut, EventOut
from milestones.domain import ID_SEPARATOR, Definition, Milestone, mentor_of
from milestones.domain.events import EventType, StoredEvent
from milestones.domain.history import MilestoneState
from milestones.events.milestones import milestone_out
from milestones.wording.languages import ENGLISH

# The `source` of every event when MILESTONES_PUBLIC_URL is not set: a URI reference, as CloudEvents allows.
DEFAULT_SOURCE = "/milestones"


def event_source(public_url: str | None) -> str:
    return DEFAULT_SOURCE if not public_url else public_url.rstrip("/")


def cloud_event(event: StoredEvent, source: str, catalogs: CatalogVersions) -> EventOut:
    """The event's envelope and data. The milestone is shaped from the stored state the transition left (or, when
    it was deleted, had), and for what the state does not hold (name, type) the definition of its key in the
    catalog version the change was decided under (or the newest that defines it: a retired rung)."""
    data = EventDataOut(cause=event.cause.value, actor=str(event.actor), notify=event.notify)
    if event.request_id is not None:
        data.request_id = event.request_id
    if event.catalog_version is not None:
        data.catalog_version = event.catalog_version
    transition = event.transition
    if event.type is EventType.MENTOR_ERASED or transition is None:
        data.mentor_hash = subject = event.mentor_id
    else:
        subject = transition.milestone_id
        data.milestone_id, data.mentor_id, data.transition = subject, event.mentor_id, transition.kind.value
        state = transition.after if transition.after is not None else transition.before
        definition = catalogs.definition(event.catalog_version, subject.partition(ID_SEPARATOR)[2])
        if state is not None and definition is not None:
            data.milestone = milestone_out(
                _milestone(subject, state, definition, event.catalog_version), ENGLISH, catalogs
            )
    return EventOut(
        specversion="1.0",
        id=event.id,
        source=source,
        type=event.type.value,
        time=event.at,
        subject=subject,
        datacontenttype="application/json",
        data=data,
    )


def _milestone(milestone_id: str, state: MilestoneState, definition: Definition, version: str | None) -> Milestone:
    mentor_id = mentor_of(milestone_id)
    assert mentor_id is not None
    return Milestone(
        id=milestone_id,
        mentor_id=mentor_id,
        definition_key=definition.key,
        name=definition.name,
        type=definition.type,
        threshold=state.threshold,
        position=definition.position,
        status=state.status,
        current_value=state.current_value,
        achieved_value=state.achieved_value,
        achieved_at=state.achieved_at,
        set_by_person=state.set_by_person,
        catalog_version=version or "",
        achieved_at_precision=state.achieved_at_precision,
        value_is_upper_bound=state.value_is_upper_bound,
        revoked_at=state.revoked_at,
        revocation_reason=state.revocation_reason,
        supported=state.supported is not False,
    )
