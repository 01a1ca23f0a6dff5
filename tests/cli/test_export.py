"""`milestones export`: milestones and summaries as JSON Lines or CSV, and summaries that `detect` takes back."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import anyio

from milestones.bulk.formats import MILESTONE_COLUMNS, SUMMARY_COLUMNS
from milestones.catalog import load_catalog
from milestones.domain import MilestoneUpdate, Status
from milestones.service import MilestoneService
from milestones.settings import Settings
from milestones.storage import open_repository
from tests.cli.conftest import Command, in_a_process, stored, wipe
from tests.factories import summary_body


def load(milestones: Command, tmp_path: Path, *bodies: object) -> None:
    path = tmp_path / "load.jsonl"
    path.write_text("".join(json.dumps(body) + "\n" for body in bodies))
    assert milestones("detect", str(path)).status == 0


def test_milestones_export_as_stored(database: Settings, milestones: Command, tmp_path: Path) -> None:
    load(
        milestones,
        tmp_path,
        summary_body("a", year=2024, hours=60.25, contacts=3, activities=40),
        summary_body("a", year=2025, hours=50, contacts=3, activities=40),
        summary_body("b", hours=5, contacts=0, activities=0),
    )
    ran = milestones("export")
    assert ran.status == 0
    records = [json.loads(line) for line in ran.out.splitlines()]
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    by_id = {r["id"]: r for r in records}
    assert by_id["a~100h"] == {
        "id": "a~100h",
        "mentor_id": "a",
        "key": "100h",
        "name": "100 Hours Milestone",
        "type": "hours_logged",
        "status": "achieved",
        "threshold": 100,
        "current_value": 110.25,
        "achieved_value": 110.25,
        "achieved_at": "2025-12-31T23:59:59Z",
        "set_by_person": False,
        "revoked_at": None,
        "revocation_reason": None,
        "supported": True,
    }
    assert by_id["b~10h"]["status"] == "in_progress"
    assert by_id["b~10h"]["achieved_value"] is None
    assert by_id["b~10h"]["current_value"] == 5

    one = milestones("export", "--mentor", "b", "--format", "csv")
    rows = list(csv.reader(io.StringIO(one.out)))
    assert rows[0] == list(MILESTONE_COLUMNS)
    assert {row[1] for row in rows[1:]} == {"b"}
    assert rows[1] == [
        "b~10h",
        "b",
        "10h",
        "10 Hours Milestone",
        "hours_logged",
        "in_progress",
        "10",
        "5",
        "",
        "",
        "false",
        "",
        "",
        "true",
    ]


def test_export_writes_to_a_file_and_refuses_a_bad_mentor(
    database: Settings, milestones: Command, tmp_path: Path
) -> None:
    load(milestones, tmp_path, summary_body("a"))
    out = tmp_path / "periods.csv"
    assert (
        milestones("export", "--periods", "--format", "csv", "--output", str(out)).out == f"wrote 1 summary to {out}\n"
    )
    assert out.read_text() == f"{','.join(SUMMARY_COLUMNS)}\na,2025,2025-01-01,2025-12-31,312.5,47,198\n"
    bad = in_a_process("export", "--mentor", "no spaces", cwd=tmp_path)
    assert bad.status == 2
    assert bad.err_lines == [
        "milestones export: argument --mentor: must be 1 to 128 letters, digits or . _ : @ - (and not . or ..), "
        "got 'no spaces' (see milestones export --help)"
    ]


def test_exported_summaries_detected_on_a_fresh_database_give_the_same_milestones(
    database: Settings, milestones: Command, tmp_path: Path
) -> None:
    """The demo's mentors, whose periods have all ended and which nobody changed by hand: export their
    summaries (JSON Lines and CSV), empty the database, detect the export, and every milestone is as before."""
    assert milestones("demo").status == 0
    before = milestones("export").out
    assert before.count("\n") > 200
    for file_format in ("jsonl", "csv"):
        backup = tmp_path / f"backup.{file_format}"
        assert milestones("export", "--periods", "--format", file_format, "--output", str(backup)).status == 0
        wipe(database)
        assert milestones("export").out == ""
        ran = milestones("detect", "--batch-size", "25", str(backup))
        assert ran.status == 0, ran.err
        assert milestones("export").out == before
    assert stored(database, "demo_ada")["demo_ada"]


def test_export_says_when_nothing_was_found(database: Settings, milestones: Command, tmp_path: Path) -> None:
    load(milestones, tmp_path, summary_body("a"))
    nobody = milestones("export", "--mentor", "nobody")
    assert (nobody.status, nobody.out, nobody.err_lines) == (
        0,
        "",
        ["milestones: no milestones stored for the mentor nobody"],
    )
    periods = milestones("export", "--periods", "--mentor", "nobody", "--output", str(tmp_path / "none.jsonl"))
    assert periods.err_lines == ["milestones: no summaries stored for the mentor nobody"]
    assert periods.out == f"wrote 0 summaries to {tmp_path / 'none.jsonl'}\n"
    assert milestones("export", "--mentor", "a").err == ""


def test_export_of_a_database_that_is_not_there_says_so_and_creates_nothing(tmp_path: Path) -> None:
    ran = in_a_process("export", "--output", "out.jsonl", cwd=tmp_path)
    assert ran.status == 2
    assert ran.err_lines == [
        f"milestones: no database at sqlite:///milestones.sqlite3: there is no file {tmp_path / 'milestones.sqlite3'} "
        "(a relative path is relative to the current folder); set MILESTONES_DATABASE_URL, or create one with "
        "`milestones migrate`"
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_revoked_milestone_is_exported_with_when_and_why(
    database: Settings, milestones: Command, tmp_path: Path
) -> None:
    load(milestones, tmp_path, summary_body("r", hours=12, contacts=0, activities=0))

    async def revoke() -> None:
        repository = await open_repository(database)
        try:
            service = MilestoneService(repository, load_catalog(), lambda: datetime(2026, 3, 1, 12, tzinfo=UTC))
            await service.update("r~10h", MilestoneUpdate(status=Status.REVOKED, reason="Counted twice"))
        finally:
            await repository.close()

    anyio.run(revoke)
    ran = milestones("export", "--mentor", "r")
    assert ran.status == 0
    by_id = {r["id"]: r for r in map(json.loads, ran.out.splitlines())}
    assert by_id["r~10h"] | {"achieved_at": None} == {
        "id": "r~10h",
        "mentor_id": "r",
        "key": "10h",
        "name": "10 Hours Milestone",
        "type": "hours_logged",
        "status": "revoked",
        "threshold": 10,
        "current_value": 12,
        "achieved_value": 12,
        "achieved_at": None,
        "set_by_person": True,
        "revoked_at": "2026-03-01T12:00:00Z",
        "revocation_reason": "Counted twice",
        "supported": True,
    }
