"""Shared fixtures: a migrated database per backend, the real ASGI app on it, a controllable clock."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from milestones.settings import Settings
from milestones.storage import migrate
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.redis_server import RedisServer

POSTGRES_URL = os.environ.get("MILESTONES_TEST_POSTGRES_URL")
# Every PostgreSQL test carries the `postgres` marker (`-m "not postgres"` runs without a server).
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class FakeClock:
    """A clock the tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need MILESTONES_TEST_POSTGRES_URL (CI sets it; see README)")
    import anyio

    name = f"milestones_test_{uuid.uuid4().hex[:12]}"
    base, _, _ = POSTGRES_URL.rpartition("/")
    url = f"{base}/{name}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    anyio.run(admin, f'CREATE DATABASE "{name}"')
    try:
        migrate(Settings(database_url=url))
        yield url
    finally:
        anyio.run(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated by Alembic; each test gets a copy instead of migrating again."""
    path = tmp_path_factory.mktemp("template") / "milestones.sqlite3"
    migrate(Settings(database_url=f"sqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_settings(sqlite_template: Path, tmp_path: Path) -> Settings:
    """Settings for a migrated, empty SQLite file, for what only SQLite has."""
    path = tmp_path / "milestones.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return Settings(database_url=f"sqlite:///{path}")


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "milestones.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield Settings(database_url=f"sqlite:///{path}")
        return
    url = request.getfixturevalue("postgres_database")
    yield Settings(database_url=url)
    import anyio

    async def truncate() -> None:
        conn = await asyncpg.connect(url)
        try:
            # Every table the migrations made, so that a table a later migration adds starts empty too.
            tables = await conn.fetchval(
                "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY")
        finally:
            await conn.close()

    anyio.run(truncate)


@pytest.fixture
def empty_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database of this test's own, without any schema (nothing migrated), dropped after."""
    from tests.reliability.servers import create_postgres_database, drop_postgres_database

    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need MILESTONES_TEST_POSTGRES_URL (CI sets it; see README)")
    url = create_postgres_database(migrated=False)
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (on a free port), stopped afterwards."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> FrontDoor:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: FrontDoor) -> AsyncIterator[AsyncTestClient[FrontDoor]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client
