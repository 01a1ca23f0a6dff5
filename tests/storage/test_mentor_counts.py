"""The mentor counts the write path keeps (rarity, the program report), on both databases: after every kind of write,
and under 50 concurrent writers, they equal a full count of the milestones and periods."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from milestones.bulk.detection import detect_lines
from milestones.catalog import load_catalog
from milestones.domain import MilestoneUpdate, Status, milestone_id
from milestones.domain.changes import COMMAND_LINE
from milestones.domain.reevaluation import Policy
from milestones.reevaluation.batches import reevaluate_stored
from milestones.service import MilestoneService
from milestones.settings import Settings
from milestones.storage import MilestoneRepository
from milestones.storage.write_path import SLOTS, count_slot
from tests.cli.test_reevaluate import with_rungs
from tests.conftest import FakeClock
from tests.database_contents import full_counts, nonzero
from tests.factories import period, publish_catalog, summary_body

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def service(repository: MilestoneRepository) -> MilestoneService:
    return MilestoneService(repository, load_catalog(), FakeClock(NOW), erasure_salt="a-salt-for-the-tests-0123")


async def assert_counts_exact(settings: Settings, repository: MilestoneRepository) -> dict[str, int]:
    kept = nonzero(await repository.mentor_counts())
    assert kept == await full_counts(settings)
    return kept


async def test_the_counts_equal_a_full_count_after_every_kind_of_write(
    settings: Settings, repository: MilestoneRepository, service: MilestoneService, tmp_path: Path
) -> None:
    assert await assert_counts_exact(settings, repository) == {}
    # POST: a mentor's first period, a second, another mentor's.
    await service.record_summary("ada", period(date(2024, 1, 1), hours="60", contacts=3, activities=20))
    counts = await assert_counts_exact(settings, repository)
    assert counts["with_period"] == 1 and counts["achieved:10h"] == 1 and counts["in_progress:100h"] == 1
    await service.record_summary("ada", period(date(2025, 1, 1), hours="90", contacts=30, activities=100))
    await service.record_summary("bob", period(date(2025, 1, 1), hours="12", contacts=1, activities=4))
    counts = await assert_counts_exact(settings, repository)
    assert counts["with_period"] == 2 and counts["achieved:10h"] == 2 and counts["achieved:100h"] == 1
    # PUT: revoked, reinstated, and set achieved by a person.
    revoke = MilestoneUpdate(status=Status.REVOKED, reason="Entered for the wrong mentor")
    await service.update(milestone_id("ada", "100h"), revoke)
    counts = await assert_counts_exact(settings, repository)
    assert "achieved:100h" not in counts and counts["revoked:100h"] == 1
    await service.update(milestone_id("ada", "100h"), MilestoneUpdate(status=Status.ACHIEVED))
    await assert_counts_exact(settings, repository)
    await service.update(milestone_id("bob", "50h"), MilestoneUpdate(status=Status.ACHIEVED))
    assert (await assert_counts_exact(settings, repository))["achieved:50h"] == 2
    # DELETE.
    await service.delete(milestone_id("bob", "50h"))
    assert (await assert_counts_exact(settings, repository))["achieved:50h"] == 1
    # A period removed: one of two (the mentor keeps a period), then a mentor's only one.
    await service.remove_period("ada", date(2024, 1, 1), date(2024, 12, 31))
    await assert_counts_exact(settings, repository)
    await service.remove_period("bob", date(2025, 1, 1), date(2025, 12, 31))
    assert (await assert_counts_exact(settings, repository))["with_period"] == 1
    # Bulk detection: new mentors and a known one, then the same lines again (decided in the second process).
    bodies = [json.dumps(summary_body(f"bulk_{n}", hours=10 * n + 5)).encode() for n in range(12)]
    bodies.append(json.dumps(summary_body("ada", year=2023, hours=400)).encode())
    for _ in range(2):
        await detect_lines(bodies, repository, load_catalog(), NOW, lambda rejected: None, batch_size=5)
        assert (await assert_counts_exact(settings, repository))["with_period"] == 13
    # Re-evaluation under a version with a new rung, each policy.
    await publish_catalog(settings, with_rungs(tmp_path, ("5h", 5), ("450h", 450)))
    latest = (await repository.catalog_versions())[-1][1]
    for policy in Policy:
        await reevaluate_stored(repository, latest, NOW, policy=policy, batch_size=4)
        counts = await assert_counts_exact(settings, repository)
    assert counts["achieved:5h"] == 13
    # Erasure.
    await service.erase("ada", COMMAND_LINE)
    counts = await assert_counts_exact(settings, repository)
    assert counts["with_period"] == 12 and "achieved:450h" not in counts


async def test_the_counts_are_exact_under_50_concurrent_writers(
    settings: Settings, repository: MilestoneRepository, service: MilestoneService
) -> None:
    """50 writers at once, each its own mentor's POSTs, PUTs and DELETEs, many of them sharing slots."""
    mentors = [f"writer_{n:02}" for n in range(50)]
    assert len({count_slot(mentor) for mentor in mentors}) < min(SLOTS, len(mentors))  # some slots are shared

    async def writer(mentor: str) -> None:
        for year in (2023, 2024, 2025):
            await service.record_summary(mentor, period(date(year, 1, 1), hours="40", contacts=20, activities=50))
        await service.update(milestone_id(mentor, "100h"), MilestoneUpdate(status=Status.REVOKED, reason="checked"))
        await service.delete(milestone_id(mentor, "10h"))
        await service.remove_period(mentor, date(2023, 1, 1), date(2023, 12, 31))

    await asyncio.gather(*(writer(mentor) for mentor in mentors))
    counts = await assert_counts_exact(settings, repository)
    assert counts["with_period"] == 50 and counts["achieved:10h"] == 50  # deleted, then detected again
    assert counts["revoked:100h"] == 50
