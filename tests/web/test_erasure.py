"""DELETE /api/v1/mentors/{mentor_id}: erasure over HTTP, for admin keys only, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from milestones.access.keys import parse_key_list
from milestones.domain.erasure import HASH_PREFIX
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.conftest import FakeClock
from tests.database_contents import rows_as_text
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
ERASED = "erase.me-42"
KEPT = "keep.me-7"
ADMIN = {"Authorization": "Bearer admin-secret-0001"}
WRITER = {"Authorization": "Bearer write-secret-0001"}
Client = AsyncTestClient[FrontDoor]


@pytest.fixture
async def keyed(settings: Settings, clock: FakeClock) -> AsyncIterator[Client]:
    keys = parse_key_list("admin-secret-0001:admin, write-secret-0001:write")
    app = create_app(settings.model_copy(update={"api_keys": keys}), clock=clock)
    async with AsyncTestClient(app=app) as client:
        yield client


async def store(client: Client, headers: dict[str, str]) -> None:
    for mentor in (ERASED, KEPT):
        for year in (2024, 2025):
            answer = await client.post(
                "/api/v1/milestones",
                json=summary_body(mentor, year=year),
                headers={**headers, "Idempotency-Key": f"{mentor}-{year}"},
            )
            assert answer.status_code == 201, answer.text


async def test_an_admin_erases_a_mentor_and_the_answer_counts_what_went(keyed: Client, settings: Settings) -> None:
    await store(keyed, ADMIN)
    kept = (await keyed.get("/api/v1/milestones", params={"mentor_id": KEPT}, headers=ADMIN)).json()

    answer = await keyed.delete(f"/api/v1/mentors/{ERASED}", headers=ADMIN)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["erased"] is True and body["mentor_hash"].startswith(HASH_PREFIX)
    assert ERASED not in answer.text
    assert body["removed"]["periods"] == 2 and body["removed"]["idempotency_records"] == 2
    assert body["removed"]["milestones"] > 0 and body["removed"]["history_entries"] == 2
    assert answer.headers["cache-control"] == "no-store"
    listing = await keyed.get("/api/v1/milestones", params={"mentor_id": ERASED}, headers=ADMIN)
    assert listing.json()["data"] == []
    assert (await keyed.get(f"/api/v1/mentors/{ERASED}/periods", headers=ADMIN)).json()["data"] == []
    assert (await keyed.get(f"/api/v1/mentors/{ERASED}/history", headers=ADMIN)).json()["data"] == []
    assert (await keyed.get("/api/v1/milestones", params={"mentor_id": KEPT}, headers=ADMIN)).json() == kept
    contents = await rows_as_text(settings)
    assert [row for rows in contents.values() for row in rows if ERASED in row] == []
    # The idempotent answers went too: the same key runs the request again instead of replaying it.
    again = await keyed.post(
        "/api/v1/milestones",
        json=summary_body(ERASED, year=2024),
        headers={**ADMIN, "Idempotency-Key": f"{ERASED}-2024"},
    )
    assert again.status_code == 201


async def test_an_unknown_mentor_is_a_404_problem_and_writes_nothing(keyed: Client, settings: Settings) -> None:
    await store(keyed, ADMIN)
    before = await rows_as_text(settings)
    answer = await keyed.delete("/api/v1/mentors/nobody-here", headers=ADMIN)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "/problems/mentor-not-found"
    assert "nobody-here" not in answer.text
    after = await rows_as_text(settings)
    # The salt is made on the first erasure asked for, found or not; nothing else changes.
    assert after.pop("service_secrets") != before.pop("service_secrets")
    assert after == before


async def test_erasing_twice_finds_nothing_the_second_time(keyed: Client) -> None:
    await store(keyed, ADMIN)
    assert (await keyed.delete(f"/api/v1/mentors/{ERASED}", headers=ADMIN)).status_code == 200
    assert (await keyed.delete(f"/api/v1/mentors/{ERASED}", headers=ADMIN)).status_code == 404


async def test_a_write_key_may_not_erase(keyed: Client, settings: Settings) -> None:
    await store(keyed, WRITER)
    before = await rows_as_text(settings)
    answer = await keyed.delete(f"/api/v1/mentors/{ERASED}", headers=WRITER)
    assert answer.status_code == 403
    assert answer.json()["type"] == "/problems/scope-required"
    assert await rows_as_text(settings) == before


async def test_without_any_key_erasure_is_refused_though_writes_are_open(client: Client, settings: Settings) -> None:
    await store(client, {})
    before = await rows_as_text(settings)
    answer = await client.delete(f"/api/v1/mentors/{ERASED}")
    assert answer.status_code in (401, 403), answer.text
    assert await rows_as_text(settings) == before


async def test_a_malformed_mentor_id_is_a_422_naming_it(keyed: Client) -> None:
    answer = await keyed.delete("/api/v1/mentors/..", headers=ADMIN)
    assert answer.status_code in (404, 422)
    answer = await keyed.delete("/api/v1/mentors/" + "x" * 200, headers=ADMIN)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "mentor_id"
