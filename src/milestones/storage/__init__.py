"""Persistence: the repository interface, its SQLite and PostgreSQL back ends, and migrations."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from milestones.catalog import CatalogVersion, catalog_of, load_catalog_file
from milestones.settings import Settings
from milestones.storage.base import MilestoneQuery, MilestoneRepository
from milestones.storage.postgres import PostgresRepository, asyncpg_dsn
from milestones.storage.sqlite import SqliteRepository, connect

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MilestoneQuery",
    "MilestoneRepository",
    "configured_catalog",
    "head_revision",
    "migrate",
    "open_repository",
]


# Alembic (and SQLAlchemy under it) is imported only when migrating: it is never on the request path.


def _alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    if database_url.startswith("sqlite:///"):
        url = database_url
    else:
        url = "postgresql+asyncpg://" + asyncpg_dsn(database_url).removeprefix("postgresql://")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(settings: Settings) -> str | None:
    """Bring the configured database's schema up to the newest migration, creating SQLite files as needed;
    returns the revision it was at before (None: no schema yet). On PostgreSQL that revision is read under
    the migration lock, so of several hosts migrating a fresh database at once exactly one finds none. The
    migration that stores the catalog publishes the configured file (or the packaged one) as its first version."""
    from alembic import command

    if settings.is_sqlite:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    config = _alembic_config(settings.database_url)
    config.attributes["catalog"] = partial(configured_catalog, settings)
    command.upgrade(config, "head")
    if settings.is_sqlite:
        # WAL from here on, before any worker starts: workers opening a new file at once would race to set it.
        connect(settings.sqlite_path).close()
    before = config.attributes.get("revision_before")
    return str(before) if before is not None else None


def configured_catalog(settings: Settings) -> CatalogVersion:
    """The catalog file the settings name (MILESTONES_CATALOG_PATH), or the packaged one, as a version to publish."""
    read = load_catalog_file(settings.catalog_path)
    return catalog_of(read.definitions, read.version)


def head_revision() -> str | None:
    """The newest migration shipped with this version of the code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite:///unused")).get_current_head()


async def open_repository(settings: Settings, *, batch_job: bool = False) -> MilestoneRepository:
    """The configured database's repository. A batch job (bulk detection) does nothing but write, so SQLite
    writes on its calling thread: a writer thread would only wait on the GIL for the busy main thread."""
    if settings.is_sqlite:
        return SqliteRepository(settings.sqlite_path, inline_writes=batch_job)
    return await PostgresRepository.open(
        settings.database_url,
        settings.postgres_pool_size,
        connect_timeout=settings.postgres_connect_timeout_seconds,
        timeout=settings.postgres_timeout_seconds,
        # A batch job writes; reads routed to replicas are the service's.
        replica_urls=() if batch_job else settings.database_replica_urls,
        replica_max_lag=settings.replica_max_lag_seconds,
    )
