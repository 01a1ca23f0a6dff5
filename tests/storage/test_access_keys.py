"""Stored access keys on both back ends: kept as digests, listed, revoked once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from milestones.access.keys import AccessKey, Scope, digest_of
from milestones.settings import Settings
from milestones.storage import open_repository

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def stored_key(key_id: str, secret: str, scope: Scope = Scope.WRITE, at: datetime = NOW) -> AccessKey:
    return AccessKey(key_id, f"name of {key_id}", scope, digest_of(secret), created_at=at)


async def test_keys_are_stored_listed_and_revoked(settings: Settings) -> None:
    repository = await open_repository(settings)
    try:
        first = stored_key("db:00000001", "first-secret", Scope.READ)
        second = stored_key("db:00000002", "second-secret", Scope.ADMIN, NOW + timedelta(seconds=1))
        await repository.add_access_key(first)
        await repository.add_access_key(second)
        assert await repository.access_keys() == [first, second]

        revoked = await repository.revoke_access_key("db:00000001", NOW + timedelta(hours=1))
        assert revoked is not None and revoked.revoked_at == NOW + timedelta(hours=1)
        again = await repository.revoke_access_key("db:00000001", NOW + timedelta(hours=2))
        assert again is not None and again.revoked_at == NOW + timedelta(hours=1)  # the first time stays
        assert await repository.revoke_access_key("db:unknown", NOW) is None
        assert [k.revoked for k in await repository.access_keys()] == [True, False]
    finally:
        await repository.close()


async def test_only_the_digest_is_stored(settings: Settings) -> None:
    repository = await open_repository(settings)
    try:
        await repository.add_access_key(stored_key("db:00000003", "a-secret-never-stored"))
        (key,) = await repository.access_keys()
        assert key.digest == digest_of("a-secret-never-stored")
        assert "a-secret-never-stored" not in repr(key)
    finally:
        await repository.close()
    if settings.is_sqlite:
        assert b"a-secret-never-stored" not in settings.sqlite_path.read_bytes()
