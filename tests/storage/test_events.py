"""The outbox in storage, on both databases: bulk runs write the events POSTs would (quietly with --no-notify),
and pruning removes events older than the retention."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from milestones.bulk.detection import detect_lines
from milestones.catalog import load_catalog
from milestones.domain.changes import COMMAND_LINE
from milestones.domain.events import ALL_TYPES, EventType, StoredEvent
from milestones.domain.history import RecordedTransition
from milestones.errors import PeriodOverlap
from milestones.service import MilestoneService
from milestones.settings import Settings
from milestones.storage import MilestoneRepository
from tests.conftest import FakeClock
from tests.database_contents import events_settled
from tests.storage.test_history import LINES, body, period

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def all_events(settings: Settings, repository: MilestoneRepository) -> list[StoredEvent]:
    await events_settled(settings)
    events, _ = await repository.events((0, 0, -1), ALL_TYPES, None, 1000)
    return events


def what(events: list[StoredEvent]) -> list[tuple[EventType, str, RecordedTransition | None]]:
    return [(e.type, e.mentor_id, e.transition) for e in events]


@pytest.mark.parametrize("notify", [True, False])
async def test_bulk_events_equal_those_of_the_same_lines_posted(
    settings: Settings, repository: MilestoneRepository, notify: bool
) -> None:
    catalog = load_catalog()
    lines = [body(*line) for line in LINES]
    await detect_lines(lines, repository, catalog, NOW, lambda rejected: None, batch_size=3, notify=notify)
    bulk = await all_events(settings, repository)
    assert bulk and {(e.cause.value, e.actor, e.notify) for e in bulk} == {("bulk", COMMAND_LINE, notify)}

    service = MilestoneService(repository, catalog, FakeClock(NOW))
    for mentor, start, end, hours, contacts, activities in LINES:
        with suppress(PeriodOverlap):  # a line the bulk run refused too
            await service.record_summary(f"posted-{mentor}", period(start, end, hours, contacts, activities))
    posted = (await all_events(settings, repository))[len(bulk) :]
    renamed = [
        (kind, mentor.removeprefix("posted-"), t and replace(t, milestone_id=t.milestone_id.removeprefix("posted-")))
        for kind, mentor, t in what(posted)
    ]
    assert renamed == what(bulk)
    assert {e.notify for e in posted} == {True}


async def test_pruning_removes_events_older_than_the_retention(
    settings: Settings, repository: MilestoneRepository
) -> None:
    clock = FakeClock(NOW)
    service = MilestoneService(repository, load_catalog(), clock, event_retention_days=30)
    await service.record_summary("old", period(*LINES[0][1:]))
    clock.now += timedelta(days=20)
    await service.record_summary("new", period(*LINES[0][1:]))
    clock.now += timedelta(days=15)
    removed = await service.prune_events()
    assert removed is not None and removed > 0
    assert {e.mentor_id for e in await all_events(settings, repository)} == {"new"}
