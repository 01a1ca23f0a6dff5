"""`milestones migrate` as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from milestones.storage import head_revision
from tests.cli.conftest import in_a_process
from tests.deployment import HOST_ADDRESSES
from tests.reliability.servers import Service, postgres_rows, run, running
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


@pytest.mark.postgres
def test_three_migrate_commands_at_once_on_a_fresh_database_migrate_it_once(
    empty_postgres_database: str, tmp_path: Path
) -> None:
    """Started together, as three hosts' deployment steps would be: one migrates while the others wait on the
    lock, then find the schema current. Without the lock they would race to create the same tables, and all
    but one would fail."""
    env = clean_environment(MILESTONES_DATABASE_URL=empty_postgres_database)
    commands = [
        subprocess.Popen(milestones_command("migrate"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    said = [command.communicate(timeout=120) for command in commands]
    assert [command.returncode for command in commands] == [0, 0, 0], said
    assert [err for _, err in said] == [b"", b"", b""]
    shown = empty_postgres_database
    assert sorted(out.decode() for out, _ in said) == [
        f"migrated {shown} from no schema to schema {head_revision()}\n",
        f"the database {shown} is already current (schema {head_revision()})\n",
        f"the database {shown} is already current (schema {head_revision()})\n",
    ]


@pytest.mark.postgres
def test_three_hosts_serving_at_once_on_a_fresh_database_migrate_it_once(
    empty_postgres_database: str, tmp_path: Path
) -> None:
    """`serve` migrates before it starts its workers, under the same lock: three hosts started together all
    become ready on the one schema, and exactly one of them says it migrated it."""
    hosts = [
        Service(empty_postgres_database, tmp_path / f"api{n}", host=address, MILESTONES_LOG_LEVEL="info")
        for n, address in enumerate(HOST_ADDRESSES, start=1)
    ]
    with running(*hosts):
        ready = [httpx.get(f"{host.base_url}/readyz", timeout=10).json() for host in hosts]
    assert ready == [{"status": "ready"}] * 3
    logs = [host.log_text() for host in hosts]
    migrated = [log.count(f"database migrated from no schema to schema {head_revision()}") for log in logs]
    assert sorted(migrated) == [0, 0, 1], logs
    versions = run(postgres_rows(empty_postgres_database, "SELECT version_num FROM alembic_version"))
    assert [row[0] for row in versions] == [head_revision()]
