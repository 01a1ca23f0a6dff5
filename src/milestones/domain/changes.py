"""The change value: everything one write does, who asked for it and why. Storage applies it whole or not at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from milestones.domain.model import Status
from milestones.domain.rows import MentorRow, MilestoneRow, PeriodRow


class ActorKind(StrEnum):
    """The kinds of actor a change can have."""

    KEY = "key"  # a request that presented an access key
    ANONYMOUS = "anonymous"  # a request while the service has no access keys
    CLI = "cli"  # a command (`milestones detect`)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: an access key (by its id), anyone (the service has no keys), or the command line.

    Stored and shown as one text: the key's id (`env:1a2b3c4d`, `db:...`, never a bare word), `anonymous` or `cli`.
    """

    kind: ActorKind
    key_id: str | None = None

    @classmethod
    def of_key(cls, key_id: str) -> Actor:
        return cls(ActorKind.KEY, key_id)

    @classmethod
    def parse(cls, text: str) -> Actor:
        """The actor a stored text names."""
        if text == ActorKind.ANONYMOUS.value:
            return ANONYMOUS
        if text == ActorKind.CLI.value:
            return COMMAND_LINE
        return cls.of_key(text)

    def __str__(self) -> str:
        return self.key_id if self.key_id is not None else self.kind.value


ANONYMOUS = Actor(ActorKind.ANONYMOUS)
COMMAND_LINE = Actor(ActorKind.CLI)


class Cause(StrEnum):
    """Why a change was made."""

    POST = "post"  # a summary was posted (`Change.period` names it)
    PUT = "put"  # a person updated a milestone
    DELETE = "delete"  # a person removed a milestone record
    PERIOD_REMOVED = "period_removed"  # a stored period was removed (`Change.period` names it)
    BULK = "bulk"  # a batch of summaries from `milestones detect` (each step names its line's period)
    ERASURE = "erasure"  # everything about a mentor was removed (the step names them by their salted hash)
    MENTOR_UPDATED = "mentor_updated"  # what is stored about the mentor themselves (their name) changed
    # `milestones reevaluate` applied the latest catalog version to stored rows (no period: nothing was sent)
    REEVALUATION = "reevaluation"
    # Later issues add: revocation.


class TransitionKind(StrEnum):
    """What a change did to one milestone, as the rules decide it.

    History stores the value as text with no check constraint, so adding one needs no migration.
    """

    CREATED = "created"  # a new in-progress record
    PROGRESSED = "progressed"  # its current value moved
    ACHIEVED = "achieved"  # detection achieved it (a new record, or one that was in progress)
    UPDATED = "updated"  # a person's PUT
    DELETED = "deleted"  # a person's DELETE, or a record the rules no longer keep
    REVISED = "revised"  # only the catalog's version of it (its wording, threshold or order) changed
    REVOKED = "revoked"  # taken back: by a person's PUT, or by the rules when a correction lost its threshold
    REINSTATED = "reinstated"  # a person set a revoked milestone to achieved again
    UNSUPPORTED = "unsupported"  # achieved, and a correction took the mentor's value below its threshold
    SUPPORTED = "supported"  # achieved and unsupported, and the mentor's value reaches its threshold again


# Plain strings for the rules' inner loops: an enum member's .value is a property call.
CREATED, PROGRESSED, ACHIEVED, UPDATED, DELETED, REVISED, REVOKED, REINSTATED, UNSUPPORTED, SUPPORTED = (
    kind.value for kind in TransitionKind
)
_ACHIEVED_STATUS = Status.ACHIEVED.value
_REVOKED_STATUS = Status.REVOKED.value


class Transition(NamedTuple):
    """One milestone's transition: its stored row before (None: it did not exist) and after (None: removed)."""

    kind: str  # a TransitionKind value
    before: MilestoneRow | None
    after: MilestoneRow | None

    @property
    def milestone_id(self) -> str:
        row = self.after if self.after is not None else self.before
        assert row is not None
        return row.id

    @property
    def newly_achieved(self) -> bool:
        """Whether this transition achieved the milestone: achieved after, and neither achieved nor revoked
        before (a reinstated milestone was achieved once already). The one place "newly achieved" is decided (the
        metrics, the bulk tally and later events read it here)."""
        after = self.after
        return (
            after is not None
            and after.status == _ACHIEVED_STATUS
            and (self.before is None or self.before.status not in _HELD_BEFORE)
        )


_HELD_BEFORE = frozenset({_ACHIEVED_STATUS, _REVOKED_STATUS})


class Step(NamedTuple):
    """What one request, or one line of a bulk run, did to one mentor's milestones: one history entry."""

    mentor_id: str
    # The period the step's summary recorded or its removal removed, as (start_date, end_date).
    period: tuple[str, str] | None
    transitions: list[Transition]


@dataclass(slots=True)
class Change:
    """One write: the rows it adds, replaces and removes, decided on the stored rows of `mentors`, and what
    it did to each milestone (`steps`).

    What was read is `mentors`' rows: the write path reads them (or checks that they are still as they were
    read) in the transaction that applies the change, with those mentors locked, so the change always
    follows from the rows it replaces. Every write of the service is one of these, applied by one function
    per database from the tables declared in `storage.write_path` (the rows, and the history of the steps).
    """

    cause: Cause
    actor: Actor
    mentors: list[str]
    # When it was decided, as rows encode times (`rows.encode_time`).
    at: str = ""
    # The id the front door gave the request (X-Request-ID) when the change came over HTTP.
    request_id: str | None = None
    # The catalog version the change was decided under: storage refuses the change if a newer one was published
    # before it commits (then it is decided again). None for changes that use no catalog (PUT, DELETE, erasure).
    catalog_version: str | None = None
    # The period a POST recorded or a removal removed, as (start_date, end_date).
    period: tuple[str, str] | None = None
    periods_written: list[PeriodRow] = field(default_factory=list)
    periods_removed: list[PeriodRow] = field(default_factory=list)
    milestones_written: list[MilestoneRow] = field(default_factory=list)
    milestones_removed: list[str] = field(default_factory=list)
    # The mentors' own rows (their names), latest winning. Not counted in `writes_anything`: a summary posted again
    # with its name changes nothing that the answer's 200 or 201 speaks of.
    mentors_written: list[MentorRow] = field(default_factory=list)
    # Mentors whose every stored row, in every table that holds mentor data, the change removes (erasure).
    mentors_erased: list[str] = field(default_factory=list)
    # In order: one step per request or bulk line that changed a milestone.
    steps: list[Step] = field(default_factory=list)
    # Whether push delivery (webhooks) tells anyone of the change's events: `milestones detect --no-notify` and
    # re-evaluations can record theirs quietly, so that a backfill floods nobody. The feed shows them all.
    notify: bool = True
    # Bulk lines refused (line number, reason); nothing of theirs is written.
    refused: list[tuple[int, str]] = field(default_factory=list)
    # Rows of write-path tables worked out ahead from the steps, by table: bulk detection works them out in
    # its second process and sends them instead of the steps (storage.write_path.prepared).
    prepared: dict[str, list[tuple[Any, ...]]] | None = None
    # What the change adds to the mentor counts (rarity), as (counted, slot, delta) rows: worked out by the write
    # path from the rows written and removed against the stored rows the change was decided on (None until then).
    counted: list[tuple[str, int, int]] | None = None

    @property
    def writes_anything(self) -> bool:
        return bool(
            self.periods_written
            or self.periods_removed
            or self.milestones_written
            or self.milestones_removed
            or self.mentors_erased
        )

    @property
    def transitions(self) -> list[Transition]:
        """Every transition of the change, in order."""
        return [transition for step in self.steps for transition in step.transitions]

    def milestones_moved(self, kind: str) -> list[str]:
        """The ids of the milestones this change gave a transition of `kind` (a TransitionKind value), in order."""
        return [t.milestone_id for step in self.steps for t in step.transitions if t.kind == kind]

    def newly_achieved(self) -> list[MilestoneRow]:
        """The rows of the milestones this change achieved (see `Transition.newly_achieved`)."""
        return [t.after for step in self.steps for t in step.transitions if t.newly_achieved and t.after is not None]


def transition_kind(before: MilestoneRow | None, after: MilestoneRow) -> str:
    """What detection did to a milestone whose row went from `before` to `after` (which differ)."""
    if after.status == _ACHIEVED_STATUS and (before is None or before.status != _ACHIEVED_STATUS):
        return ACHIEVED
    if before is None:
        return CREATED
    if after.status == _REVOKED_STATUS and before.status != _REVOKED_STATUS:
        return REVOKED
    if after.supported != before.supported:
        return SUPPORTED if after.supported else UNSUPPORTED
    if after.current_centi != before.current_centi:
        return PROGRESSED
    return REVISED
