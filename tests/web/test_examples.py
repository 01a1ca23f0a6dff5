"""The examples in the OpenAPI document are this service's real answers to the contract's example requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from milestones.web import examples
from tests.conftest import FakeClock

pytestmark = pytest.mark.anyio


def shortened_from(example: Any, real: Any) -> bool:
    """Whether `example` is the real page with some items left out (or the real answer itself)."""
    if "pagination" not in example:
        return bool(example == real)
    return example["pagination"] == real["pagination"] and all(item in real["data"] for item in example["data"])


async def test_every_example_is_a_real_answer(client: Any, clock: FakeClock) -> None:
    clock.now = datetime(2026, 1, 3, 9, 0, tzinfo=UTC)
    recorded = await client.post(
        "/api/v1/milestones", json=examples.RECORD_SUMMARY, headers={"X-Request-ID": "req-7f3a9c2e"}
    )
    assert recorded.status_code == 201
    mentor = "mentor_001"
    answers = {
        "RECORDED": recorded.json(),
        "LIST": (await client.get("/api/v1/milestones", params={"mentor_id": mentor})).json(),
        "ONE": (await client.get(f"/api/v1/milestones/{mentor}~100h")).json(),
        "NEW": (await client.get(f"/api/v1/milestones/{mentor}/new", params={"year": 2025})).json(),
        "IN_PROGRESS": (await client.get(f"/api/v1/milestones/{mentor}/in-progress")).json(),
        "PERIODS": (await client.get(f"/api/v1/mentors/{mentor}/periods")).json(),
        "UPDATED": (
            await client.put(
                f"/api/v1/milestones/{mentor}~300h", json=examples.UPDATE, headers={"X-Request-ID": "req-1b8d04f6"}
            )
        ).json(),
        "HISTORY": (await client.get(f"/api/v1/milestones/{mentor}~300h/history")).json(),
        "EVIDENCE": (await client.get(f"/api/v1/milestones/{mentor}~300h/evidence")).json(),
        "DELETED": (await client.delete(f"/api/v1/milestones/{mentor}~100h")).json(),
        "PERIOD_DELETED": (await client.delete(f"/api/v1/mentors/{mentor}/periods/2025-01-01/2025-12-31")).json(),
        "MENTOR_HISTORY": (await client.get(f"/api/v1/mentors/{mentor}/history", params={"limit": 3})).json(),
    }
    for name, real in answers.items():
        assert shortened_from(getattr(examples, name), real), name
