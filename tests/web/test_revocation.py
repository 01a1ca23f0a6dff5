"""Taking an award back over HTTP, on SQLite and PostgreSQL: revoking and reinstating with PUT, lost thresholds
after a correction or a removed period, and listings without revoked or superseded milestones."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from milestones.domain import LostThreshold
from milestones.settings import Settings
from milestones.web.app import create_app
from tests.conftest import FakeClock
from tests.database_contents import events_settled
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
Client = AsyncTestClient[Litestar]
TEN = f"{BASE}/mentor_001~10h"
FIFTY = f"{BASE}/mentor_001~50h"
REASON = "Hours were counted twice in the 2025 summary"


async def post(client: Client, **kwargs: Any) -> Any:
    response = await client.post(BASE, json=summary_body(**kwargs))
    assert response.status_code in (200, 201), response.text
    return response


async def revoke(client: Client, url: str = TEN, reason: str = REASON) -> Any:
    response = await client.put(url, json={"status": "revoked", "reason": reason})
    assert response.status_code == 200, response.text
    return response.json()


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["data"]]


async def transitions(client: Client, url: str) -> list[str]:
    return [entry["transition"] for entry in (await client.get(f"{url}/history")).json()["data"]]


async def test_a_revoked_milestone_keeps_its_id_and_dates_and_says_when_and_why(client: Client) -> None:
    await post(client, hours=12, contacts=0, activities=0)
    achieved = (await client.get(TEN)).json()
    revoked = await revoke(client)
    assert revoked == {
        **achieved,
        "status": "revoked",
        "revoked_at": "2026-03-01T12:00:00Z",
        "revocation_reason": REASON,
        "accessibility_label": "Your 10 Hours Milestone was revoked on March 1, 2026",
    }
    assert (await client.get(TEN)).json() == revoked
    assert await transitions(client, TEN) == ["achieved", "revoked"]
    entry = (await client.get(f"{TEN}/history")).json()["data"][-1]
    assert entry["cause"] == "put"
    assert entry["after"]["status"] == "revoked"
    assert entry["after"]["revocation_reason"] == REASON


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"status": "revoked"}, "reason", "reason is required to revoke a milestone"),
        ({"status": "revoked", "reason": ""}, "reason", "must be 1 to 500 characters"),
        ({"status": "revoked", "reason": "x" * 501}, "reason", "must be 1 to 500 characters"),
        ({"status": "revoked", "reason": "   "}, "reason", "must be 1 to 500 characters"),
        ({"status": "achieved", "reason": REASON}, "reason", "reason is taken only with status 'revoked'"),
        ({"status": "revoked", "reason": REASON, "achieved_value": 3}, "achieved_value", "cannot be set when"),
    ],
)
async def test_a_revocation_without_a_good_reason_is_refused_naming_the_field(
    client: Client, body: dict[str, Any], field: str, words: str
) -> None:
    await post(client, hours=12, contacts=0, activities=0)
    response = await client.put(TEN, json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert field in [error["field"] for error in problem.get("errors", [])] or field in problem["detail"]
    assert words in response.text
    assert (await client.get(TEN)).json()["status"] == "achieved"


async def test_only_an_achieved_milestone_can_be_revoked(client: Client) -> None:
    await post(client, hours=12, contacts=0, activities=0)
    response = await client.put(FIFTY, json={"status": "revoked", "reason": REASON})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "only an achieved milestone can be revoked" in response.json()["detail"]
    assert (await client.get(FIFTY)).json()["status"] == "in_progress"


async def test_a_revoked_milestone_stays_revoked_through_later_summaries(client: Client) -> None:
    await post(client, year=2024, hours=12, contacts=0, activities=0)
    await revoke(client)
    # More hours, the same period corrected upwards, and the revoked period removed and sent again.
    await post(client, year=2025, hours=60, contacts=0, activities=0)
    await post(client, year=2024, hours=20, contacts=0, activities=0)
    assert (await client.delete("/api/v1/mentors/mentor_001/periods/2024-01-01/2024-12-31")).status_code == 200
    await post(client, year=2024, hours=12, contacts=0, activities=0)
    ten = (await client.get(TEN)).json()
    assert ten["status"] == "revoked"
    assert ten["revocation_reason"] == REASON
    assert (await client.get(FIFTY)).json()["status"] == "achieved"
    assert await transitions(client, TEN) == ["achieved", "revoked"]


async def test_revoked_milestones_are_listed_only_when_asked_for(client: Client) -> None:
    await post(client, hours=60, contacts=0, activities=0)
    await revoke(client)
    revoked_id = "mentor_001~10h"
    for url in (
        f"{BASE}?mentor_id=mentor_001",
        f"{BASE}?mentor_id=mentor_001&limit=100",
        f"{BASE}?status=achieved",
        BASE,
        f"{BASE}/mentor_001/new?from=2025-01-01&to=2026-12-31",
        f"{BASE}/mentor_001/in-progress",
    ):
        response = await client.get(url)
        assert response.status_code == 200, url
        assert revoked_id not in ids(response.json()), url
    listed = (await client.get(f"{BASE}?status=revoked")).json()
    assert ids(listed) == [revoked_id]
    assert listed["pagination"]["total"] == 1
    assert ids((await client.get(f"{BASE}?mentor_id=mentor_001&status=revoked")).json()) == [revoked_id]
    page = await client.get("/mentors/mentor_001", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "10 Hours Milestone" not in page.text
    assert "50 Hours Milestone" in page.text


async def test_a_person_reinstates_a_revoked_milestone_and_history_says_so(client: Client) -> None:
    await post(client, hours=12, contacts=0, activities=0)
    achieved = (await client.get(TEN)).json()
    await revoke(client)
    response = await client.put(TEN, json={"status": "in_progress"})
    assert response.status_code == 422
    assert "revoked" in response.json()["detail"]
    reinstated = await client.put(TEN, json={"status": "achieved"})
    assert reinstated.status_code == 200
    assert reinstated.json() == achieved
    assert await transitions(client, TEN) == ["achieved", "revoked", "reinstated"]
    assert "mentor_001~10h" in ids((await client.get(f"{BASE}?mentor_id=mentor_001")).json())


async def test_revocation_and_reinstatement_are_events(client: Client, settings: Settings) -> None:
    await post(client, hours=12, contacts=0, activities=0)
    await revoke(client)
    await client.put(TEN, json={"status": "achieved"})
    await events_settled(settings)  # other sessions on a shared PostgreSQL server hold the feed's horizon back
    feed = (await client.get("/api/v1/events?types=milestone.revoked,milestone.reinstated")).json()["data"]
    assert [(event["type"], event["subject"]) for event in feed] == [
        ("milestone.revoked", "mentor_001~10h"),
        ("milestone.reinstated", "mentor_001~10h"),
    ]
    assert feed[0]["data"]["milestone"]["revocation_reason"] == REASON
    assert feed[0]["data"]["transition"] == "revoked"


# --- lost thresholds --------------------------------------------------------------------------------------


async def test_a_correction_below_an_achieved_threshold_keeps_it_unsupported_until_the_values_support_it(
    client: Client,
) -> None:
    first = (await post(client, hours=12, contacts=0, activities=0)).json()
    assert "unsupported" not in first
    corrected = await post(client, hours=8, contacts=0, activities=0)
    assert corrected.status_code == 201
    assert corrected.json()["unsupported"] == ["mentor_001~10h"]
    ten = (await client.get(TEN)).json()
    assert (ten["status"], ten["supported"], ten["achieved_value"]) == ("achieved", False, 12)
    # Still below: nothing crosses, nothing is written or reported.
    again = await post(client, hours=9, contacts=0, activities=0)
    assert "unsupported" not in again.json()
    assert await transitions(client, TEN) == ["achieved", "unsupported"]
    # Back above: supported again, and the field leaves the answer.
    await post(client, hours=10, contacts=0, activities=0)
    assert "supported" not in (await client.get(TEN)).json()
    assert await transitions(client, TEN) == ["achieved", "unsupported", "supported"]


async def test_a_removed_period_that_loses_a_threshold_is_reported(client: Client) -> None:
    await post(client, year=2024, hours=6, contacts=0, activities=0)
    await post(client, year=2025, hours=6, contacts=0, activities=0)
    assert (await client.get(TEN)).json()["status"] == "achieved"
    response = await client.delete("/api/v1/mentors/mentor_001/periods/2025-01-01/2025-12-31")
    assert response.status_code == 200
    assert response.json() == {
        "deleted": True,
        "mentor_id": "mentor_001",
        "start_date": "2025-01-01",
        "end_date": "2025-12-31",
        "unsupported": ["mentor_001~10h"],
    }
    assert (await client.get(TEN)).json()["supported"] is False


async def test_an_achieved_milestone_a_person_set_below_its_threshold_is_not_a_lost_one(client: Client) -> None:
    await post(client, hours=40, contacts=0, activities=0)
    assert (await client.put(FIFTY, json={"status": "achieved"})).status_code == 200
    response = await post(client, hours=45, contacts=0, activities=0)
    assert "unsupported" not in response.json()
    assert "supported" not in (await client.get(FIFTY)).json()


@pytest.fixture
async def revoking(settings: Settings, clock: FakeClock) -> Any:
    app = create_app(settings.model_copy(update={"on_lost_threshold": LostThreshold.REVOKE}), clock=clock)
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def test_under_revoke_a_lost_threshold_revokes_the_milestone(revoking: Client) -> None:
    await post(revoking, hours=60, contacts=0, activities=0)
    corrected = (await post(revoking, hours=30, contacts=0, activities=0)).json()
    assert corrected["revoked"] == ["mentor_001~50h"]
    assert "unsupported" not in corrected
    assert "mentor_001~50h" not in ids(corrected)
    fifty = (await revoking.get(FIFTY)).json()
    assert (fifty["status"], fifty["revocation_reason"]) == ("revoked", "data corrected")
    assert (await revoking.get(TEN)).json()["status"] == "achieved"
    # Detection never awards it again, even when the values come back.
    await post(revoking, hours=60, contacts=0, activities=0)
    assert (await revoking.get(FIFTY)).json()["status"] == "revoked"
    history = (await revoking.get(f"{FIFTY}/history")).json()["data"]
    assert [(entry["transition"], entry["cause"]) for entry in history] == [("achieved", "post"), ("revoked", "post")]


# --- superseded rungs -------------------------------------------------------------------------------------


async def test_superseded_false_lists_only_the_top_achieved_rung_of_each_type(client: Client) -> None:
    await post(client, hours=120, contacts=30, activities=0)
    await post(client, mentor_id="mentor_002", hours=12, contacts=0, activities=0)
    every = {item["id"]: item["status"] for item in (await client.get(f"{BASE}?mentor_id=mentor_001")).json()["data"]}
    assert every["mentor_001~10h"] == every["mentor_001~50h"] == every["mentor_001~100h"] == "achieved"

    for url in (f"{BASE}?mentor_id=mentor_001&superseded=false", f"{BASE}?superseded=false&limit=100"):
        listed = (await client.get(url)).json()["data"]
        achieved = sorted(item["id"] for item in listed if item["status"] == "achieved")
        assert achieved == (
            ["mentor_001~100h", "mentor_001~25contacts"] + ([] if "mentor_id" in url else ["mentor_002~10h"])
        ), url
        # Rungs in progress stay listed.
        assert "mentor_001~300h" in [item["id"] for item in listed], url
    on_top = (await client.get(f"{BASE}?mentor_id=mentor_001&superseded=false&status=achieved")).json()
    assert on_top["pagination"]["total"] == 2


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("en", "Your 10 Hours Milestone was revoked on March 1, 2026"),
        ("de", "Ihr 10-Stunden-Meilenstein wurde am 1. März 2026 aberkannt"),
        ("es", "Se revocó tu Hito de 10 horas el 1 de marzo de 2026"),
        ("fr", "Votre Palier de 10 heures a été révoqué le 1 mars 2026"),
        ("pt-BR", "Seu Marco de 10 horas foi revogado em 1 de março de 2026"),
    ],
)
async def test_a_revoked_milestones_label_is_served_in_five_languages(
    client: Client, language: str, sentence: str
) -> None:
    await post(client, hours=12, contacts=0, activities=0)
    await revoke(client)
    answer = (await client.get(TEN, headers={"Accept-Language": language})).json()
    assert answer["accessibility_label"] == sentence


async def test_a_bad_superseded_value_is_refused_in_plain_words(client: Client) -> None:
    response = await client.get(f"{BASE}?superseded=maybe&status=gone")
    assert response.status_code == 422
    assert {(e["field"], e["message"]) for e in response.json()["errors"]} == {
        ("superseded", "must be true or false"),
        ("status", "must be achieved, in_progress or revoked"),
    }
