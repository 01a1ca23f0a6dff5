"""The change value: everything one write does, who asked for it and why. Storage applies it whole or not at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from milestones.domain.rows import MilestoneRow, PeriodRow

# The actor of a change made over HTTP while the service has no access keys.
ANONYMOUS = "anonymous"
# The actor of a change made by a command (`milestones detect`).
COMMAND_LINE = "cli"


class Cause(StrEnum):
    """Why a change was made."""

    POST = "post"  # a summary was posted (`Change.period` names it)
    PUT = "put"  # a person updated a milestone
    DELETE = "delete"  # a person removed a milestone record
    PERIOD_REMOVED = "period_removed"  # a stored period was removed (`Change.period` names it)
    BULK = "bulk"  # a batch of summaries from `milestones detect`


@dataclass(slots=True)
class Change:
    """One write: the rows it adds, replaces and removes, decided on the stored rows of `mentors`.

    What was read is `mentors`' rows: the write path reads them (or checks that they are still as they were
    read) in the transaction that applies the change, with those mentors locked, so the change always
    follows from the rows it replaces. Every write of the service is one of these, applied by one function
    per database (`storage`); an audit entry or an outbox event belongs there, next to the rows.
    """

    cause: Cause
    actor: str
    mentors: list[str]
    # The period a POST recorded or a removal removed, as (start_date, end_date).
    period: tuple[str, str] | None = None
    periods_written: list[PeriodRow] = field(default_factory=list)
    periods_removed: list[PeriodRow] = field(default_factory=list)
    milestones_written: list[MilestoneRow] = field(default_factory=list)
    milestones_removed: list[str] = field(default_factory=list)
    # Bulk lines refused (line number, reason); nothing of theirs is written.
    refused: list[tuple[int, str]] = field(default_factory=list)

    @property
    def writes_anything(self) -> bool:
        return bool(self.periods_written or self.periods_removed or self.milestones_written or self.milestones_removed)
