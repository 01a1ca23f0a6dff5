"""Fixtures for the command line's tests: a configured database, and the command run in this process."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from milestones.cli import main, run
from milestones.domain import Milestone
from milestones.settings import Settings
from milestones.storage import open_repository
from tests.served import clean_environment, milestones_command


@dataclass(frozen=True)
class Ran:
    """A command's exit status and what it printed."""

    status: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


Command = Callable[..., Ran]


@pytest.fixture
def database(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The `settings` database (each backend) as the command's configuration, already migrated."""
    monkeypatch.setenv("MILESTONES_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MILESTONES_MIGRATE_ON_START", "false")
    for name in ("TTY_COMPATIBLE", "FORCE_COLOR", "MILESTONES_CATALOG_PATH"):
        monkeypatch.delenv(name, raising=False)
    return settings


@pytest.fixture
def milestones(capsys: pytest.CaptureFixture[str]) -> Command:
    """`milestones ARGS` run in this process: its exit status and output."""

    def command(*args: str) -> Ran:
        status = run(list(args))
        captured = capsys.readouterr()
        return Ran(status, captured.out, captured.err)

    return command


def run_cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, *args: str, **env: str) -> int:
    """`milestones *args` in this process, configured only by `settings`' database and `env`."""
    for name in [n for n in os.environ if n.startswith("MILESTONES_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MILESTONES_DATABASE_URL", settings.database_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def in_a_process(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: bytes | None = None) -> Ran:
    """`milestones ARGS` as a user runs it, in its own process, configured only by `env`."""
    done = subprocess.run(
        milestones_command(*args),
        cwd=cwd,
        env=clean_environment(**(env or {})),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return Ran(done.returncode, done.stdout.decode(), done.stderr.decode())


def stored(settings: Settings, *mentors: str) -> dict[str, list[Milestone]]:
    """The mentors' stored milestones, read through the repository."""

    async def read() -> dict[str, list[Milestone]]:
        repository = await open_repository(settings)
        try:
            return {mentor: await repository.mentor_milestones(mentor) for mentor in mentors}
        finally:
            await repository.close()

    return asyncio.run(read())


def wipe(settings: Settings) -> None:
    """Empty the database's tables, leaving its schema: a fresh database for a round trip."""
    if settings.is_sqlite:
        with sqlite3.connect(settings.sqlite_path) as conn:
            conn.execute("DELETE FROM milestones")
            conn.execute("DELETE FROM periods")
        return

    async def truncate() -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute("TRUNCATE milestones, periods, history RESTART IDENTITY")
        finally:
            await conn.close()

    asyncio.run(truncate())
