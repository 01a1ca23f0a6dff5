"""Credential storage on both databases: the service's own signing keys and the revocation status list's indexes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from milestones.domain.model import mentor_of
from milestones.domain.rows import encode_time, parse_time
from milestones.storage import queries

if TYPE_CHECKING:
    from milestones.storage.postgres import PostgresRepository
    from milestones.storage.sqlite import SqliteRepository


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A signing key the service made for itself: its PEM private key, and when it was retired (None: in use)."""

    kid: str
    algorithm: str
    private_key: str
    created_at: datetime
    retired_at: datetime | None = None


class CredentialStore(Protocol):
    """All credentials ask of a database."""

    async def signing_keys(self) -> list[StoredKey]:
        """Every stored key, retired ones included, oldest first."""
        ...

    async def add_signing_key(self, key: StoredKey, *, retire_others: bool) -> bool:
        """Store a key. With `retire_others`, every key in use is retired at the new key's creation (a rotation);
        without, the key is stored only while no key is (a quick start's first key): False when one was."""
        ...

    async def status_index(self, milestone_id: str) -> int:
        """The milestone's index in the status list, handed out on its first credential and kept for good."""
        ...

    async def recipient_id(self, mentor_id: str) -> str | None:
        """The URL or DID the platform gave for the mentor, None when it gave none."""
        ...

    async def revoked_indexes(self) -> list[int]:
        """The indexes whose milestone is revoked, or deleted since its credential was issued."""
        ...


INSERT_KEY = (
    "INSERT INTO credential_keys (kid, algorithm, private_key, created_at, retired_at) VALUES (?, ?, ?, ?, NULL)"
)
INSERT_FIRST_KEY = (
    "INSERT INTO credential_keys (kid, algorithm, private_key, created_at, retired_at) "
    "SELECT ?, ?, ?, ?, NULL WHERE NOT EXISTS (SELECT 1 FROM credential_keys)"
)
RETIRE_KEYS = "UPDATE credential_keys SET retired_at = ? WHERE retired_at IS NULL AND kid <> ?"
SIGNING_KEYS = (
    "SELECT kid, algorithm, private_key, created_at, retired_at FROM credential_keys ORDER BY created_at, kid"
)
INSERT_STATUS = (
    "INSERT INTO credential_status (milestone_id, mentor_id) VALUES (?, ?) ON CONFLICT (milestone_id) DO NOTHING"
)
RECIPIENT_ID = "SELECT recipient_id FROM mentors WHERE mentor_id = ?"
STATUS_INDEX = "SELECT list_index FROM credential_status WHERE milestone_id = ?"
REVOKED_INDEXES = (
    "SELECT s.list_index FROM credential_status s LEFT JOIN milestones m ON m.id = s.milestone_id"
    " WHERE m.id IS NULL OR m.status = 'revoked' ORDER BY s.list_index"
)


def _key(row: Sequence[Any], parse: Any) -> StoredKey:
    return StoredKey(str(row[0]), str(row[1]), str(row[2]), parse(row[3]), parse(row[4]))


def _same(value: Any) -> Any:
    return value


class SqliteCredentialStore:
    """CredentialStore on the SQLite repository's file: reads inline, writes on its writer thread."""

    def __init__(self, repository: SqliteRepository) -> None:
        self._repository = repository

    async def signing_keys(self) -> list[StoredKey]:
        return [_key(row, parse_time) for row in self._repository.read_all(SIGNING_KEYS, ())]

    async def add_signing_key(self, key: StoredKey, *, retire_others: bool) -> bool:
        params = (key.kid, key.algorithm, key.private_key, encode_time(key.created_at))

        def work() -> bool:
            with self._repository.transaction(frozenset()) as conn:
                if not retire_others:
                    return bool(conn.execute(INSERT_FIRST_KEY, params).rowcount)
                conn.execute(INSERT_KEY, params)
                conn.execute(RETIRE_KEYS, (encode_time(key.created_at), key.kid))
                return True

        return await self._repository.in_writer(work)

    async def status_index(self, milestone_id: str) -> int:
        row = self._repository.read_one(STATUS_INDEX, (milestone_id,))
        if row is not None:
            return int(row[0])

        def work() -> int:
            with self._repository.transaction(frozenset()) as conn:
                conn.execute(INSERT_STATUS, (milestone_id, mentor_of(milestone_id) or milestone_id))
                return int(conn.execute(STATUS_INDEX, (milestone_id,)).fetchone()[0])

        return await self._repository.in_writer(work)

    async def recipient_id(self, mentor_id: str) -> str | None:
        row = self._repository.read_one(RECIPIENT_ID, (mentor_id,))
        return None if row is None or row[0] is None else str(row[0])

    async def revoked_indexes(self) -> list[int]:
        return [int(row[0]) for row in self._repository.read_all(REVOKED_INDEXES, ())]


_INSERT_KEY = queries.numbered(INSERT_KEY)
_INSERT_FIRST_KEY = queries.numbered(INSERT_FIRST_KEY)
_RETIRE_KEYS = queries.numbered(RETIRE_KEYS)
_INSERT_STATUS = queries.numbered(INSERT_STATUS)
_STATUS_INDEX = queries.numbered(STATUS_INDEX)
_RECIPIENT_ID = queries.numbered(RECIPIENT_ID)


class PostgresCredentialStore:
    """CredentialStore on the PostgreSQL repository's pool."""

    def __init__(self, repository: PostgresRepository) -> None:
        self._repository = repository

    async def signing_keys(self) -> list[StoredKey]:
        async with self._repository.connection() as conn:
            return [_key(row, _same) for row in await conn.fetch(SIGNING_KEYS)]

    async def add_signing_key(self, key: StoredKey, *, retire_others: bool) -> bool:
        params = (key.kid, key.algorithm, key.private_key, key.created_at)
        async with self._repository.connection() as conn, conn.transaction():
            if not retire_others:
                # One first key however many workers start at once: they wait on each other here.
                await conn.execute("LOCK TABLE credential_keys IN SHARE ROW EXCLUSIVE MODE")
                status: str = await conn.execute(_INSERT_FIRST_KEY, *params)
                return status.rsplit(" ", 1)[-1] != "0"
            await conn.execute(_INSERT_KEY, *params)
            await conn.execute(_RETIRE_KEYS, key.created_at, key.kid)
            return True

    async def status_index(self, milestone_id: str) -> int:
        async with self._repository.connection() as conn:
            await conn.execute(_INSERT_STATUS, milestone_id, mentor_of(milestone_id) or milestone_id)
            value = await conn.fetchval(_STATUS_INDEX, milestone_id)
        return int(value)

    async def recipient_id(self, mentor_id: str) -> str | None:
        async with self._repository.connection() as conn:
            value = await conn.fetchval(_RECIPIENT_ID, mentor_id)
        return None if value is None else str(value)

    async def revoked_indexes(self) -> list[int]:
        async with self._repository.connection() as conn:
            return [int(row[0]) for row in await conn.fetch(REVOKED_INDEXES)]
