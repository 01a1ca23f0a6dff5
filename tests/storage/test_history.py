"""History in storage, on both databases: bulk writes the history POSTs would, and pruning removes only old entries."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from milestones.bulk.detection import detect_lines
from milestones.catalog import load_catalog
from milestones.domain import Period, Summary
from milestones.domain.changes import COMMAND_LINE, Actor, Cause
from milestones.service import MilestoneService
from milestones.storage import MilestoneRepository
from tests.conftest import FakeClock

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Several mentors, several periods each, and corrections of a period within one batch.
LINES = [
    ("m1", "2024-01-01", "2024-12-31", "60", 10, 40),
    ("m2", "2025-01-01", "2025-12-31", "5", 1, 2),
    ("m1", "2025-01-01", "2025-12-31", "50", 20, 70),
    ("m2", "2025-01-01", "2025-12-31", "120", 30, 90),
    ("m1", "2025-01-01", "2025-12-31", "45", 20, 70),
    ("m3", "2025-01-01", "2025-06-30", "400", 100, 400),
    ("m2", "2025-01-01", "2025-12-31", "120", 30, 90),
]


def period(start: str, end: str, hours: str, contacts: int, activities: int) -> Period:
    first = date.fromisoformat(start)
    return Period(first, date.fromisoformat(end), first.year, Summary(Decimal(hours), contacts, activities))


def body(mentor: str, *values: Any) -> bytes:
    start, end, hours, contacts, activities = values
    year = int(start[:4])
    summary = {"total_hours": float(hours), "unique_contacts_helped": contacts, "activity_count": activities}
    line = {"mentor_id": mentor, "period": {"year": year, "start_date": start, "end_date": end}, "summary": summary}
    return json.dumps(line).encode()


def what_happened(service_history: Any, prefix: str) -> list[Any]:
    """A history without who, when and why: the transitions, their periods and states."""
    return [
        (
            item.transition.milestone_id.removeprefix(prefix),
            item.transition.kind,
            item.entry.period,
            item.transition.before,
            item.transition.after,
        )
        for item in service_history.items
    ]


async def history_of(service: MilestoneService, mentor: str) -> Any:
    return await service.history(mentor, limit=100)


async def test_bulk_history_equals_the_history_of_the_same_lines_posted_one_by_one(
    repository: MilestoneRepository,
) -> None:
    catalog = load_catalog(None)
    service = MilestoneService(repository, catalog, FakeClock(NOW))
    for mentor, start, end, hours, contacts, activities in LINES:
        await service.record_summary(f"post-{mentor}", period(start, end, hours, contacts, activities))
    # A batch size of 3 puts one mentor's lines in several batches, and several in one.
    lines = [body(f"bulk-{mentor}", *values) for mentor, *values in LINES]
    await detect_lines(lines, repository, catalog, NOW, lambda rejected: None, batch_size=3)
    for mentor in ("m1", "m2", "m3"):
        posted, bulk = await history_of(service, f"post-{mentor}"), await history_of(service, f"bulk-{mentor}")
        assert posted.items
        assert what_happened(posted, f"post-{mentor}") == what_happened(bulk, f"bulk-{mentor}")
        assert {(i.entry.cause, str(i.entry.actor)) for i in posted.items} == {(Cause.POST, "anonymous")}
        assert {(i.entry.cause, i.entry.actor) for i in bulk.items} == {(Cause.BULK, COMMAND_LINE)}
        assert {i.entry.request_id for i in bulk.items} == {None}


async def test_a_change_records_its_actor_and_time(repository: MilestoneRepository) -> None:
    clock = FakeClock(NOW)
    service = MilestoneService(repository, load_catalog(None), clock)
    await service.record_summary("m1", period("2025-01-01", "2025-12-31", "20", 1, 1), Actor.of_key("db:1234abcd"))
    history = await service.history("m1")
    assert {str(item.entry.actor) for item in history.items} == {"db:1234abcd"}
    assert {item.entry.at for item in history.items} == {NOW}


async def test_pruning_removes_only_entries_older_than_the_retention(repository: MilestoneRepository) -> None:
    clock = FakeClock(NOW - timedelta(days=40))
    service = MilestoneService(repository, load_catalog(None), clock)
    await service.record_summary("old", period("2025-01-01", "2025-12-31", "20", 1, 1))
    clock.now = NOW - timedelta(days=29)
    await service.record_summary("recent", period("2025-01-01", "2025-12-31", "20", 1, 1))
    await service.record_summary("old", period("2024-01-01", "2024-12-31", "20", 1, 1))
    clock.now = NOW
    old_before, recent_before = await history_of(service, "old"), await history_of(service, "recent")

    removed = await repository.prune_history(NOW - timedelta(days=30), batch_size=1)
    assert removed == 1  # the first POST of `old`: one entry (of several transitions)
    old_after, recent_after = await history_of(service, "old"), await history_of(service, "recent")
    assert recent_after.items == recent_before.items
    assert [i.entry.at for i in old_after.items] == [NOW - timedelta(days=29)] * len(old_after.items)
    assert len(old_after.items) < len(old_before.items)
    assert await service.prune_history(30) == 0
