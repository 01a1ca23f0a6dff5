"""The re-evaluation run on both databases: stopped part way and run again, it does no mentor twice; its history
carries the cause `reevaluation`; its events are recorded quietly unless asked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from milestones.bulk.detection import detect_lines
from milestones.catalog import CatalogVersion, load_catalog
from milestones.domain.changes import COMMAND_LINE, Cause
from milestones.domain.model import Status
from milestones.domain.reevaluation import Policy
from milestones.domain.rows import encode_time
from milestones.domain.rules import revoke_milestone
from milestones.reevaluation.batches import ReevaluationReport, reevaluate_stored
from milestones.settings import Settings
from milestones.storage import MilestoneRepository, open_repository
from tests.cli.test_reevaluate import with_rungs
from tests.database_contents import events_settled
from tests.factories import publish_catalog, summary_body

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 6, 1, tzinfo=UTC)
MENTORS = [f"m_{n:02}" for n in range(7)]


class Stopped(Exception):
    """Stands for Ctrl-C after some batches were committed."""


async def stored_mentors(settings: Settings, tmp_path: Path) -> tuple[MilestoneRepository, CatalogVersion]:
    """Seven mentors with 20 hours each under the packaged catalog, then a version adding a 5-hour rung."""
    repository = await open_repository(settings)
    bodies = [json.dumps(summary_body(mentor, hours=20)).encode() for mentor in MENTORS]
    report = await detect_lines(bodies, repository, load_catalog(), NOW, lambda rejected: None)
    assert report.summaries == len(MENTORS)
    await publish_catalog(settings, with_rungs(tmp_path, ("5h", 5)))
    return repository, (await repository.catalog_versions())[-1][1]


async def reevaluation_entries(repository: MilestoneRepository, mentor_id: str) -> int:
    return sum(entry.cause is Cause.REEVALUATION for entry in await repository.history(mentor_id, 0, 100))


async def test_a_run_stopped_part_way_continues_without_doing_a_mentor_twice(
    settings: Settings, tmp_path: Path
) -> None:
    repository, latest = await stored_mentors(settings, tmp_path)
    try:
        batches = 0

        def stop_after_two(report: ReevaluationReport) -> None:
            nonlocal batches
            batches += 1
            if batches == 2:
                raise Stopped

        with pytest.raises(Stopped):
            await reevaluate_stored(repository, latest, NOW, batch_size=2, progress=stop_after_two)
        done = [m for m in MENTORS if await reevaluation_entries(repository, m)]
        assert len(done) == 4  # two batches of two were committed

        rest = await reevaluate_stored(repository, latest, NOW, batch_size=2)
        assert (rest.skipped, rest.mentors, rest.mentors_changed) == (4, 3, 3)
        # Per mentor: 5h achieved, and each ladder's in-progress rung revised to the new version.
        assert rest.transitions == {"achieved": 3, "revised": 9}
        for mentor in MENTORS:  # each mentor re-evaluated exactly once
            assert await reevaluation_entries(repository, mentor) == 1
            assert {m.definition_key for m in await repository.mentor_milestones(mentor)} >= {"5h", "10h"}

        nothing = await reevaluate_stored(repository, latest, NOW, batch_size=2)
        assert (nothing.skipped, nothing.mentors, nothing.transitions) == (7, 0, {})
    finally:
        await repository.close()


async def test_events_are_recorded_quietly_unless_asked(settings: Settings, tmp_path: Path) -> None:
    repository, latest = await stored_mentors(settings, tmp_path)
    try:
        await reevaluate_stored(repository, latest, NOW, mentor_id="m_00")
        await reevaluate_stored(repository, latest, NOW, mentor_id="m_01", notify=True)
        await events_settled(settings)  # PostgreSQL's feed answers only below its horizon
        events, _ = await repository.events((0, 0, 0), 0xFFFF, None, 1000)
        reevaluated = {e.mentor_id: e.notify for e in events if e.cause is Cause.REEVALUATION}
        assert reevaluated == {"m_00": False, "m_01": True}
    finally:
        await repository.close()


async def test_a_milestone_revoked_by_a_person_stays_revoked_through_reevaluation(
    settings: Settings, tmp_path: Path
) -> None:
    repository, latest = await stored_mentors(settings, tmp_path)
    try:
        (ten_hours,) = [m for m in await repository.mentor_milestones("m_00") if m.definition_key == "10h"]
        assert ten_hours.status is Status.ACHIEVED
        await repository.change(
            ["m_00"],
            lambda stored: revoke_milestone(ten_hours.id, "sent twice", stored, encode_time(NOW), actor=COMMAND_LINE),
        )
        for policy in Policy:
            await reevaluate_stored(repository, latest, NOW, mentor_id="m_00", policy=policy)
            (after,) = [m for m in await repository.mentor_milestones("m_00") if m.definition_key == "10h"]
            assert (after.status, after.revocation_reason) == (Status.REVOKED, "sent twice")
    finally:
        await repository.close()
