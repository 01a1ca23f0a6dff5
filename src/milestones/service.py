"""Use cases: each reads what it needs, lets the domain rules decide any write, and has storage apply it."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from milestones.access.keys import AccessKey, KeyRing, Scope, digest_of, key_id, new_secret
from milestones.catalog import CatalogVersion, CatalogVersions, catalog_of
from milestones.credentials.issuing import Credentials
from milestones.domain import (
    Definition,
    LostThreshold,
    Milestone,
    MilestoneQuery,
    MilestoneUpdate,
    Period,
    Status,
    future_start,
    in_progress_order,
    mentor_of,
    rules,
)
from milestones.domain.changes import ANONYMOUS, REVOKED, UNSUPPORTED, Actor, Cause, Change
from milestones.domain.erasure import erase_mentor, mentor_hash
from milestones.domain.events import ALL_TYPES, EventType, EventWindow, Position, types_mask
from milestones.domain.explanation import Explanation, estimated_completion, explain, pace
from milestones.domain.history import HistoryItem, RecordedTransition, recorded
from milestones.domain.rows import (
    IdempotencyRecord,
    Replaceable,
    StalledMentor,
    encode_time,
    milestone_from_row,
    period_to_row,
    to_centi,
)
from milestones.errors import (
    CatalogMoved,
    CursorExpired,
    DatabaseUnavailable,
    InvalidUpdate,
    MilestoneNotFound,
    PeriodOverlap,
)
from milestones.events.cloudevents import event_source
from milestones.ops import metrics
from milestones.ops.logs import REQUEST_ID, event
from milestones.settings import Settings
from milestones.storage import MilestoneRepository, head_revision, open_repository
from milestones.storage.base import Applied, Decide
from milestones.webhooks.delivery import DeliveryLoop, DeliveryOptions
from milestones.webhooks.endpoints import Webhooks
from milestones.webhooks.signing import SecretBox

# The web layer's idempotency middleware works with these through the service, never storage itself.
__all__ = ["IdempotencyRecord", "MilestoneService", "Replaceable"]

Clock = Callable[[], datetime]
PRUNE_EVERY_SECONDS = 3600
# A write decided under a version published over meanwhile is decided again; a catalog that keeps moving
# under a write this often is answered 503.
DECISION_ATTEMPTS = 3


def utc_now() -> datetime:
    """The time in whole seconds, as every stored time is."""
    return datetime.now(UTC).replace(microsecond=0)


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


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a summary posted or a period removed did: the mentor's milestones afterwards (revoked ones left out),
    whether anything stored changed, and the achieved milestones whose threshold the change took the mentor's
    value below: left `unsupported`, or `revoked` (MILESTONES_ON_LOST_THRESHOLD)."""

    milestones: list[Milestone]
    changed: bool
    unsupported: list[str]
    revoked: list[str]

    @classmethod
    def of(cls, milestones: list[Milestone], change: Change) -> Recorded:
        return cls(
            [m for m in milestones if m.status is not Status.REVOKED],
            change.writes_anything,
            change.milestones_moved(UNSUPPORTED),
            change.milestones_moved(REVOKED),
        )


@dataclass(frozen=True, slots=True)
class Erasure:
    """What erasing a mentor did: the hash that now names them, when, and the rows removed from each table."""

    mentor_hash: str
    at: datetime
    removed: dict[str, int]


@dataclass(frozen=True, slots=True)
class Published:
    """What publishing a catalog did: the version stored (or found stored already), and whether it is new."""

    catalog: CatalogVersion
    new: bool
    # Why nothing was published (then `catalog` is the stored version that holds these definitions or this name).
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class InProgress:
    """A window of a mentor's in-progress milestones, their number, and each one's estimated completion by id
    (only where there is one: `domain.explanation.estimated_completion`)."""

    items: list[Milestone]
    total: int
    estimates: dict[str, date]


@dataclass(frozen=True, slots=True)
class MilestoneEvidence:
    """What a milestone is made of: its value taken apart, its estimate, and the PUT that set it (if kept)."""

    milestone: Milestone
    explanation: Explanation
    estimate: date | None
    set_by: HistoryItem | None


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    """A window of history and, when more follows, the position to resume after."""

    items: list[HistoryItem]
    next_after: tuple[int, int] | None


class MilestoneService:
    """What the API can do, independent of HTTP. Each write is decided by `domain.rules` and applied through
    the repository's one write path, `change`."""

    def __init__(
        self,
        repository: MilestoneRepository,
        catalog: Sequence[Definition] | CatalogVersion,
        clock: Clock = utc_now,
        expected_revision: str | None = None,
        erasure_salt: str | None = None,
        event_retention_days: int = 30,
        *,
        secret_key: str | None = None,
        public_url: str | None = None,
        webhook_allow_private: bool = False,
        on_lost_threshold: LostThreshold = LostThreshold.KEEP,
        settings: Settings | None = None,
    ):
        self.repository = repository
        self.on_lost_threshold = on_lost_threshold
        # The configured catalog stands in until the stored versions are read (`reload_catalogs`), and is
        # published as the first version when the database has none.
        self.configured = catalog if isinstance(catalog, CatalogVersion) else catalog_of(catalog)
        self._use(CatalogVersions([self.configured]), stored_up_to=0)
        self.expected_revision = expected_revision
        self._clock = clock
        # The configured salt, or (once read) the one stored in the database.
        self._erasure_salt = erasure_salt
        self.event_retention_days = event_retention_days
        self.event_source = event_source(public_url)
        self._secret_box = SecretBox(secret_key)
        self.webhooks = Webhooks(repository, self._secret_box, self.event_source, allow_private=webhook_allow_private)
        # Without settings (a service made in code) credentials answer that their issuer is not configured.
        self.credentials = Credentials(repository, settings or Settings.model_construct(), self.now)

    @classmethod
    async def open(
        cls, settings: Settings, catalog: Sequence[Definition] | CatalogVersion, clock: Clock = utc_now
    ) -> MilestoneService:
        """The service on the configured database, expecting its schema at the newest migration, serving the
        latest stored catalog version (`catalog`, the configured one, only when none is stored)."""
        service = cls(
            await open_repository(settings),
            catalog,
            clock,
            head_revision(),
            settings.erasure_salt,
            settings.event_retention_days,
            secret_key=settings.secret_key,
            public_url=settings.public_url,
            webhook_allow_private=settings.webhook_allow_private,
            on_lost_threshold=settings.on_lost_threshold,
            settings=settings,
        )
        try:
            # A schema not yet migrated has no stored versions: the configured catalog stands in, and readiness
            # says the database is not ready (the stored versions are read once it is).
            if await service._schema_is_current():
                await service.reload_catalogs()
        except Exception:
            await service.close()
            raise
        return service

    async def _schema_is_current(self) -> bool:
        try:
            return await self.repository.schema_revision() == self.expected_revision
        except DatabaseUnavailable:  # no schema at all yet (an empty database)
            return False

    # --- the catalog: every stored version, the latest served -------------------------------------------------

    def _use(self, catalogs: CatalogVersions, stored_up_to: int) -> None:
        self.catalogs = catalogs
        self._stored_up_to = stored_up_to
        latest = catalogs.latest
        self.catalog = latest.definitions
        self.definitions = latest.by_key
        self.catalog_version = latest.version
        self.rules = rules.RuleCatalog(latest.definitions, latest.version, self.on_lost_threshold)

    async def reload_catalogs(self) -> CatalogVersions:
        """Read the versions published since the last reading, if the latest moved: one short read otherwise
        (the web layer calls this at most every half second per worker, `ops.freshness`). A database with no
        version yet gets the configured catalog as its first."""
        latest = await self.repository.latest_catalog_version()
        if latest is None:
            await self.repository.add_catalog_version(self.configured, self.now(), first=True)
        elif latest == self.catalogs.latest.version and self._stored_up_to:
            return self.catalogs
        added = await self.repository.catalog_versions(self._stored_up_to)
        if added:
            kept = self.catalogs.all if self._stored_up_to else ()
            self._use(CatalogVersions([*kept, *(version for _, version in added)]), added[-1][0])
        return self.catalogs

    async def catalog_versions(self) -> list[CatalogVersion]:
        """Every stored version, oldest first."""
        return [version for _, version in await self.repository.catalog_versions()]

    async def publish_catalog(self, catalog: CatalogVersion) -> Published:
        """Store `catalog` as the latest version, unless the latest already holds the same definitions or its
        name is taken (then nothing changes). Every worker serves it within a second."""
        stored = await self.catalog_versions()
        latest = stored[-1] if stored else None
        same_name = next((v for v in stored if v.version == catalog.version), None)
        if same_name is not None:
            if same_name.content_hash == catalog.content_hash:
                if latest is not None and same_name is not latest:
                    return Published(
                        same_name,
                        False,
                        f"version {catalog.version} is already published, and {latest.version} is the latest; "
                        "to serve these definitions again, give the file a new `version`",
                    )
                return Published(same_name, False, f"version {catalog.version} is already the latest")
            return Published(
                same_name,
                False,
                f"version {catalog.version} is already published with other definitions; give the file another "
                "`version`",
            )
        if latest is not None and latest.content_hash == catalog.content_hash:
            return Published(latest, False, f"the latest version, {latest.version}, holds the same definitions")
        if await self.repository.add_catalog_version(catalog, self.now()) is None:
            return Published(catalog, False, f"version {catalog.version} was published by another process just now")
        await self.reload_catalogs()
        published = self.catalogs.get(catalog.version) or catalog
        return Published(published, True)

    async def _decided(self, mentors: list[str], decide: Callable[[rules.RuleCatalog], Decide]) -> Applied:
        """Apply a change decided under the latest catalog version; decided again when storage finds that a newer
        one was published meanwhile (`CatalogMoved`), so a mentor's records never mix two versions."""
        for attempt in range(DECISION_ATTEMPTS):
            try:
                return await self.repository.change(mentors, decide(self.rules))
            except CatalogMoved:
                if attempt == DECISION_ATTEMPTS - 1:
                    raise
                await self.reload_catalogs()
        raise AssertionError("unreachable")

    def delivery_loop(self, options: DeliveryOptions) -> DeliveryLoop:
        """The webhook delivery loop for this worker (`serve` runs one in each)."""
        return DeliveryLoop(self.repository, lambda: self.catalogs, self.event_source, self._secret_box, options)

    async def close(self) -> None:
        await self.repository.close()

    def now(self) -> datetime:
        """The time, in whole seconds: every time stored and served (achieved_at above all) is."""
        return self._clock().replace(microsecond=0)

    async def record_summary(
        self, mentor_id: str, period: Period, actor: Actor = ANONYMOUS, display_name: str | None = None
    ) -> Recorded:
        """Store the period's summary (and the mentor's name, when given), re-evaluate the mentor, and say whether
        any of their periods or milestones changed, and which thresholds a correction lost."""
        future = future_start(period.start_date, self.now().date())
        if future is not None:
            raise InvalidUpdate(future, "period.start_date")
        lines = [(0, period_to_row(mentor_id, period))]
        now, request_id = encode_time(self.now()), REQUEST_ID.get()

        def decide(catalog: rules.RuleCatalog) -> Decide:
            return partial(
                rules.record_summaries,
                lines,
                catalog=catalog,
                now=now,
                actor=actor,
                cause=Cause.POST,
                request_id=request_id,
                names=None if display_name is None else {mentor_id: display_name},
            )

        result = await self._decided([mentor_id], decide)
        if result.change.refused:
            raise PeriodOverlap(result.change.refused[0][1])
        if result.achieved_types:
            metrics.achieved(result.achieved_types)
        return Recorded.of(result.milestones, result.change)

    async def preview_summary(
        self, mentor_id: str, period: Period, actor: Actor = ANONYMOUS, display_name: str | None = None
    ) -> tuple[Recorded, list[RecordedTransition]]:
        """What `record_summary` would do (`POST ?dry_run=true`): the mentor's milestones afterwards, whether
        anything would change, and each milestone's transition, decided as it would be on the mentor's stored rows
        under the latest catalog version, and nothing stored: no rows, history, events or metrics."""
        future = future_start(period.start_date, self.now().date())
        if future is not None:
            raise InvalidUpdate(future, "period.start_date")
        stored = (await self.repository.read_rows([mentor_id])).unpack()
        change = rules.record_summaries(
            [(0, period_to_row(mentor_id, period))],
            stored,
            self.rules,
            encode_time(self.now()),
            actor=actor,
            cause=Cause.POST,
            request_id=REQUEST_ID.get(),
            names=None if display_name is None else {mentor_id: display_name},
        )
        if change.refused:
            raise PeriodOverlap(change.refused[0][1])
        milestones = [milestone_from_row(row) for row in rules.milestones_after(stored, change)]
        return Recorded.of(milestones, change), [recorded(t) for t in change.transitions]

    async def name_mentor(self, mentor_id: str, display_name: str | None, actor: Actor = ANONYMOUS) -> None:
        """Store the name the mentor's page shows, or clear it with None; no summary needed."""
        change = rules.name_mentor(
            mentor_id, display_name, encode_time(self.now()), actor=actor, request_id=REQUEST_ID.get()
        )
        await self.repository.change([mentor_id], lambda _: change)

    async def display_name(self, mentor_id: str) -> str | None:
        return await self.repository.display_name(mentor_id)

    async def remove_period(
        self, mentor_id: str, start_date: date, end_date: date, actor: Actor = ANONYMOUS
    ) -> Recorded:
        """Remove one stored period and re-evaluate the mentor; which thresholds that lost, as for a summary."""
        now, request_id = encode_time(self.now()), REQUEST_ID.get()

        def decide(catalog: rules.RuleCatalog) -> Decide:
            return partial(
                rules.remove_period,
                mentor_id,
                start_date.isoformat(),
                end_date.isoformat(),
                catalog=catalog,
                now=now,
                actor=actor,
                request_id=request_id,
            )

        result = await self._decided([mentor_id], decide)
        return Recorded.of(result.milestones, result.change)

    async def erase(self, mentor_id: str, actor: Actor = ANONYMOUS) -> Erasure:
        """Remove everything stored about a mentor in one transaction, leaving one history entry that names
        them by a salted hash; MentorNotFound when nothing is stored about them."""
        salt = await self.erasure_salt()
        at = self.now()
        change = erase_mentor(mentor_id, salt, at=encode_time(at), actor=actor, request_id=REQUEST_ID.get())
        result = await self.repository.change([mentor_id], lambda _: change)
        return Erasure(mentor_hash(mentor_id, salt), at, result.erased)

    async def erasure_salt(self) -> str:
        """MILESTONES_ERASURE_SALT, or the salt stored in the database, made by whichever process asked first."""
        if self._erasure_salt is None:
            self._erasure_salt = await self.repository.service_secret("erasure_salt", secrets.token_hex(32))
        return self._erasure_salt

    async def periods(self, mentor_id: str) -> list[Period]:
        return await self.repository.periods(mentor_id)

    async def get(self, milestone_id: str) -> Milestone:
        milestone = await self.get_if_any(milestone_id)
        if milestone is None:
            raise MilestoneNotFound(milestone_id)
        return milestone

    async def credential(self, milestone_id: str) -> dict[str, Any]:
        """The milestone's Open Badges credential, unsigned: 404 when there is no such milestone, 410 when it
        was revoked."""
        return await self.credentials.credential(await self.get(milestone_id), self.catalogs)

    async def get_if_any(self, milestone_id: str) -> Milestone | None:
        """The milestone, or None; an id that cannot be one of ours is not looked up."""
        return None if mentor_of(milestone_id) is None else await self.repository.get(milestone_id)

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
        self,
        milestone_id: str,
        update: MilestoneUpdate,
        if_match: frozenset[str] | None = None,
        actor: Actor = ANONYMOUS,
    ) -> Milestone:
        """Apply a person's update; with if_match, only to the version the person saw."""
        mentor_id = _mentor_of(milestone_id, if_match)
        decide = partial(
            rules.update_milestone,
            milestone_id,
            update,
            now=self.now(),
            actor=actor,
            request_id=REQUEST_ID.get(),
            if_match=if_match,
        )
        result = await self.repository.change([mentor_id], decide)
        if result.achieved_types:
            metrics.achieved(result.achieved_types)
        (milestone,) = (m for m in result.milestones if m.id == milestone_id)
        return milestone

    async def delete(self, milestone_id: str, if_match: frozenset[str] | None = None, actor: Actor = ANONYMOUS) -> None:
        decide = partial(
            rules.delete_milestone,
            milestone_id,
            now=self._clock(),
            actor=actor,
            request_id=REQUEST_ID.get(),
            if_match=if_match,
        )
        await self.repository.change([_mentor_of(milestone_id, if_match)], decide)

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

    async def in_progress(self, mentor_id: str, window: Window) -> InProgress:
        """In-progress milestones, closest to completion first, with their estimated completion."""
        found, span = await self.repository.in_progress(mentor_id)
        # A mentor has at most one in-progress record per catalog entry, so sorting here stays cheap.
        ordered = in_progress_order(found)
        items = ordered[window.offset : window.offset + window.limit]
        estimates: dict[str, date] = {}
        mentor_pace = None if span is None or not items else pace(*span, self._clock().date())
        if mentor_pace is not None:
            for m in items:
                day = estimated_completion(mentor_pace, m.current_value, m.threshold)
                if day is not None:
                    estimates[m.id] = day
        return InProgress(items, len(ordered), estimates)

    async def evidence(self, milestone_id: str) -> MilestoneEvidence:
        """What a milestone's value is made of, period by period, and why it stands where it does."""
        milestone = await self.get(milestone_id)
        mentor_id = milestone.mentor_id
        periods = [row async for page in self.repository.period_rows(mentor_id) for row in page]
        explanation = explain(periods, milestone.type.value, to_centi(milestone.threshold))
        estimate = None
        if milestone.status is Status.IN_PROGRESS and periods:
            first_start = date.fromisoformat(min(p.start_date for p in periods))
            last_end = date.fromisoformat(max(p.end_date for p in periods))
            mentor_pace = pace(first_start, last_end, self._clock().date())
            if mentor_pace is not None:
                estimate = estimated_completion(mentor_pace, milestone.current_value, milestone.threshold)
        set_by = await self._set_by(mentor_id, milestone_id) if milestone.set_by_person else None
        return MilestoneEvidence(milestone, explanation, estimate, set_by)

    async def _set_by(self, mentor_id: str, milestone_id: str) -> HistoryItem | None:
        """The latest PUT in the milestone's history (the one that set it), or None when history no longer has it."""
        found: HistoryItem | None = None
        chunk, from_id = 500, 0
        while True:
            entries = await self.repository.history(mentor_id, from_id, chunk)
            for entry in entries:
                if entry.cause is Cause.PUT:
                    for index, transition in enumerate(entry.transitions):
                        if transition.milestone_id == milestone_id:
                            found = HistoryItem((entry.id, index), entry, transition)
            if len(entries) < chunk:
                return found
            from_id = entries[-1].id + 1

    async def mentor_counts(self) -> dict[str, int]:
        """The mentor counts the write path keeps: by status and definition, and mentors with a period."""
        return await self.repository.mentor_counts()

    async def stalled_mentors(self, stalled_days: int, after: str, limit: int) -> list[StalledMentor]:
        """Mentors whose latest period ended more than `stalled_days` days before today while a record of theirs is
        in progress, in id order after `after`."""
        ended_before = self.now().date() - timedelta(days=stalled_days)
        return await self.repository.stalled_mentors(ended_before, after, limit)

    async def history(
        self, mentor_id: str, milestone_id: str | None = None, after: tuple[int, int] | None = None, limit: int = 20
    ) -> HistoryWindow:
        """A mentor's history (or one milestone's), oldest first: the transitions after position `after`.

        A milestone's history outlives the milestone: a deleted one still has it. One that never had any
        and is not stored is unknown (404).
        """
        start = after or (0, -1)
        items: list[HistoryItem] = []
        # Entries hold a few transitions each; a milestone's are among its mentor's, so read ahead generously.
        chunk = limit + 1 if milestone_id is None else max(limit + 1, 100)
        from_id = start[0]
        while len(items) <= limit:
            entries = await self.repository.history(mentor_id, from_id, chunk)
            for entry in entries:
                for index, transition in enumerate(entry.transitions):
                    position = (entry.id, index)
                    if position > start and (milestone_id is None or transition.milestone_id == milestone_id):
                        items.append(HistoryItem(position, entry, transition))
            if len(entries) < chunk:
                break
            from_id = entries[-1].id + 1
        if milestone_id is not None and not items and after is None and await self.get_if_any(milestone_id) is None:
            raise MilestoneNotFound(milestone_id)
        more = len(items) > limit
        items = items[:limit]
        return HistoryWindow(items, items[-1].position if more else None)

    async def events(
        self,
        after: Position | None,
        after_at: datetime | None = None,
        types: frozenset[EventType] | None = None,
        mentor_id: str | None = None,
        limit: int = 100,
    ) -> EventWindow:
        """A page of the event feed after `after` (None: from the oldest kept), and where to resume. A position
        dated (`after_at`) before the retention is refused (410): events after it may have been pruned."""
        now = self.now()
        if after_at is not None and after_at < now - timedelta(days=self.event_retention_days):
            oldest = await self.repository.oldest_event()
            kept = "none are kept" if oldest is None else f"the oldest kept is {oldest[0]}, from {oldest[1]:%Y-%m-%d}"
            raise CursorExpired(
                f"The cursor is from {after_at:%Y-%m-%d}, before the {self.event_retention_days} days events are "
                f"kept; {kept}. Start again without a cursor, or with cursor=latest."
            )
        mask = ALL_TYPES if not types else types_mask(types)
        events, resume = await self.repository.events(after or (0, 0, -1), mask, mentor_id, limit)
        # A resume point at an event is dated by it; one at the horizon, now.
        resume_at = events[-1].at if events and events[-1].position == resume else now
        return EventWindow(events, resume, resume_at)

    async def latest_event_position(self) -> tuple[Position, datetime]:
        """Where a feed that starts now begins (`cursor=latest`), dated now."""
        return await self.repository.event_horizon(), self.now()

    async def prune_events(self) -> int | None:
        """Remove events older than the retention; the number removed, or None when another process is pruning."""
        return await self.repository.prune_events(self._clock() - timedelta(days=self.event_retention_days))

    async def prune_webhooks(self) -> int:
        """Remove finished webhook deliveries and logged attempts older than the events' retention."""
        return await self.repository.webhooks.prune(self._clock() - timedelta(days=self.event_retention_days))

    async def prune_history(self, retention_days: int) -> int | None:
        """Remove history older than `retention_days`; the number of entries removed, or None when another
        process is pruning."""
        return await self.repository.prune_history(self._clock() - timedelta(days=retention_days))

    async def prune_hourly(self, history_retention_days: int | None) -> None:
        """Prune events, and history when it has a retention, once an hour until cancelled (`serve` runs this in
        every worker; the repository lets one process prune at a time, and the others find little left). A
        failure is logged, not raised."""
        while True:
            try:
                removed = await self.prune_events()
                if removed:
                    event("events pruned", removed=removed, retention_days=self.event_retention_days)
            except Exception as exc:  # the database may be away for a while; try again next hour
                event("event pruning failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")
            try:
                removed = await self.prune_webhooks()
                if removed:
                    event("webhook deliveries pruned", removed=removed, retention_days=self.event_retention_days)
            except Exception as exc:
                event("webhook pruning failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")
            if history_retention_days is not None:
                try:
                    removed = await self.prune_history(history_retention_days)
                    if removed:
                        event("history pruned", removed=removed, retention_days=history_retention_days)
                except Exception as exc:
                    event("history pruning failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(PRUNE_EVERY_SECONDS)

    async def readiness_problem(self) -> str | None:
        """Why the service cannot serve requests, or None when the database is up and migrated."""
        try:
            revision = await self.repository.schema_revision()
        except Exception as exc:  # readiness reports any failure rather than raising it
            return f"The database did not answer: {type(exc).__name__}"
        if revision != self.expected_revision:
            return f"The database schema is at {revision!r}, the code expects {self.expected_revision!r}."
        return None

    async def key_ring(self, from_settings: Sequence[AccessKey]) -> KeyRing:
        """The keys a request may present: those from the settings and the stored ones not revoked."""
        stored = await self.repository.access_keys()
        return KeyRing.of([*from_settings, *stored])

    async def access_keys(self) -> list[AccessKey]:
        return await self.repository.access_keys()

    async def create_access_key(self, name: str, scope: Scope) -> tuple[AccessKey, str]:
        """A new stored key and its secret, which is shown once and kept nowhere."""
        secret = new_secret()
        digest = digest_of(secret)
        key = AccessKey(key_id("db", digest), name, scope, digest, created_at=self.now())
        await self.repository.add_access_key(key)
        return key, secret

    async def revoke_access_key(self, key_id: str) -> AccessKey | None:
        return await self.repository.revoke_access_key(key_id, self.now())

    async def claim_idempotency_key(
        self,
        key: str,
        fingerprint: str,
        now: datetime,
        replaceable: Replaceable,
        expired_before: datetime,
        mentor_id: str | None = None,
    ) -> IdempotencyRecord | None:
        """Claim `key` for a request, or return the record already stored under it; expired keys go. The
        mentor the request names is kept beside its answer, so that erasing the mentor removes it."""
        return await self.repository.claim_idempotency_key(
            key, fingerprint, now, replaceable, expired_before, mentor_id
        )

    async def finish_idempotency_key(
        self, key: str, fingerprint: str, status_code: int, content_type: str, body: bytes
    ) -> None:
        await self.repository.finish_idempotency_key(key, fingerprint, status_code, content_type, body)

    async def release_idempotency_key(self, key: str, fingerprint: str) -> None:
        await self.repository.release_idempotency_key(key, fingerprint)


def _mentor_of(milestone_id: str, if_match: frozenset[str] | None) -> str:
    """The mentor a milestone id names; an id that names none is a milestone that does not exist, like any other
    (404, or 412 under If-Match)."""
    mentor_id = mentor_of(milestone_id)
    if mentor_id is None:
        raise rules.absent(milestone_id, if_match)
    return mentor_id
