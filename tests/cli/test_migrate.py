"""`milestones migrate` as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from milestones.storage import head_revision
from tests.cli.conftest import in_a_process
from tests.served import clean_environment, milestones_command


def test_migrate_creates_the_configured_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'm.sqlite3'}"
    result = subprocess.run(
        milestones_command("migrate"),
        env=clean_environment(MILESTONES_DATABASE_URL=url),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "db" / "m.sqlite3").exists()


def test_migrate_says_from_which_revision_to_which_or_that_it_is_current(tmp_path: Path) -> None:
    first = in_a_process("migrate", cwd=tmp_path)
    assert (first.status, first.err) == (0, "")
    shown = f"sqlite:///milestones.sqlite3 (the file {tmp_path / 'milestones.sqlite3'})"
    assert first.out == f"migrated {shown} from no schema to schema {head_revision()}\n"
    again = in_a_process("migrate", cwd=tmp_path)
    assert again.out == f"the database {shown} is already current (schema {head_revision()})\n"
