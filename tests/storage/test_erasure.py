"""Erasure in storage, on both databases: every table holding mentor data is covered, and erasing leaves the
mentor's id nowhere while other mentors keep everything."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from milestones.catalog import load_catalog
from milestones.domain import MilestoneUpdate, Status, milestone_id
from milestones.domain.changes import COMMAND_LINE, Cause
from milestones.domain.erasure import HASH_PREFIX, mentor_hash
from milestones.domain.events import ALL_TYPES, EventType
from milestones.errors import MentorNotFound
from milestones.service import MilestoneService
from milestones.settings import Settings
from milestones.storage import MilestoneRepository, open_repository
from milestones.storage.write_path import HOLDS_NO_MENTOR_DATA, MENTOR_TABLES
from tests.conftest import FakeClock
from tests.database_contents import events_settled, rows_as_text, table_columns
from tests.factories import period

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ERASED = "erase.me-42"
KEPT = "keep.me-7"


@pytest.fixture
def service(repository: MilestoneRepository) -> MilestoneService:
    return MilestoneService(repository, load_catalog(), FakeClock(NOW), erasure_salt="a-salt-for-the-tests-0123")


async def test_every_table_is_covered_by_erasure_or_holds_no_mentor_data(settings: Settings) -> None:
    """A migration that adds a table must say whether erasure removes from it: this fails until it does."""
    tables = await table_columns(settings)
    covered = {held.table for held in MENTOR_TABLES}
    assert set(tables) - covered - set(HOLDS_NO_MENTOR_DATA) == set(), "tables erasure does not cover"
    assert covered | set(HOLDS_NO_MENTOR_DATA) >= set(tables)
    for held in MENTOR_TABLES:
        assert held.column in tables[held.table], f"{held.table} has no column {held.column}"


async def record(service: MilestoneService, mentor: str) -> None:
    await service.record_summary(mentor, period(date(2024, 1, 1), hours="150", contacts=30, activities=120))
    # With identifiers and a name: the period row keeps the identifiers, the mentors table the name.
    await service.record_summary(
        mentor,
        period(date(2025, 1, 1), hours="200", contacts=2, activities=90, identifiers=(f"{mentor}-c1", f"{mentor}-c2")),
        display_name=f"Name of {mentor}",
    )


async def test_erasure_removes_every_row_naming_the_mentor_and_keeps_the_others(
    settings: Settings, service: MilestoneService, repository: MilestoneRepository
) -> None:
    await record(service, ERASED)
    await record(service, KEPT)
    now = service.now()
    await repository.claim_idempotency_key("anonymous k1", "f" * 64, now, lambda _: False, now, ERASED)
    await repository.finish_idempotency_key("anonymous k1", "f" * 64, 201, "application/json", ERASED.encode())
    await repository.claim_idempotency_key("anonymous k2", "e" * 64, now, lambda _: False, now, KEPT)
    milestones = len(await repository.mentor_milestones(ERASED))
    before = await rows_as_text(settings)
    kept_before = {table: [row for row in rows if KEPT in row] for table, rows in before.items()}

    erasure = await service.erase(ERASED, COMMAND_LINE)

    assert milestones > 0
    assert erasure.removed == {
        "periods": 2,
        "milestones": milestones,
        "history_entries": 2,
        "events": 2,
        "idempotency_records": 1,
        "mentor_records": 1,
        "webhook_deliveries": 0,
        "credential_status_entries": 0,
    }
    after = await rows_as_text(settings)
    assert [row for rows in after.values() for row in rows if ERASED in row] == []
    assert {table: [row for row in rows if KEPT in row] for table, rows in after.items()} == kept_before
    # One entry says that an erasure happened, naming the mentor only by the salted hash.
    assert erasure.mentor_hash == mentor_hash(ERASED, "a-salt-for-the-tests-0123")
    assert erasure.mentor_hash.startswith(HASH_PREFIX)
    (entry,) = await repository.history(erasure.mentor_hash, 0, 10)
    assert (entry.cause, entry.actor, entry.transitions, entry.at) == (Cause.ERASURE, COMMAND_LINE, [], NOW)
    # The outbox keeps the other mentor's events and, of the erased one, only mentor.erased under the hash.
    await events_settled(settings)
    events, _ = await repository.events((0, 0, -1), ALL_TYPES, None, 100)
    assert {e.mentor_id for e in events} == {KEPT, erasure.mentor_hash}
    (erased,) = [e for e in events if e.mentor_id == erasure.mentor_hash]
    assert (erased.type, erased.transition, erased.cause, erased.at) == (
        EventType.MENTOR_ERASED,
        None,
        Cause.ERASURE,
        NOW,
    )


async def test_an_unknown_mentor_is_not_found_and_nothing_is_written(
    settings: Settings, service: MilestoneService
) -> None:
    await record(service, KEPT)
    before = await rows_as_text(settings)
    with pytest.raises(MentorNotFound):
        await service.erase(ERASED, COMMAND_LINE)
    assert await rows_as_text(settings) == before


async def test_a_mentor_known_only_by_history_is_erased(service: MilestoneService) -> None:
    """Every milestone deleted by a person and every period removed: history alone still names them."""
    await service.record_summary(ERASED, period(date(2025, 1, 1), hours="5", contacts=1, activities=1))
    await service.remove_period(ERASED, date(2025, 1, 1), date(2025, 12, 31))
    for milestone in await service.repository.mentor_milestones(ERASED):
        await service.delete(milestone.id)
    erasure = await service.erase(ERASED, COMMAND_LINE)
    assert erasure.removed["history_entries"] > 0
    assert (erasure.removed["periods"], erasure.removed["milestones"]) == (0, 0)


async def test_without_a_configured_salt_one_is_made_once_and_shared(settings: Settings) -> None:
    hashes = []
    for _ in range(2):
        repository = await open_repository(settings)
        try:
            service = MilestoneService(repository, load_catalog(), FakeClock(NOW))
            await record(service, ERASED)
            hashes.append((await service.erase(ERASED, COMMAND_LINE)).mentor_hash)
        finally:
            await repository.close()
    assert hashes[0] == hashes[1]
    assert hashes[0] != mentor_hash(ERASED, "a-salt-for-the-tests-0123")


async def test_pruning_keeps_the_erasure_entry(service: MilestoneService, repository: MilestoneRepository) -> None:
    await record(service, ERASED)
    await record(service, KEPT)
    erasure = await service.erase(ERASED, COMMAND_LINE)
    removed = await repository.prune_history(NOW + timedelta(days=1))
    assert removed == 2  # KEPT's two entries
    assert len(await repository.history(erasure.mentor_hash, 0, 10)) == 1


async def test_erasure_removes_a_mentors_revoked_milestones_too(
    service: MilestoneService, repository: MilestoneRepository
) -> None:
    await record(service, ERASED)
    await service.update(
        milestone_id(ERASED, "100h"), MilestoneUpdate(status=Status.REVOKED, reason="Entered for the wrong mentor")
    )
    assert [m.id for m in await repository.mentor_milestones(ERASED, Status.REVOKED)] == [milestone_id(ERASED, "100h")]
    erasure = await service.erase(ERASED)
    assert erasure.removed["milestones"] > 0
    assert await repository.mentor_milestones(ERASED) == []
    assert await repository.history(ERASED, 0, 100) == []
