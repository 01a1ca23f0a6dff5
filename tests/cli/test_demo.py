"""`milestones demo`: the demo data set goes in through the write path, and reads show it at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar.testing import TestClient

from milestones.bulk.demo import DEMO_MENTORS
from milestones.cli import run
from milestones.settings import Settings
from milestones.web.app import create_app
from tests.cli.conftest import in_a_process, stored


def test_demo_then_a_read(settings: Settings, tmp_path: Path) -> None:
    """In a process of its own: this test builds the app, whose logging must not be bound to a captured stream."""
    env = {"MILESTONES_DATABASE_URL": settings.database_url}
    ran = in_a_process("demo", cwd=tmp_path, env=env)
    assert ran.status == 0, ran.err
    assert ran.out.startswith(f"demo loaded: {len(DEMO_MENTORS)} mentors, ")
    every = stored(settings, *(f"demo_{name}" for name in DEMO_MENTORS))
    assert all(every.values())
    achieved = {m.definition_key for milestones in every.values() for m in milestones if m.status == "achieved"}
    assert {"10h", "100h", "500h", "1000h", "10contacts", "50contacts"} <= achieved  # the whole range shows

    with TestClient(app=create_app(settings)) as client:
        in_progress = client.get("/api/v1/milestones/demo_ada/in-progress")
        assert in_progress.status_code == 200
        assert in_progress.json()["data"]
        listing = client.get("/api/v1/milestones", params={"status": "achieved", "limit": 5})
        assert listing.json()["pagination"]["total"] > 100

    again = in_a_process("demo", cwd=tmp_path, env=env)
    assert again.status == 0
    assert again.out.startswith("demo already loaded, nothing changed")
    assert stored(settings, *(f"demo_{name}" for name in DEMO_MENTORS)) == every


def test_demo_creates_and_migrates_a_new_sqlite_file_and_says_what_it_wrote_where(tmp_path: Path) -> None:
    ran = in_a_process("demo", cwd=tmp_path)
    assert ran.status == 0, ran.err
    assert (tmp_path / "milestones.sqlite3").exists()
    said = ran.out.splitlines()[0]
    assert re.fullmatch(
        rf"demo loaded: {len(DEMO_MENTORS)} mentors, [\d,]+ summaries for \d{{4}}-\d{{4}} and [\d,]+ milestones "
        r"written \([\d,]+ newly achieved\), into sqlite:///milestones.sqlite3 "
        rf"\(the file {re.escape(str(tmp_path / 'milestones.sqlite3'))}\)",
        said,
    ), said
    assert "curl -s localhost:8000/api/v1/milestones/demo_ada/in-progress" in ran.out


@pytest.mark.parametrize("command", ["", "serve", "migrate", "detect", "export", "catalog", "catalog check", "demo"])
def test_every_command_has_help_with_examples(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exited:
        run([*command.split(), "--help"])
    assert exited.value.code == 0
    assert "\nexamples:\n  milestones " in capsys.readouterr().out
