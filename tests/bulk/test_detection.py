"""Bulk detection: a JSON Lines file gives the same stored state as posting each line, and a re-run changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from milestones.bulk.detection import Rejected, detect_lines
from milestones.catalog import load_catalog
from milestones.domain import LostThreshold, Milestone, Status
from milestones.settings import Settings
from milestones.storage import open_repository
from milestones.web.app import create_app
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def lines(*bodies: object) -> list[bytes]:
    return [json.dumps(b).encode() if not isinstance(b, bytes) else b for b in bodies]


def comparable(milestones: list[Milestone]) -> list[tuple[object, ...]]:
    return [
        (
            m.definition_key,
            m.status,
            m.current_value,
            m.achieved_value,
            m.achieved_at,
            m.set_by_person,
            m.achieved_at_precision,
            m.value_is_upper_bound,
        )
        for m in milestones
    ]


async def test_bulk_stores_the_same_state_as_posting_each_line(settings: Settings) -> None:
    bodies = [
        summary_body("a", year=2024, hours=60, contacts=20, activities=40),
        summary_body("a", year=2025, hours=60.25, contacts=20, activities=40),
        summary_body("b", hours=5),
    ]
    async with AsyncTestClient(app=create_app(settings, clock=FakeClock(NOW))) as client:
        for body in bodies:
            response = await client.post("/api/v1/milestones", json={**body, "mentor_id": "api-" + body["mentor_id"]})
            assert response.status_code == 201
    rejected: list[Rejected] = []
    repository = await open_repository(settings)
    try:
        report = await detect_lines(lines(*bodies), repository, load_catalog(), NOW, rejected.append, batch_size=2)
        for mentor in ("a", "b"):
            bulk = await repository.mentor_milestones(mentor)
            posted = await repository.mentor_milestones("api-" + mentor)
            assert comparable(bulk) == comparable(posted)
            assert await repository.periods(mentor) == await repository.periods("api-" + mentor)
    finally:
        await repository.close()
    assert rejected == []
    assert report.summaries == 3
    assert report.mentors_changed == 2


async def test_bulk_lines_with_evidence_store_what_their_posts_store(settings: Settings) -> None:
    """Identifiers, dated activity and names on JSON Lines lines: the union, the crossing day and the name as POST
    gives them, across batches sharing a mentor; a mix of plain and hashed identifiers is refused as a line."""
    bodies = [
        summary_body("a", year=2024, hours=8, activities=1, contacts=6, identifiers=[f"c-{n}" for n in range(6)],
                     dated=[["2024-12-01", 8, "c-0"]], display_name="First name"),
        summary_body("b", year=2025, hours=3, contacts=2),
        summary_body("a", year=2025, hours=3, activities=2, contacts=5, display_name="Ada",
                     identifiers=[f"c-{n}" for n in range(3, 8)],
                     dated=[["2025-03-02", 1.5, "c-6"], ["2025-03-09", 1.5, "c-7"]]),
        summary_body("b", year=2024, hours=1, contacts=1, identifiers=["sha256:" + "ab" * 32]),
        summary_body("b", year=2023, hours=1, contacts=1, identifiers=["plain"]),
    ]  # fmt: skip
    async with AsyncTestClient(app=create_app(settings, clock=FakeClock(NOW))) as client:
        statuses = []
        for body in bodies:
            response = await client.post("/api/v1/milestones", json={**body, "mentor_id": "api-" + body["mentor_id"]})
            statuses.append(response.status_code)
        assert statuses == [201, 201, 201, 201, 422]
    rejected: list[Rejected] = []
    repository = await open_repository(settings)
    try:
        await detect_lines(lines(*bodies), repository, load_catalog(), NOW, rejected.append, batch_size=2)
        for mentor in ("a", "b"):
            bulk = await repository.mentor_milestones(mentor)
            posted = await repository.mentor_milestones("api-" + mentor)
            assert comparable(bulk) == comparable(posted)
            assert await repository.periods(mentor) == await repository.periods("api-" + mentor)
        contacts = next(m for m in await repository.mentor_milestones("a") if m.definition_key == "10contacts")
        assert (contacts.current_value, contacts.value_is_upper_bound) == (Decimal(8), False)
        hours = next(m for m in await repository.mentor_milestones("a") if m.definition_key == "10h")
        assert (hours.achieved_at, hours.achieved_at_precision) == (datetime(2025, 3, 9, 23, 59, 59, tzinfo=UTC), "day")
        assert await repository.display_name("a") == await repository.display_name("api-a") == "Ada"
    finally:
        await repository.close()
    assert [(r.line, r.errors[0][0]) for r in rejected] == [(5, "period")]


async def test_batches_sharing_a_mentor_apply_in_line_order(settings: Settings) -> None:
    """One line per batch: each batch's rows are read before the batch ahead of it is written, and the
    later batches are detected in the second process, so this takes the re-evaluation path."""
    bodies = [
        summary_body("a", year=2023, hours=40, contacts=5),
        summary_body("b", year=2023, hours=5),
        summary_body("a", year=2024, hours=40, contacts=5),
        summary_body("a", year=2025, hours=40, contacts=20),
        summary_body("a", year=2024, hours=70, contacts=5),  # a correction of the 2024 period
    ]
    async with AsyncTestClient(app=create_app(settings, clock=FakeClock(NOW))) as client:
        for body in bodies:
            response = await client.post("/api/v1/milestones", json={**body, "mentor_id": "api-" + body["mentor_id"]})
            assert response.status_code == 201
    repository = await open_repository(settings)
    try:
        report = await detect_lines(lines(*bodies), repository, load_catalog(), NOW, lambda r: None, batch_size=1)
        for mentor in ("a", "b"):
            bulk = await repository.mentor_milestones(mentor)
            assert comparable(bulk) == comparable(await repository.mentor_milestones("api-" + mentor))
            assert await repository.periods(mentor) == await repository.periods("api-" + mentor)
    finally:
        await repository.close()
    assert report.summaries == 5
    assert report.periods_written == 5


async def test_rerunning_a_file_changes_nothing(settings: Settings) -> None:
    data = lines(*(summary_body(f"m{i}", hours=i * 10, contacts=i, activities=i * 3) for i in range(30)))
    repository = await open_repository(settings)
    try:
        first = await detect_lines(data, repository, load_catalog(), NOW, lambda r: None, batch_size=7)
        before = [await repository.mentor_milestones(f"m{i}") for i in range(30)]
        second = await detect_lines(data, repository, load_catalog(), NOW, lambda r: None, batch_size=7)
        after = [await repository.mentor_milestones(f"m{i}") for i in range(30)]
    finally:
        await repository.close()
    assert first.milestones_written > 30
    assert (second.mentors_changed, second.periods_written, second.milestones_written) == (0, 0, 0)
    assert before == after


async def test_bad_lines_are_reported_and_skipped(settings: Settings) -> None:
    data = lines(
        summary_body("ok"),
        b"not json",
        summary_body("bad", contacts=4.5),
        summary_body("ok", start_date="2025-06-01", end_date="2026-05-31", year=2025),  # overlaps line 1
        b"",
        summary_body("ok2"),
    )
    rejected: list[Rejected] = []
    repository = await open_repository(settings)
    try:
        report = await detect_lines(data, repository, load_catalog(), NOW, rejected.append)
        stored_bad = await repository.periods("bad")
        stored_ok = await repository.periods("ok")
    finally:
        await repository.close()
    assert [r.line for r in rejected] == [2, 3, 4]
    assert rejected[1].errors == (("summary.unique_contacts_helped", "must be a whole number from 0 to 10,000,000"),)
    assert rejected[2].errors[0][0] == "period"
    assert "overlaps" in rejected[2].errors[0][1]
    assert rejected[2].text == data[3]
    assert report.summaries == 2
    assert report.rejected == 3
    assert stored_bad == []
    assert len(stored_ok) == 1


def test_detect_command_prints_a_report(tmp_path: Path) -> None:
    path = tmp_path / "summaries.jsonl"
    path.write_text("\n".join(json.dumps(summary_body(f"cli-{i}")) for i in range(5)) + "\n")
    env = {"MILESTONES_DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "milestones", "detect", "--json", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summaries"] == 5
    assert report["mentors_changed"] == 5
    path.write_text('{"mentor_id": "x"}\n')
    bad = subprocess.run(
        [sys.executable, "-m", "milestones", "detect", str(path)], env=env, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1
    assert "line 1:" in bad.stderr


async def test_a_line_that_repeats_a_key_is_refused_as_post_refuses_it(settings: Settings) -> None:
    plain = json.dumps(summary_body("twice"))
    repeated = plain.replace('"summary"', '"mentor_id": "other", "summary"').encode()
    escaped = plain.replace('"summary"', '"mentor\\u005fid": "other", "summary"').encode()
    rejected: list[Rejected] = []
    repository = await open_repository(settings)
    try:
        report = await detect_lines(
            [repeated, escaped, plain.encode()], repository, load_catalog(), NOW, rejected.append
        )
        assert await repository.periods("other") == []
        assert len(await repository.periods("twice")) == 1
    finally:
        await repository.close()
    assert [(r.line, r.errors) for r in rejected] == [
        (1, (("mentor_id", "is given twice"),)),
        (2, (("mentor_id", "is given twice"),)),
    ]
    assert report.summaries == 1


async def test_a_revoked_milestone_stays_revoked_through_a_bulk_run(settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(settings, clock=FakeClock(NOW))) as client:
        assert (await client.post("/api/v1/milestones", json=summary_body("r", hours=12))).status_code == 201
        revoke = {"status": "revoked", "reason": "Entered for the wrong mentor"}
        assert (await client.put("/api/v1/milestones/r~10h", json=revoke)).status_code == 200
    repository = await open_repository(settings)
    try:
        # The same period with more hours, and a new one: detection would award 10h many times over.
        data = lines(summary_body("r", hours=80), summary_body("r", year=2024, hours=30))
        report = await detect_lines(data, repository, load_catalog(), NOW, lambda r: None, batch_size=1)
        stored = {m.definition_key: m for m in await repository.mentor_milestones("r")}
    finally:
        await repository.close()
    assert report.summaries == 2
    assert stored["10h"].status is Status.REVOKED
    assert stored["10h"].revocation_reason == "Entered for the wrong mentor"
    assert stored["100h"].status is Status.ACHIEVED


async def test_a_bulk_correction_below_a_threshold_follows_the_setting(settings: Settings) -> None:
    repository = await open_repository(settings)
    try:
        first = lines(summary_body("k", hours=60), summary_body("v", hours=60))
        await detect_lines(first, repository, load_catalog(), NOW, lambda r: None)
        corrected = lines(summary_body("k", hours=40), summary_body("v", hours=40))
        for mentor, on_lost in (("k", LostThreshold.KEEP), ("v", LostThreshold.REVOKE)):
            line = [body for body in corrected if json.loads(body)["mentor_id"] == mentor]
            await detect_lines(line, repository, load_catalog(), NOW, lambda r: None, on_lost_threshold=on_lost)
        kept = {m.definition_key: m for m in await repository.mentor_milestones("k")}
        revoked = {m.definition_key: m for m in await repository.mentor_milestones("v")}
    finally:
        await repository.close()
    assert (kept["50h"].status, kept["50h"].supported) == (Status.ACHIEVED, False)
    assert (revoked["50h"].status, revoked["50h"].revocation_reason) == (Status.REVOKED, "data corrected")
    assert kept["10h"].supported and revoked["10h"].status is Status.ACHIEVED
