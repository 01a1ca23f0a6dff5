"""A mentor's stored periods: listing them and removing a mis-dated one."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import summary_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
PERIODS = "/api/v1/mentors/mentor_001/periods"


async def test_periods_are_listed_in_date_order(client: Client) -> None:
    await client.post("/api/v1/milestones", json=summary_body(year=2025, hours=12.25))
    await client.post("/api/v1/milestones", json=summary_body(year=2024, hours=1, contacts=2, activities=3))
    body = (await client.get(PERIODS)).json()
    assert body == {
        "data": [
            {
                "year": 2024,
                "start_date": "2024-01-01",
                "end_date": "2024-12-31",
                "summary": {"total_hours": 1, "unique_contacts_helped": 2, "activity_count": 3},
            },
            {
                "year": 2025,
                "start_date": "2025-01-01",
                "end_date": "2025-12-31",
                "summary": {"total_hours": 12.25, "unique_contacts_helped": 47, "activity_count": 198},
            },
        ]
    }


async def test_unknown_mentor_has_no_periods(client: Client) -> None:
    response = await client.get("/api/v1/mentors/nobody/periods")
    assert response.status_code == 200
    assert response.json() == {"data": []}


async def test_deleting_a_period_re_evaluates_the_mentor(client: Client) -> None:
    await client.post("/api/v1/milestones", json=summary_body(year=2024, hours=40, contacts=0, activities=0))
    await client.post("/api/v1/milestones", json=summary_body(year=2025, hours=40, contacts=0, activities=0))
    in_progress = (await client.get("/api/v1/milestones/mentor_001/in-progress")).json()["data"]
    assert [(i["name"], i["current_value"]) for i in in_progress if i["type"] == "hours_logged"] == [
        ("100 Hours Milestone", 80)
    ]

    response = await client.delete(f"{PERIODS}/2025-01-01/2025-12-31")
    assert response.status_code == 200
    assert response.json() == {
        "deleted": True,
        "mentor_id": "mentor_001",
        "start_date": "2025-01-01",
        "end_date": "2025-12-31",
        # 80 hours were 40: the 50-hour milestone stays achieved, unsupported by the values.
        "unsupported": ["mentor_001~50h"],
    }
    after = (await client.get("/api/v1/milestones/mentor_001/in-progress")).json()["data"]
    # 50h was achieved with the 2025 period and stays achieved; the hours rung now shows 40 of 100.
    assert [(i["name"], i["current_value"]) for i in after if i["type"] == "hours_logged"] == [
        ("100 Hours Milestone", 40)
    ]
    assert len((await client.get(PERIODS)).json()["data"]) == 1


async def test_deleting_an_unknown_period_is_404(client: Client) -> None:
    response = await client.delete(f"{PERIODS}/2025-01-01/2025-12-31")
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/period-not-found"


async def test_deleting_a_wrongly_dated_period_makes_room_for_the_right_one(client: Client) -> None:
    await client.post("/api/v1/milestones", json=summary_body(start_date="2025-01-01", end_date="2025-06-30"))
    clash = await client.post("/api/v1/milestones", json=summary_body())
    assert clash.status_code == 409
    assert (await client.delete(f"{PERIODS}/2025-01-01/2025-06-30")).status_code == 200
    assert (await client.post("/api/v1/milestones", json=summary_body())).status_code == 201
