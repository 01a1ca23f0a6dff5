"""The schema comes from Alembic migrations, which run forwards and backwards on both databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from milestones.catalog import catalog_of, load_catalog
from milestones.settings import Settings
from milestones.storage import _alembic_config, head_revision, migrate


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
