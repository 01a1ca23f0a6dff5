"""Use cases: each loads what it needs from the repository, applies the domain rules, and stores the result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial

from milestones import domain
from milestones.domain import Definition, MentorState, Milestone, MilestoneUpdate, Period, Status
from milestones.errors import MilestoneNotFound, PeriodOverlap
from milestones.row_detection import RowCatalog, detect_batch, period_row
from milestones.storage import MilestoneQuery, MilestoneRepository
from milestones.storage.base import encode_time

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """A page request: 1-based page number and page size."""

    page: int = 1
    limit: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def after_day(day: date) -> datetime | None:
    """The first instant after an inclusive end date; None past the calendar's end."""
    return None if day == date.max else start_of_day(day + timedelta(days=1))


@dataclass(frozen=True, slots=True)
class Listing:
    """A window of a listing: its items, the number of matches (None when not counted), the resume point."""

    items: list[Milestone]
    total: int | None
    next_after: str | None = None


class MilestoneService:
    """What the API can do, independent of HTTP."""

    def __init__(self, repository: MilestoneRepository, catalog: Sequence[Definition], clock: Clock = utc_now):
        self.repository = repository
        self.catalog = tuple(catalog)
        self.definitions = {d.key: d for d in self.catalog}
        self._rungs = RowCatalog(self.catalog)
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    async def record_summary(self, mentor_id: str, period: Period) -> tuple[list[Milestone], bool]:
        """Store the period's summary, re-evaluate the mentor, and say whether anything changed.

        The hottest write: it runs the domain's rules on rows (`row_detection`), as bulk detection does.
        """
        line = (0, period_row(mentor_id, period))
        change = partial(detect_batch, [line], catalog=self._rungs, now=encode_time(self._clock()))
        milestones, diff = await self.repository.change_mentor_rows(mentor_id, change)
        if diff.rejected:
            raise PeriodOverlap(diff.rejected[0][1])
        return milestones, bool(diff.upsert_periods or diff.upsert_milestones or diff.delete_milestones)

    async def remove_period(self, mentor_id: str, start_date: date, end_date: date) -> None:
        now = self._clock()

        def change(state: MentorState) -> MentorState:
            return domain.detect_milestones(domain.remove_period(state, start_date, end_date), self.catalog, now)

        await self.repository.change_mentor(mentor_id, change)

    async def periods(self, mentor_id: str) -> list[Period]:
        return await self.repository.periods(mentor_id)

    async def get(self, milestone_id: str) -> Milestone:
        milestone = await self.repository.get(milestone_id)
        if milestone is None:
            raise MilestoneNotFound(milestone_id)
        return milestone

    async def find(self, query: MilestoneQuery) -> Listing:
        """A window of milestones; id-ordered listings also say where the next window starts."""
        if query.mentor_id is not None and query.after_id is None:
            items, total = await self.repository.find(query)
            return Listing(items, total)
        # One row more than asked tells whether another page exists, without counting.
        items, total = await self.repository.find(replace(query, limit=query.limit + 1))
        more = len(items) > query.limit
        items = items[: query.limit]
        return Listing(items, total, next_after=items[-1].id if more else None)

    async def update(
        self, milestone_id: str, update: MilestoneUpdate, if_match: frozenset[str] | None = None
    ) -> Milestone:
        """Apply a person's update; with if_match, only to the version the person saw."""
        mentor_id = (await self.get(milestone_id)).mentor_id
        now = self._clock()

        def change(state: MentorState) -> MentorState:
            # Checked inside the mentor's transaction, so no other write can slip in between.
            domain.require_version(domain.find_milestone(state, milestone_id), if_match)
            return domain.update_milestone(state, milestone_id, update, now)

        state, _ = await self.repository.change_mentor(mentor_id, change)
        return domain.find_milestone(state, milestone_id)

    async def delete(self, milestone_id: str, if_match: frozenset[str] | None = None) -> None:
        mentor_id = (await self.get(milestone_id)).mentor_id

        def change(state: MentorState) -> MentorState:
            domain.require_version(domain.find_milestone(state, milestone_id), if_match)
            return domain.delete_milestone(state, milestone_id)

        await self.repository.change_mentor(mentor_id, change)

    async def newly_achieved(
        self, mentor_id: str, first_day: date | None, last_day: date | None, window: Window
    ) -> tuple[list[Milestone], int]:
        """Milestones achieved between two inclusive dates (UTC); by default in the current calendar year."""
        if first_day is None or last_day is None:
            year = self._clock().year
            first_day, last_day = date(year, 1, 1), date(year, 12, 31)
        query = MilestoneQuery(
            mentor_id=mentor_id,
            status=Status.ACHIEVED,
            achieved_from=start_of_day(first_day),
            achieved_before=after_day(last_day),
            offset=window.offset,
            limit=window.limit,
        )
        items, total = await self.repository.find(query)
        return items, total or 0

    async def in_progress(self, mentor_id: str, window: Window) -> tuple[list[Milestone], int]:
        """In-progress milestones, closest to completion first."""
        # A mentor has at most one in-progress record per catalog entry, so sorting here stays cheap.
        ordered = domain.in_progress_order(await self.repository.mentor_milestones(mentor_id, Status.IN_PROGRESS))
        return ordered[window.offset : window.offset + window.limit], len(ordered)

    async def readiness_problem(self, expected_revision: str | None) -> str | None:
        """Why the service cannot serve requests, or None when the database is up and migrated."""
        try:
            revision = await self.repository.schema_revision()
        except Exception as exc:  # readiness reports any failure rather than raising it
            return f"The database did not answer: {type(exc).__name__}"
        if revision != expected_revision:
            return f"The database schema is at {revision!r}, the code expects {expected_revision!r}."
        return None
