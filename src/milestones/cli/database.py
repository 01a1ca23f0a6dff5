"""The configured database as commands use it: migrated when asked, opened for one piece of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from milestones.cli.output import CommandError, one_line, redacted
from milestones.settings import Settings
from milestones.storage import MilestoneRepository, migrate, open_repository


def migrate_database(settings: Settings) -> None:
    try:
        migrate(settings)
    except Exception as exc:  # SQLAlchemy's, asyncpg's or the OS's: the database cannot be reached or written
        cause = exc.__cause__ or exc
        raise CommandError(
            f"the database {redacted(settings.database_url)} cannot be migrated: {type(cause).__name__}: "
            f"{one_line(str(cause).split(chr(10))[0])}"
        ) from None


def migrate_if_asked(settings: Settings) -> None:
    if settings.migrate_on_start:
        migrate_database(settings)


async def with_repository(settings: Settings, work: Callable[[MilestoneRepository], Any]) -> Any:
    async with opened_repository(settings) as repository:
        return await work(repository)


@asynccontextmanager
async def opened_repository(settings: Settings) -> AsyncIterator[MilestoneRepository]:
    repository = await open_repository(settings, batch_job=True)
    try:
        yield repository
    finally:
        await repository.close()
