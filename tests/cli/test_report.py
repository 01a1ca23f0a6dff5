"""`milestones report`: the program report as a table and as CSV, its numbers a full count; usage errors in one line."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest

from milestones.catalog import load_catalog
from milestones.settings import Settings
from tests.cli.conftest import Command
from tests.database_contents import full_counts

LINE = (
    '{"mentor_id":"%s","period":{"year":2025,"start_date":"2025-01-01","end_date":"2025-12-31"},'
    '"summary":{"total_hours":%d,"unique_contacts_helped":3,"activity_count":40}}\n'
)


@pytest.fixture
def stored(database: Settings, milestones: Command, tmp_path: Path) -> Settings:
    lines = tmp_path / "summaries.jsonl"
    lines.write_text("".join(LINE % (f"m_{n}", 20 * n + 5) for n in range(6)))
    assert milestones("detect", str(lines)).status == 0
    return database


def test_csv_lines_equal_a_full_count(stored: Settings, milestones: Command) -> None:
    ran = milestones("report", "--format", "csv")
    assert ran.status == 0, ran.err
    rows = list(csv.DictReader(io.StringIO(ran.out)))
    full = asyncio.run(full_counts(stored))
    assert [row["key"] for row in rows] == [d.key for d in load_catalog()]
    for row in rows:
        assert int(row["achieved"]) == full.get(f"achieved:{row['key']}", 0)
        assert int(row["in_progress"]) == full.get(f"in_progress:{row['key']}", 0)


def test_csv_of_the_stalled_mentors(stored: Settings, milestones: Command) -> None:
    # The periods ended on 2025-12-31, long enough before today; every mentor has a rung in progress.
    ran = milestones("report", "--format", "csv", "--stalled")
    assert ran.status == 0, ran.err
    rows = list(csv.DictReader(io.StringIO(ran.out)))
    assert [row["mentor_id"] for row in rows] == [f"m_{n}" for n in range(6)]
    assert {row["last_period_end"] for row in rows} == {"2025-12-31"}
    assert all(row["in_progress"] for row in rows)


def test_the_table(stored: Settings, milestones: Command) -> None:
    ran = milestones("report")
    assert ran.status == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0].endswith(": 6 mentors with a stored period")
    assert lines[2].split() == ["definition", "achieved", "in", "progress"]
    assert lines[3].split()[:2] == ["10h", "5"]
    assert "stalled (latest period ended more than 21 days ago, a rung in progress): 6" in lines
    none = milestones("report", "--stalled-days", "3650")
    assert "stalled (latest period ended more than 3650 days ago, a rung in progress): 0" in none.out.splitlines()


def test_bad_arguments_are_one_line(
    database: Settings, milestones: Command, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        milestones("report", "--stalled-days", "soon")
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--stalled-days: must be a whole number of days from 0 to 3650" in err[0]
    ran = milestones("report", "--stalled")
    assert ran.status != 0 and ran.err_lines == [
        "milestones: --stalled chooses what --format csv prints; the table shows both"
    ]
