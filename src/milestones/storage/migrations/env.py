"""Alembic environment: runs the migrations against the URL that `milestones.storage.migrate` passes."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, MetaData, create_engine, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from milestones.storage.queries import LOCK_MIGRATIONS

# Stable constraint names, so later migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
target_metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several hosts may migrate one database at once: the first takes the lock and migrates, the
            # others wait for its commit, then read the version it wrote and have nothing left to do.
            # (SQLite is one machine's file, migrated by `serve`'s parent process before its workers start.)
            connection.execute(text(LOCK_MIGRATIONS))
        # The revision found under the lock is the one this run migrated from (what `migrate` reports).
        context.config.attributes["revision_before"] = context.get_context().get_current_revision()
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def main() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    if url.startswith("postgresql+asyncpg://"):
        asyncio.run(_run_async(url))
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


main()
