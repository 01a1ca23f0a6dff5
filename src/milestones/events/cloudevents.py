"""An outbox event as a platform receives it: a CloudEvents 1.0 JSON envelope, its `data` rendered when read."""

from __future__ import annotations

from collections.abc import Mapping

from milestones.contract import EventDataOut, EventOut
from milestones.domain import ID_SEPARATOR, Definition, Milestone, mentor_of
from milestones.domain.events import EventType, StoredEvent
from milestones.domain.history import MilestoneState
from milestones.events.milestones import milestone_out

# The `source` of every event when MILESTONES_PUBLIC_URL is not set: a URI reference, as CloudEvents allows.
DEFAULT_SOURCE = "/milestones"


def event_source(public_url: str | None) -> str:
    return DEFAULT_SOURCE if not public_url else public_url.rstrip("/")


def cloud_event(event: StoredEvent, source: str, definitions: Mapping[str, Definition]) -> EventOut:
    """The event's envelope and data. The milestone is shaped from the stored state the transition left (or, when
    it was deleted, had), and the catalog's definition of its key for what the state does not hold (name, type)."""
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
        definition = definitions.get(subject.partition(ID_SEPARATOR)[2])
        if state is not None and definition is not None:
            data.milestone = milestone_out(_milestone(subject, state, definition))
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


def _milestone(milestone_id: str, state: MilestoneState, definition: Definition) -> Milestone:
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
        achieved_at_precision=state.achieved_at_precision,
        value_is_upper_bound=state.value_is_upper_bound,
    )
