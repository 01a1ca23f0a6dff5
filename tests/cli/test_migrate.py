"""`milestones migrate` as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from milestones.catalog import catalog_of, load_catalog
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
    version = catalog_of(load_catalog()).version
    settled = f"the stored catalog's latest version is {version}, as in the packaged catalog\n"
    assert first.out == f"migrated {shown} from no schema to schema {head_revision()}\n" + settled
    again = in_a_process("migrate", cwd=tmp_path)
    assert again.out == f"the database {shown} is already current (schema {head_revision()})\n" + settled


def test_migrate_publishes_the_configured_catalog_first_and_then_says_a_file_differs(tmp_path: Path) -> None:
    custom = tmp_path / "custom.toml"
    custom.write_text(
        'version = "ours-1"\n[[milestone]]\nkey = "a"\nname = "A"\ntype = "hours_logged"\nthreshold = 1\n'
    )
    first = in_a_process("migrate", cwd=tmp_path, env={"MILESTONES_CATALOG_PATH": str(custom)})
    assert first.out.splitlines()[1] == f"the stored catalog's latest version is ours-1, as in {custom}"
    other = in_a_process("migrate", cwd=tmp_path)
    assert other.status == 0
    assert other.out.splitlines()[1] == (
        "the stored catalog's latest version is ours-1, which the packaged catalog differs from; serving ours-1 "
        "(publish the file with `milestones catalog publish`, or `serve --publish-catalog`)"
    )
