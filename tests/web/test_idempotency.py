"""Idempotency-Key on POST: retries replay the first response; misuse is refused."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from milestones.settings import Settings
from milestones.storage import open_repository
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
Client = AsyncTestClient[Any]


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def test_a_retry_with_the_same_key_replays_the_first_response(client: Client) -> None:
    first = await client.post(BASE, json=summary_body(), headers=keyed("k-1"))
    assert first.status_code == 201
    # Another request changes the mentor in between; the retry still gets the first answer.
    await client.post(BASE, json=summary_body(year=2024, hours=5))
    retry = await client.post(BASE, json=summary_body(), headers=keyed("k-1"))
    assert retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    without_key = await client.post(BASE, json=summary_body())
    assert without_key.status_code == 200  # a plain repeat is simply "unchanged"


async def test_an_invalid_mentor_id_under_a_key_is_a_422_not_a_stored_mentor(client: Client) -> None:
    """Found by fuzzing: a mentor id too long to be one reached the column kept for erasure, a 500."""
    mentor_ids: list[Any] = ["x" * 300, "a b", 17]
    for mentor_id in mentor_ids:
        response = await client.post(BASE, json=summary_body(mentor_id), headers=keyed(f"k-bad-{mentor_id}"[:200]))
        assert response.status_code == 422, response.text


async def test_the_same_key_with_another_body_is_422(client: Client) -> None:
    await client.post(BASE, json=summary_body(), headers=keyed("k-2"))
    response = await client.post(BASE, json=summary_body(hours=1), headers=keyed("k-2"))
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/idempotency-key-reused"
    periods = (await client.get("/api/v1/mentors/mentor_001/periods")).json()["data"]
    assert periods[0]["summary"]["total_hours"] == 312.5


async def test_error_responses_are_replayed_too(client: Client) -> None:
    await client.post(BASE, json=summary_body())
    clash = summary_body(start_date="2025-06-01", end_date="2026-05-31")
    first = await client.post(BASE, json=clash, headers=keyed("k-3"))
    assert first.status_code == 409
    retry = await client.post(BASE, json=clash, headers=keyed("k-3"))
    assert retry.status_code == 409
    assert retry.content == first.content


async def test_a_key_still_in_flight_is_409(client: Client, settings: Settings, clock: FakeClock) -> None:
    """A first request still running, claimed through a second connection as another worker would."""
    raw = json.dumps(summary_body()).encode()
    fingerprint = hashlib.sha256(f"POST {BASE}\n".encode() + raw).hexdigest()

    def never(_: object) -> bool:
        return False

    repository = await open_repository(settings)
    try:
        # Stored under the sender's access key id ("anonymous" without keys) and the client's key.
        claimed = "anonymous k-4"
        assert await repository.claim_idempotency_key(claimed, fingerprint, clock.now, never, clock.now) is None
    finally:
        await repository.close()
    response = await client.post(BASE, content=raw, headers={**keyed("k-4"), "content-type": "application/json"})
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/idempotency-key-in-use"
    # A claim abandoned by a crashed request is taken over once it is old enough.
    clock.now += timedelta(minutes=1)
    retry = await client.post(BASE, content=raw, headers={**keyed("k-4"), "content-type": "application/json"})
    assert retry.status_code == 201


async def test_keys_expire_after_a_day_and_are_removed(client: Client, settings: Settings, clock: FakeClock) -> None:
    await client.post(BASE, json=summary_body(), headers=keyed("old-1"))
    await client.post(BASE, json=summary_body(), headers=keyed("old-2"))
    clock.now += timedelta(hours=23, minutes=59)
    await client.post(BASE, json=summary_body(), headers=keyed("recent"))
    assert await stored_keys(settings) == ["anonymous old-1", "anonymous old-2", "anonymous recent"]
    clock.now += timedelta(minutes=2)  # the first two are now more than 24 hours old
    await client.post(BASE, json=summary_body(), headers=keyed("new"))
    assert await stored_keys(settings) == ["anonymous new", "anonymous recent"]


async def stored_keys(settings: Settings) -> list[str]:
    """The keys in the database, read directly."""
    sql = "SELECT key FROM idempotency_keys ORDER BY key"
    if settings.is_sqlite:
        conn = sqlite3.connect(settings.sqlite_path)
        try:
            return [row[0] for row in conn.execute(sql)]
        finally:
            conn.close()
    pg = await asyncpg.connect(settings.database_url)
    try:
        return [row["key"] for row in await pg.fetch(sql)]
    finally:
        await pg.close()


@pytest.mark.parametrize("key", [b"", b"x" * 256, b"with space", "naïve".encode()])
async def test_invalid_keys_are_refused(client: Client, key: bytes) -> None:
    response = await client.post(BASE, json=summary_body(), headers={b"Idempotency-Key": key})
    assert 400 <= response.status_code < 500
    assert (await client.get(BASE)).json()["pagination"]["total"] == 0
