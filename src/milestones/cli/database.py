"""The configured database as commands use it: migrated when asked, opened for one piece of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from milestones.cli.output import CommandError, one_line
from milestones.ops.logs import redacted
from milestones.settings import Settings
from milestones.storage import MilestoneRepository, head_revision, migrate, open_repository


@dataclass(frozen=True)
class Migration:
    """The schema revision a database was at before migrating (None: no schema yet) and after."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def described(self, database: str) -> str:
        if not self.changed:
            return f"the database {database} is already current (schema {self.after})"
        return f"migrated {database} from {self.before or 'no schema'} to schema {self.after}"


def database_named(settings: Settings) -> str:
    """The database's URL, password hidden, and for a SQLite file named relative to the current folder, the
    file it is."""
    shown = redacted(settings.database_url)
    if settings.is_sqlite and not settings.sqlite_path.is_absolute():
        shown += f" (the file {Path.cwd() / settings.sqlite_path})"
    return shown


def migrate_database(settings: Settings) -> Migration:
    try:
        before = migrate(settings)
    except Exception as exc:  # SQLAlchemy's, asyncpg's or the OS's: the database cannot be reached or written
        cause = exc.__cause__ or exc
        if _never_created(exc):
            raise CommandError(
                f"the database {redacted(settings.database_url)} does not exist; create it first (createdb)"
            ) from None
        raise CommandError(
            f"the database {redacted(settings.database_url)} cannot be migrated: {type(cause).__name__}: "
            f"{one_line(str(cause).split(chr(10))[0])}"
        ) from None
    return Migration(before, head_revision())


def _never_created(exc: BaseException | None) -> bool:
    """Whether asyncpg said, somewhere under SQLAlchemy's wrapping, that the database was never created."""
    while exc is not None:
        if type(exc).__name__ == "InvalidCatalogNameError":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def migrate_if_asked(settings: Settings) -> Migration | None:
    return migrate_database(settings) if settings.migrate_on_start else None


def require_database(settings: Settings) -> None:
    """Stops a command that only reads (or changes what is there) when no SQLite database is there, instead of
    creating an empty one: a wrong folder or URL should be said, not hidden. PostgreSQL databases are never
    created by us, so a missing one is already an error."""
    if settings.is_sqlite and not settings.sqlite_path.exists():
        where = settings.sqlite_path if settings.sqlite_path.is_absolute() else Path.cwd() / settings.sqlite_path
        raise CommandError(
            f"no database at {redacted(settings.database_url)}: there is no file {where} (a relative path is "
            "relative to the current folder); set MILESTONES_DATABASE_URL, or create one with `milestones migrate`"
        )
    migrate_if_asked(settings)


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
