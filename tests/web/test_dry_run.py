"""POST /api/v1/milestones?dry_run=true on both databases: what the POST would store and change, with the status a real
POST would have, and nothing stored anywhere (a full read of every table before and after)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from milestones.settings import Settings
from tests.database_contents import rows_as_text
from tests.factories import summary_body

pytestmark = pytest.mark.anyio

BASE = "/api/v1/milestones"
Client = AsyncTestClient[Litestar]


async def test_a_dry_run_answers_the_post_and_its_transitions_and_stores_nothing(
    client: Client, settings: Settings
) -> None:
    before = await rows_as_text(settings)
    dry = await client.post(f"{BASE}?dry_run=true", json=summary_body(hours=60), headers={"Idempotency-Key": "dry-1"})
    assert dry.status_code == 201, dry.text
    body = dry.json()
    assert body["dry_run"] is True
    transitions = {t["milestone_id"]: t for t in body["transitions"]}
    assert transitions["mentor_001~50h"]["transition"] == "achieved"
    assert transitions["mentor_001~50h"]["before"] is None
    assert transitions["mentor_001~50h"]["after"]["achieved_at"] == "2025-12-31T23:59:59Z"
    assert transitions["mentor_001~100h"]["transition"] == "created"
    assert await rows_as_text(settings) == before  # no period, milestone, history, event or idempotency record

    # The real POST answers the same milestones.
    real = await client.post(BASE, json=summary_body(hours=60), headers={"Idempotency-Key": "dry-1"})
    assert real.status_code == 201
    assert real.json()["data"] == body["data"]
    stored = await rows_as_text(settings)

    # The same summary again would change nothing: 200, no transitions; a correction would progress.
    same = await client.post(f"{BASE}?dry_run=true", json=summary_body(hours=60))
    assert (same.status_code, same.json()["transitions"]) == (200, [])
    more = await client.post(f"{BASE}?dry_run=true", json=summary_body(hours=70))
    assert more.status_code == 201
    kinds = {t["milestone_id"]: t["transition"] for t in more.json()["transitions"]}
    assert kinds == {"mentor_001~100h": "progressed"}
    assert await rows_as_text(settings) == stored


async def test_a_dry_run_is_refused_as_the_post_would_be(client: Client, settings: Settings) -> None:
    await client.post(BASE, json=summary_body(start_date="2025-01-01", end_date="2025-06-30"))
    stored = await rows_as_text(settings)
    overlap = await client.post(
        f"{BASE}?dry_run=true", json=summary_body(start_date="2025-03-01", end_date="2025-09-30")
    )
    assert overlap.status_code == 409
    bad: Any = await client.post(f"{BASE}?dry_run=perhaps", json=summary_body())
    assert bad.status_code in (400, 422)
    assert "dry_run" in bad.text
    assert await rows_as_text(settings) == stored


async def test_the_openapi_document_declares_dry_run(client: Client) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/milestones"]["post"]
    assert "dry_run" in {p["name"] for p in operation["parameters"]}
    answer = document["components"]["schemas"]["RecordedPage"]["properties"]
    assert {"dry_run", "transitions"} <= answer.keys()
