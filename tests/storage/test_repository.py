"""The repository on SQLite and PostgreSQL: the one write path (atomic, serialized changes), exact values,
filters, constraints."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial

import anyio
import asyncpg
import pytest

from milestones.domain import Milestone, MilestoneUpdate, Precision, Status, rules
from milestones.domain.changes import ANONYMOUS, COMMAND_LINE, Cause, Change
from milestones.domain.rows import PeriodRow, StoredRows, encode_time, period_to_row
from milestones.settings import Settings
from milestones.storage import MilestoneQuery, MilestoneRepository, head_revision, open_repository
from milestones.storage.base import Decide
from tests.factories import ladder, period

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def add_period(mentor_id: str, hours: str, year: int = 2025, contacts: int = 0) -> Decide:
    """The change a POST of a calendar year's summary decides."""
    row = period_to_row(mentor_id, period(date(year, 1, 1), hours=hours, contacts=contacts))
    return partial(
        rules.record_summaries,
        [(1, row)],
        catalog=rules.RuleCatalog(ladder()),
        now=encode_time(NOW),
        actor=ANONYMOUS,
        cause=Cause.POST,
    )


async def post(
    repository: MilestoneRepository, mentor_id: str, hours: str, year: int = 2025, contacts: int = 0
) -> tuple[list[Milestone], Change]:
    """Apply a POST's change; the mentor's milestones afterwards, and the change."""
    result = await repository.change([mentor_id], add_period(mentor_id, hours, year, contacts))
    return result.milestones, result.change


async def test_a_change_is_stored_and_the_same_change_again_writes_nothing(repository: MilestoneRepository) -> None:
    milestones, change = await post(repository, "m1", "312.5")
    assert change.writes_anything
    stored = await repository.mentor_milestones("m1")
    assert stored == milestones
    assert [p.summary.total_hours for p in await repository.periods("m1")] == [Decimal("312.5")]
    _, again = await post(repository, "m1", "312.5")
    assert not again.writes_anything


async def test_the_rows_a_change_is_decided_on_are_the_mentors_stored_rows(repository: MilestoneRepository) -> None:
    await post(repository, "m1", "150")
    await post(repository, "m2", "20")
    seen: list[StoredRows] = []

    def record(stored: StoredRows) -> Change:
        seen.append(stored)
        return Change(Cause.PUT, ANONYMOUS, ["m1"])

    await repository.change(["m1"], record)
    [stored] = seen
    assert [p.mentor_id for p in stored.periods] == ["m1"]
    assert {m.mentor_id for m in stored.milestones} == {"m1"}
    assert {m.definition_key for m in stored.milestones} == {"100h", "300h", "25contacts", "100activities"}


async def test_a_failing_change_stores_nothing(repository: MilestoneRepository) -> None:
    await post(repository, "m1", "150")
    before = await repository.mentor_milestones("m1")

    def half_then_fail(stored: StoredRows) -> Change:
        raise RuntimeError("evaluation failed")

    with pytest.raises(RuntimeError):
        await repository.change(["m1"], half_then_fail)
    assert await repository.mentor_milestones("m1") == before
    assert len(await repository.periods("m1")) == 1


async def test_values_round_trip_exactly(repository: MilestoneRepository) -> None:
    await post(repository, "m1", "0.1", 2023)
    await post(repository, "m1", "0.2", 2024)
    hours = [m for m in await repository.mentor_milestones("m1") if m.type.value == "hours_logged"]
    assert hours[0].current_value == Decimal("0.3")
    assert str(hours[0].current_value.normalize()) == "0.3"


async def test_achieved_at_round_trips_as_utc(repository: MilestoneRepository) -> None:
    milestones, _ = await post(repository, "m1", "150")
    achieved = next(m for m in milestones if m.status is Status.ACHIEVED)
    fetched = await repository.get(achieved.id)
    assert fetched is not None
    assert fetched.achieved_at == datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert fetched == achieved


async def test_find_filters_and_counts(repository: MilestoneRepository) -> None:
    await post(repository, "a", "150", contacts=30)
    await post(repository, "b", "20")
    items, total = await repository.find(MilestoneQuery(limit=100))
    # a: 100h and 25contacts reached, next rungs of all three types; b: a first rung of each type.
    assert total == len(items) == 5 + 3
    only_a, total_a = await repository.find(MilestoneQuery(mentor_id="a", status=Status.ACHIEVED))
    assert total_a == 2
    assert {m.definition_key for m in only_a} == {"100h", "25contacts"}
    window, total = await repository.find(MilestoneQuery(offset=2, limit=2))
    assert total == 8
    assert [m.id for m in window] == [m.id for m in items[2:4]]
    ranged, _ = await repository.find(
        MilestoneQuery(
            achieved_from=datetime(2025, 12, 31, tzinfo=UTC), achieved_before=datetime(2026, 1, 1, tzinfo=UTC)
        )
    )
    assert {m.definition_key for m in ranged} == {"100h", "25contacts"}


async def test_concurrent_changes_to_one_mentor_are_serialized(repository: MilestoneRepository) -> None:
    """Twenty writers each add their own year: no update is lost and no record is doubled."""

    async def add_year(year: int) -> None:
        await post(repository, "busy", "10", year)

    async with anyio.create_task_group() as tg:
        for year in range(2000, 2020):
            tg.start_soon(add_year, year)
    assert len(await repository.periods("busy")) == 20
    milestones = await repository.mentor_milestones("busy")
    assert len({m.definition_key for m in milestones}) == len(milestones)
    hours = {m.definition_key: m for m in milestones if m.type.value == "hours_logged"}
    assert hours["100h"].status is Status.ACHIEVED
    assert hours["300h"].current_value == Decimal(200)


async def test_schema_revision_is_the_head(repository: MilestoneRepository) -> None:
    assert await repository.schema_revision() == head_revision()


async def test_one_record_per_mentor_and_definition_is_enforced_by_the_database(settings: Settings) -> None:
    """Even a writer that bypasses the rules cannot store a second (mentor, definition) record."""
    sql = (
        "INSERT INTO milestones (id, mentor_id, definition_key, name, type, threshold_centi, position, status, "
        "current_centi, set_by_person, catalog_version) "
        "VALUES ({}, 'm', '100h', 'n', 'hours_logged', 10000, 0, 'in_progress', 0, {}, 'v1')"
    )
    if settings.is_sqlite:
        conn = sqlite3.connect(settings.sqlite_path)
        conn.execute(sql.format("'m~100h'", 0))
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            conn.execute(sql.format("'m~100h'", 0))
        # The id must be the pair, so a different id cannot smuggle in a second record either.
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute(sql.format("'other'", 0))
        conn.close()
        return
    pg = await asyncpg.connect(settings.database_url)
    try:
        await pg.execute(sql.format("'m~100h'", "false"))
        with pytest.raises(asyncpg.UniqueViolationError):
            await pg.execute(sql.format("'m~100h'", "false"))
        with pytest.raises(asyncpg.CheckViolationError):
            await pg.execute(sql.format("'other'", "false"))
    finally:
        await pg.close()


async def test_person_set_values_survive_a_round_trip(repository: MilestoneRepository) -> None:
    milestones, _ = await post(repository, "m1", "50")
    target = next(m for m in milestones if m.status is Status.IN_PROGRESS)
    update = MilestoneUpdate(status=Status.ACHIEVED, achieved_value=Decimal("99.99"))
    await repository.change(["m1"], partial(rules.update_milestone, target.id, update, now=NOW, actor=ANONYMOUS))
    stored = await repository.get(target.id)
    assert stored == replace(
        target,
        status=Status.ACHIEVED,
        achieved_value=Decimal("99.99"),
        achieved_at=NOW,
        set_by_person=True,
        achieved_at_precision=Precision.SET_BY_PERSON,
    )


# --- bulk batches ------------------------------------------------------------------------------------


def detect_one(mentor_id: str, hours_centi: int, calls: list[StoredRows]) -> Decide:
    """A bulk batch of one calendar-2025 period row, recording the rows it was decided on."""

    def decide(stored: StoredRows) -> Change:
        calls.append(stored)
        line = (1, PeriodRow(mentor_id, "2025-01-01", "2025-12-31", 2025, hours_centi, 0, 0))
        return rules.record_summaries([line], stored, rules.RuleCatalog(ladder()), encode_time(NOW), actor=COMMAND_LINE)

    return decide


async def test_a_batch_decided_ahead_is_applied_as_it_is_when_the_rows_are_as_seen(
    repository: MilestoneRepository,
) -> None:
    calls: list[StoredRows] = []
    decide = detect_one("m1", 31_250, calls)
    seen = await repository.read_rows(["m1"])
    assert seen.unpack() == StoredRows([], [])
    written = (await repository.change(["m1"], decide, seen=seen, decided=decide(seen.unpack()))).change
    assert len(calls) == 1  # the rows were as seen: not decided again
    assert [row.definition_key for row in written.milestones_written] == [
        "100h", "300h", "500h", "25contacts", "100activities",
    ]  # fmt: skip

    packed = await repository.read_rows(["m1"])
    stored = packed.unpack()
    assert stored.periods == [PeriodRow("m1", "2025-01-01", "2025-12-31", 2025, 31_250, 0, 0)]
    assert sorted(stored.milestones) == sorted(written.milestones_written)
    assert {row.achieved_at for row in stored.milestones} == {"2025-12-31T23:59:59.000000Z", None}
    again = (await repository.change(["m1"], decide, seen=packed, decided=decide(stored))).change
    assert not again.writes_anything
    # What the batch wrote reads back through the ordinary reads.
    [by_key] = [m for m in await repository.mentor_milestones("m1") if m.definition_key == "300h"]
    assert (by_key.status, by_key.achieved_value) == (Status.ACHIEVED, Decimal("312.5"))


async def test_a_batch_whose_rows_changed_since_they_were_read_is_decided_again(
    repository: MilestoneRepository,
) -> None:
    calls: list[StoredRows] = []
    decide = detect_one("m1", 15_000, calls)
    seen = await repository.read_rows(["m1"])
    stale = decide(seen.unpack())
    # Between the read and the write, a POST stores another period for the same mentor.
    await post(repository, "m1", "200", year=2024)
    written = (await repository.change(["m1"], decide, seen=seen, decided=stale)).change
    assert len(calls) == 2
    assert calls[1] != seen.unpack()
    hours = {m.definition_key: m for m in await repository.mentor_milestones("m1")}
    # 200 (2024) + 150 (2025): 300h is reached, which the stale decision (150 alone) did not see.
    assert hours["300h"].status is Status.ACHIEVED
    assert hours["300h"].achieved_value == Decimal("350")
    assert written != stale


async def test_sqlite_notices_rows_written_by_another_process(sqlite_settings: Settings) -> None:
    """SQLite skips re-reading rows when nothing can have changed them (PostgreSQL always compares them
    under the mentors' locks); a commit through another connection to the same file (another worker,
    another bulk run) must still be noticed."""
    settings = sqlite_settings
    ours, theirs = await open_repository(settings), await open_repository(settings)
    try:
        calls: list[StoredRows] = []
        decide = detect_one("m1", 15_000, calls)
        nothing = Change(Cause.BULK, COMMAND_LINE, ["m0"])
        await ours.change(["m0"], decide, seen=await ours.read_rows(["m0"]), decided=nothing)  # ours wrote before
        seen = await ours.read_rows(["m1"])
        stale = decide(seen.unpack())
        await post(theirs, "m1", "200", year=2024)
        await ours.change(["m1"], decide, seen=seen, decided=stale)
    finally:
        await ours.close()
        await theirs.close()
    assert len(calls) == 2
    repository = await open_repository(settings)
    try:
        hours = {m.definition_key: m for m in await repository.mentor_milestones("m1")}
    finally:
        await repository.close()
    assert hours["300h"].status is Status.ACHIEVED


async def test_rows_stream_in_key_order_a_page_at_a_time(repository: MilestoneRepository) -> None:
    """Export's reads: every row once, in key order, in pages no larger than asked, resuming after each page's
    last key (mentor ids chosen so that a plain text comparison and a key-by-key one would differ)."""
    mentors = ["a", "a.b", "ab", "b", "m-1", "m1", "m10", "m2"]
    for index, mentor in enumerate(mentors):
        for year in (2023, 2024):
            await post(repository, mentor, str(40 + index * 30), year=year, contacts=index * 5)
    pages = [page async for page in repository.milestone_rows(page_size=4)]
    assert all(1 <= len(page) <= 4 for page in pages)
    ids = [row.id for page in pages for row in page]
    every = [m.id for mentor in mentors for m in await repository.mentor_milestones(mentor)]
    assert ids == sorted(every)
    assert len(pages) == -(-len(ids) // 4)

    period_pages = [page async for page in repository.period_rows(page_size=3)]
    assert all(1 <= len(page) <= 3 for page in period_pages)
    keys = [(row.mentor_id, row.start_date, row.end_date) for page in period_pages for row in page]
    assert keys == sorted(keys)
    assert len(keys) == 16
    assert all(
        isinstance(row.start_date, str) and isinstance(row.total_hours_centi, int)
        for page in period_pages
        for row in page
    )


async def test_one_mentors_rows_stream_as_one_page(repository: MilestoneRepository) -> None:
    await post(repository, "m1", "150", year=2024)
    await post(repository, "m1", "100", year=2025)
    await post(repository, "m2", "10")
    milestone_pages = [page async for page in repository.milestone_rows("m1", page_size=1)]
    assert [[row.id for row in page] for page in milestone_pages] == [
        [m.id for m in await repository.mentor_milestones("m1")]
    ]
    period_pages = [page async for page in repository.period_rows("m1", page_size=1)]
    assert [[(row.mentor_id, row.start_date) for row in page] for page in period_pages] == [
        [("m1", "2024-01-01"), ("m1", "2025-01-01")]
    ]
    assert [page async for page in repository.period_rows("nobody")] == [[]]
