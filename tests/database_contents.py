"""Everything a test database holds, read table by table on either backend: for tests that must show what is
(and is not) stored anywhere, whatever tables later migrations add."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import asyncpg

from milestones.settings import Settings


async def table_columns(settings: Settings) -> dict[str, set[str]]:
    """Every table of the migrated schema and its columns."""
    if settings.is_sqlite:
        with sqlite3.connect(settings.sqlite_path) as conn:
            names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {
                name: {row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')}
                for name in names
                if not name.startswith("sqlite_")
            }
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    tables: dict[str, set[str]] = {}
    for row in rows:
        tables.setdefault(row["table_name"], set()).add(row["column_name"])
    return tables


async def rows_as_text(settings: Settings) -> dict[str, list[str]]:
    """Every row of every table, each as one text holding all its values: text and JSON as they are, binary
    columns decoded byte for byte (so an id inside a stored body or MessagePack shows), numbers and times
    as text. Rows in a stable order, so two reads compare equal when nothing changed."""
    tables = await table_columns(settings)
    contents: dict[str, list[str]] = {}
    if settings.is_sqlite:
        with sqlite3.connect(settings.sqlite_path) as conn:
            for table in tables:
                rows = [" | ".join(map(_text, row)) for row in conn.execute(f'SELECT * FROM "{table}"')]
                contents[table] = sorted(rows)
        return contents
    conn = await asyncpg.connect(settings.database_url)
    try:
        for table in tables:
            records = await conn.fetch(f'SELECT * FROM "{table}"')
            contents[table] = sorted(" | ".join(map(_text, record.values())) for record in records)
    finally:
        await conn.close()
    return contents


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


async def events_settled(settings: Settings, timeout: float = 30.0) -> None:
    """On PostgreSQL, wait until every transaction that began before now has ended, so the event feed's horizon
    (the oldest running transaction, server-wide) is past everything written so far. Other sessions on a shared
    server hold it back for as long as their transactions run; SQLite's feed has no horizon to wait for."""
    if settings.is_sqlite:
        return
    conn = await asyncpg.connect(settings.database_url)
    try:
        # A transaction of its own, with an id above every write before it.
        now = int(await conn.fetchval("SELECT pg_current_xact_id()::text"))
        deadline = time.monotonic() + timeout
        while int(await conn.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")) <= now:
            assert time.monotonic() < deadline, "a transaction on the server held the feed's horizon back"
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


_FULL_COUNTS = (
    "SELECT status || ':' || definition_key, count(*) FROM milestones GROUP BY status, definition_key",
    "SELECT 'with_period', count(DISTINCT mentor_id) FROM periods",
)


async def full_counts(settings: Settings) -> dict[str, int]:
    """The mentor counts as a full scan of the milestones and periods finds them (what the write path's kept counts
    must equal): mentors by status and definition, and mentors with a period; nonzero ones only."""
    rows: list[tuple[str, int]] = []
    if settings.is_sqlite:
        with sqlite3.connect(settings.sqlite_path) as conn:
            for statement in _FULL_COUNTS:
                rows.extend(conn.execute(statement).fetchall())
    else:
        conn = await asyncpg.connect(settings.database_url)
        try:
            for statement in _FULL_COUNTS:
                rows.extend(tuple(record) for record in await conn.fetch(statement))
        finally:
            await conn.close()
    return {counted: int(count) for counted, count in rows if count}


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {counted: count for counted, count in counts.items() if count}
