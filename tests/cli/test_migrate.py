"""`milestones migrate` as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from milestones.storage import head_revision
from tests.cli.conftest import in_a_process
from tests.deployment import HOST_ADDRESSES
from tests.reliability.servers import Service, postgres_rows, run
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
def test_two_hosts_serving_and_a_migrate_command_at_once_on_a_fresh_database_migrate_it_once(
    empty_postgres_database: str, tmp_path: Path
) -> None:
    """`serve` migrates before it starts its workers, and `migrate` is a deployment's separate step; both take
    the migration lock. Started together on a fresh database, one of the three migrates it while the others
    wait, then find it current; both hosts become ready on the one schema. Without the lock they would race
    to create the same tables, and all but one would fail."""
    hosts = [
        Service(empty_postgres_database, tmp_path / f"api{n}", host=address, MILESTONES_LOG_LEVEL="info")
        for n, address in enumerate(HOST_ADDRESSES[:2], start=1)
    ]
    env = clean_environment(MILESTONES_DATABASE_URL=empty_postgres_database)
    try:
        for host in hosts:
            host.launch()
        command = subprocess.Popen(
            milestones_command("migrate"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        said, errors = command.communicate(timeout=120)
        for host in hosts:
            host.wait_ready(120)
        ready = [httpx.get(f"{host.base_url}/readyz", timeout=10).json() for host in hosts]
    finally:
        for host in hosts:
            host.stop()
    assert ready == [{"status": "ready"}] * 2
    assert (command.returncode, errors) == (0, b"")
    migrated = [
        host.log_text().count(f"database migrated from no schema to schema {head_revision()}") for host in hosts
    ]
    migrated.append(said.decode().startswith("migrated "))
    assert sorted(migrated) == [0, 0, 1], (migrated, said)
    if not migrated[-1]:
        assert (
            said.decode() == f"the database {empty_postgres_database} is already current (schema {head_revision()})\n"
        )
    versions = run(postgres_rows(empty_postgres_database, "SELECT version_num FROM alembic_version"))
    assert [row[0] for row in versions] == [head_revision()]
