"""The schema comes from Alembic migrations, which run forwards and backwards on both databases."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import anyio
import asyncpg
import pytest
from alembic import command

from milestones.catalog import catalog_of, load_catalog
from milestones.settings import Settings
from milestones.storage import _alembic_config, head_revision, migrate, open_repository
from milestones.storage.queries import numbered
from tests.database_contents import full_counts


def test_migrate_creates_a_fresh_sqlite_file_with_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "fresh.sqlite3"
    migrate(Settings(database_url=f"sqlite:///{path}"))
    conn = sqlite3.connect(path)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    version = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'milestones'").fetchone()[0]
    conn.close()
    assert {"milestones", "periods", "alembic_version"} <= tables
    assert "WITHOUT ROWID" in ddl
    assert "ck_milestones_id_is_mentor_and_key" in ddl
    assert version == head_revision()


def test_migrations_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cycle.sqlite3'}"
    migrate(Settings(database_url=url))
    command.downgrade(_alembic_config(url), "base")
    conn = sqlite3.connect(tmp_path / "cycle.sqlite3")
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'milestones'").fetchone()[0] == 0
    conn.close()
    migrate(Settings(database_url=url))
    migrate(Settings(database_url=url))  # a second run is a no-op


def test_migrating_twice_is_harmless(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'twice.sqlite3'}")
    migrate(settings)
    migrate(settings)


def test_the_catalog_migration_publishes_the_first_version_and_marks_every_record_with_it(tmp_path: Path) -> None:
    path = tmp_path / "before.sqlite3"
    url = f"sqlite:///{path}"
    command.upgrade(_alembic_config(url), "0009")
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO milestones (id, mentor_id, definition_key, name, type, threshold_centi, position, status, "
        "current_centi, set_by_person) "
        "VALUES ('m~10h', 'm', '10h', 'Ten', 'hours_logged', 1000, 0, 'achieved', 1500, 0)"
    )
    conn.commit()
    conn.close()
    migrate(Settings(database_url=url))
    conn = sqlite3.connect(path)
    versions = conn.execute("SELECT seq, version, content_hash FROM catalog_versions").fetchall()
    marked = conn.execute("SELECT catalog_version FROM milestones").fetchall()
    conn.close()
    first = catalog_of(load_catalog()).version
    assert versions == [(1, first, first)]
    assert marked == [(first,)]
    command.downgrade(_alembic_config(url), "0009")
    conn = sqlite3.connect(path)
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'milestones'").fetchone()[0]
    kept = conn.execute("SELECT id FROM milestones").fetchall()
    conn.close()
    assert "WITHOUT ROWID" in ddl
    assert "catalog_version" not in ddl
    assert kept == [("m~10h",)]


# Rows as revision 0009 stored them: (id, type, status, achieved_at or None, set_by_person).
_OLD_MILESTONES = [
    ("m~10h", "hours_logged", "achieved", "2024-12-31T23:59:59", False),  # a period's end: period_end
    ("m~50h", "hours_logged", "achieved", "2025-06-01T10:00:00", False),  # earlier than its period's end: detected
    ("m~100h", "hours_logged", "achieved", "2025-12-31T23:59:59", True),  # a person's PUT: set_by_person
    ("m~50contacts", "contacts_helped", "in_progress", None, False),  # two periods' counts summed: upper bound
    ("s~50contacts", "contacts_helped", "in_progress", None, False),  # one period's count: exact
]


async def _run(settings: Settings, statements: list[tuple[str, tuple[object, ...]]]) -> list[tuple[object, ...]]:
    """Run statements with `?` placeholders on either database; the rows of the last."""
    if settings.is_sqlite:
        conn = sqlite3.connect(settings.sqlite_path)
        try:
            rows: list[tuple[object, ...]] = []
            for sql, params in statements:
                rows = list(conn.execute(sql, params))
            conn.commit()
            return rows
        finally:
            conn.close()
    pg = await asyncpg.connect(settings.database_url)
    try:
        records: list[asyncpg.Record] = []
        for sql, params in statements:
            records = await pg.fetch(numbered(sql), *params)
        return [tuple(record) for record in records]
    finally:
        await pg.close()


@pytest.mark.anyio
async def test_the_evidence_migration_says_how_stored_dates_were_found_and_marks_summed_contacts(
    settings: Settings,
) -> None:
    config = _alembic_config(settings.database_url)
    await anyio.to_thread.run_sync(command.downgrade, config, "0009")
    try:
        sqlite = settings.is_sqlite

        def day(text: str) -> object:
            return text if sqlite else date.fromisoformat(text)

        def moment(text: str | None) -> object:
            if text is None:
                return None
            return f"{text}.000000Z" if sqlite else datetime.fromisoformat(text).replace(tzinfo=UTC)

        periods = [("m", "2024-01-01", "2024-12-31", 30), ("m", "2025-01-01", "2025-12-31", 25)]
        periods += [("s", "2025-01-01", "2025-12-31", 25), ("s", "2024-01-01", "2024-12-31", 0)]
        statements: list[tuple[str, tuple[object, ...]]] = [
            (
                "INSERT INTO periods (mentor_id, start_date, end_date, year, total_hours_centi,"
                " unique_contacts_helped, activity_count) VALUES (?, ?, ?, 2025, 0, ?, 0)",
                (mentor, day(start), day(end), contacts),
            )
            for mentor, start, end, contacts in periods
        ]
        statements += [
            (
                "INSERT INTO milestones (id, mentor_id, definition_key, name, type, threshold_centi, position, status,"
                " current_centi, achieved_centi, achieved_at, set_by_person) VALUES (?, ?, ?, 'n', ?, 100, 0, ?, 0,"
                " NULL, ?, ?)",
                (id_, id_[0], id_[2:], kind, status, moment(at), set_by_person),
            )
            for id_, kind, status, at, set_by_person in _OLD_MILESTONES
        ]
        await _run(settings, statements)
    finally:
        await anyio.to_thread.run_sync(command.upgrade, config, "head")
    rows = await _run(
        settings, [("SELECT id, achieved_at_precision, value_is_upper_bound FROM milestones ORDER BY id", ())]
    )
    assert {row[0]: (row[1], bool(row[2])) for row in rows} == {
        "m~100h": ("set_by_person", False),
        "m~10h": ("period_end", False),
        "m~50contacts": (None, True),
        "m~50h": ("detected", False),
        "s~50contacts": (None, False),
    }


@pytest.mark.anyio
async def test_the_revocation_migration_allows_revoked_and_keeps_every_row_on_the_way_down_and_up(
    settings: Settings,
) -> None:
    config = _alembic_config(settings.database_url)
    await anyio.to_thread.run_sync(command.downgrade, config, "0012")
    try:
        insert = (
            "INSERT INTO milestones (id, mentor_id, definition_key, name, type, threshold_centi, position, status,"
            " current_centi, set_by_person, catalog_version) VALUES (?, 'm', ?, 'n', 'hours_logged', 1000, 0, ?, 1500,"
            " ?, 'v1')"
        )
        await _run(settings, [(insert, ("m~10h", "10h", "achieved", False))])
        with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
            await _run(settings, [(insert, ("m~50h", "50h", "revoked", False))])
    finally:
        await anyio.to_thread.run_sync(command.upgrade, config, "head")
    # Every stored row is supported and none revoked; revoked is a status the check allows now.
    revoke = "UPDATE milestones SET status = 'revoked', revocation_reason = ? WHERE id = ?"
    rows = await _run(
        settings,
        [
            (revoke, ("counted twice", "m~10h")),
            ("SELECT id, status, revoked_at, revocation_reason, supported FROM milestones", ()),
        ],
    )
    assert [(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows] == [("m~10h", "revoked", None, "counted twice", True)]
    if settings.is_sqlite:
        conn = sqlite3.connect(settings.sqlite_path)
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'milestones'").fetchone()[0]
        conn.close()
        assert "WITHOUT ROWID" in ddl
    # Down again: the revoked milestone is the achieved one it was.
    await anyio.to_thread.run_sync(command.downgrade, config, "0012")
    try:
        rows = await _run(settings, [("SELECT id, status FROM milestones", ())])
        assert rows == [("m~10h", "achieved")]
    finally:
        await anyio.to_thread.run_sync(command.upgrade, config, "head")


@pytest.mark.anyio
async def test_the_mentor_counts_migration_counts_the_rows_already_stored(settings: Settings) -> None:
    config = _alembic_config(settings.database_url)
    await anyio.to_thread.run_sync(command.downgrade, config, "0014")
    try:
        day = (lambda text: text) if settings.is_sqlite else date.fromisoformat
        period = (
            "INSERT INTO periods (mentor_id, start_date, end_date, year, total_hours_centi, unique_contacts_helped,"
            " activity_count) VALUES (?, ?, ?, 2025, 0, 0, 0)"
        )
        milestone = (
            "INSERT INTO milestones (id, mentor_id, definition_key, name, type, threshold_centi, position, status,"
            " current_centi, set_by_person, catalog_version) VALUES (?, ?, ?, 'n', 'hours_logged', 1000, 0, ?, 1500,"
            " ?, 'v1')"
        )
        statements: list[tuple[str, tuple[object, ...]]] = [
            (period, ("a", day("2024-01-01"), day("2024-12-31"))),
            (period, ("a", day("2025-01-01"), day("2025-12-31"))),
            (period, ("b", day("2025-01-01"), day("2025-12-31"))),
            (period, ("c", day("2025-01-01"), day("2025-12-31"))),
        ]
        statements += [
            (milestone, (f"{mentor}~{key}", mentor, key, status, False))
            for mentor, key, status in (
                ("a", "10h", "achieved"),
                ("b", "10h", "achieved"),
                ("c", "10h", "revoked"),
                ("a", "50h", "in_progress"),
                ("b", "50h", "in_progress"),
            )
        ]
        await _run(settings, statements)
    finally:
        await anyio.to_thread.run_sync(command.upgrade, config, "head")
    repository = await open_repository(settings)
    try:
        counts = await repository.mentor_counts()
    finally:
        await repository.close()
    assert counts == {"achieved:10h": 2, "revoked:10h": 1, "in_progress:50h": 2, "with_period": 3}
    assert counts == await full_counts(settings)
