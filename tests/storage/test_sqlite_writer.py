"""The SQLite writer: a writer stuck in another process yields a 503, and the withdrawn write never lands."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import pytest

from milestones.domain import rules
from milestones.domain.changes import ANONYMOUS, Change
from milestones.domain.rows import StoredRows, encode_time, period_to_row
from milestones.errors import DatabaseUnavailable
from milestones.settings import Settings
from milestones.storage import open_repository, sqlite
from tests.factories import ladder, period

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def add_hours(mentor_id: str) -> Callable[[StoredRows], Change]:
    row = period_to_row(mentor_id, period(date(2025, 1, 1), hours="5"))
    return partial(
        rules.record_summaries, [(1, row)], catalog=rules.RuleCatalog(ladder()), now=encode_time(NOW), actor=ANONYMOUS
    )


async def test_a_stuck_writer_elsewhere_gives_503_and_the_write_is_withdrawn(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "writer.sqlite3"
    shutil.copyfile(sqlite_template, path)
    monkeypatch.setattr(sqlite, "_BUSY_TIMEOUT_MS", 300)
    holder = os.open(path.with_name(path.name + ".write-lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another process's writer, stuck mid-transaction
    repository = await open_repository(Settings(database_url=f"sqlite:///{path}"))
    try:
        with pytest.raises(DatabaseUnavailable):
            await repository.change(["m"], add_hours("m"))
        fcntl.flock(holder, fcntl.LOCK_UN)  # the stuck writer lets go
        # The next write runs normally, and the withdrawn one was never applied.
        result = await repository.change(["other"], add_hours("other"))
        assert result.change.writes_anything
        assert await repository.periods("m") == []
    finally:
        os.close(holder)
        await repository.close()


def test_workers_opening_a_new_file_at_once_all_start(tmp_path: Path) -> None:
    """Two workers of `serve` open the file at the same moment; the one that loses the race to put it in WAL
    mode tries again instead of failing its start-up ("database is locked")."""
    for attempt in range(20):
        path = tmp_path / f"race-{attempt}.sqlite3"
        sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()  # a new file, not yet WAL
        start = threading.Barrier(4)
        failures: list[BaseException] = []
        threads = [threading.Thread(target=open_at_once, args=(path, start, failures)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def open_at_once(path: Path, start: threading.Barrier, failures: list[BaseException]) -> None:
    start.wait()
    try:
        sqlite.connect(path, read_only=True).close()
    except BaseException as exc:  # collected for the test's assertion
        failures.append(exc)
