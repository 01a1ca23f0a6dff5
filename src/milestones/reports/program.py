"""The coordinators' milestone report: per definition the mentors who achieved it and those on their way, and the
mentors who have stalled (their latest period ended a while ago, a rung still in progress)."""

from __future__ import annotations

from dataclasses import dataclass

from milestones.domain import Status
from milestones.domain.rows import WITH_PERIOD, StalledMentor, counted_status
from milestones.service import MilestoneService

# Mentorloop flags a mentee who has not logged anything for three weeks; the same default here.
DEFAULT_STALLED_DAYS = 21
_ACHIEVED, _IN_PROGRESS = Status.ACHIEVED.value, Status.IN_PROGRESS.value


@dataclass(frozen=True, slots=True)
class DefinitionCounts:
    """One definition's line of the report."""

    key: str
    achieved: int
    in_progress: int


@dataclass(frozen=True, slots=True)
class MilestoneReport:
    """The report: every definition of the served catalog, in catalog order, and a page of stalled mentors."""

    catalog_version: str
    stalled_days: int
    mentors_with_period: int
    definitions: list[DefinitionCounts]
    stalled: list[StalledMentor]
    # The id the next page of stalled mentors starts after; None on the last page.
    next_after: str | None


async def milestone_report(service: MilestoneService, stalled_days: int, after: str, limit: int) -> MilestoneReport:
    """The report, its numbers read from the counts the write path keeps, its stalled mentors a page at a time."""
    catalog = service.catalogs.latest
    counts = await service.mentor_counts()
    # One more than the page: whether another follows.
    found = await service.stalled_mentors(stalled_days, after, limit + 1)
    order = {definition.key: index for index, definition in enumerate(catalog.definitions)}
    stalled = [
        mentor._replace(in_progress=sorted(mentor.in_progress, key=lambda key: (order.get(key, len(order)), key)))
        for mentor in found[:limit]
    ]
    return MilestoneReport(
        catalog.version,
        stalled_days,
        counts.get(WITH_PERIOD, 0),
        [
            DefinitionCounts(
                d.key,
                counts.get(counted_status(_ACHIEVED, d.key), 0),
                counts.get(counted_status(_IN_PROGRESS, d.key), 0),
            )
            for d in catalog.definitions
        ],
        stalled,
        stalled[-1].mentor_id if len(found) > limit else None,
    )
