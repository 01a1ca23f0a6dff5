"""`milestones migrate` as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
