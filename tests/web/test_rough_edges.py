"""The rough edges a review and a new user found: updates that make sense, ids and inputs, readable errors."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
JSON = {"content-type": "application/json"}


async def put(client: Any, milestone_id: str, body: dict[str, Any]) -> Any:
    return await client.put(f"{BASE}/{milestone_id}", content=json.dumps(body).encode(), headers=JSON)


# --- updates that make sense ---------------------------------------------------------------------------------


async def test_an_empty_put_changes_nothing_and_detection_still_moves_the_milestone(client: Any) -> None:
    await client.post(BASE, json=summary_body("m", contacts=47))
    before = await client.get(f"{BASE}/m~50contacts")
    response = await put(client, "m~50contacts", {})
    assert response.status_code == 200
    assert response.headers["etag"] == before.headers["etag"]
    assert response.json() == before.json()
    # Not a person's decision: a later summary that reaches 50 contacts achieves it.
    await client.post(BASE, json=summary_body("m", year=2024, contacts=20))
    after = (await client.get(f"{BASE}/m~50contacts")).json()
    assert after["status"] == "achieved"
    assert "0 remaining" not in after["accessibility_label"]


async def test_in_progress_while_the_threshold_is_met_is_422_pointing_to_delete(client: Any) -> None:
    await client.post(BASE, json=summary_body("m", hours=150))
    response = await put(client, "m~100h", {"status": "in_progress"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "status"
    assert "DELETE" in problem["errors"][0]["message"]
    assert (await client.get(f"{BASE}/m~100h")).json()["status"] == "achieved"


async def test_an_achieved_at_in_the_future_is_422_beyond_a_minute_of_skew(client: Any, clock: FakeClock) -> None:
    await client.post(BASE, json=summary_body("m", hours=50))
    soon = (clock.now + timedelta(seconds=59)).isoformat()
    later = (clock.now + timedelta(minutes=2)).isoformat()
    refused = await put(client, "m~100h", {"status": "achieved", "achieved_at": later})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "achieved_at", "message": "achieved_at is in the future; a milestone can only be achieved by now."}
    ]
    assert (await put(client, "m~100h", {"status": "achieved", "achieved_at": soon})).status_code == 200


@pytest.mark.parametrize("value", [-1, -0.01])
async def test_a_negative_achieved_value_is_422(client: Any, value: float) -> None:
    await client.post(BASE, json=summary_body("m", hours=150))
    response = await put(client, "m~100h", {"achieved_value": value})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["achieved_value"]


@pytest.mark.parametrize("value", [-0.0, 0, 0.1, 0.29, 315, 315.5, 1e12, 123456789.99])
async def test_the_etag_put_returns_is_the_one_get_returns(client: Any, value: float) -> None:
    await client.post(BASE, json=summary_body("m", hours=150))
    response = await put(client, "m~100h", {"achieved_value": value})
    assert response.status_code == 200, response.text
    got = await client.get(f"{BASE}/m~100h")
    assert response.headers["etag"] == got.headers["etag"]
    assert response.content == got.content


# --- ids and inputs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "milestone_id", ["noseparator", "m~", "~100h", "m~NOPE", "m~100h~x", "x" * 300, "m~" + "k" * 41]
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_an_id_that_cannot_name_a_milestone_is_404(client: Any, method: str, milestone_id: str) -> None:
    await client.post(BASE, json=summary_body("m"))
    body = json.dumps({"status": "achieved"}).encode() if method == "PUT" else None
    response = await client.request(method, f"{BASE}/{milestone_id}", content=body, headers=JSON)
    assert response.status_code == 404, response.text
    assert response.json()["type"] == "/problems/milestone-not-found"


@pytest.mark.parametrize("mentor_id", [".", ".."])
async def test_mentor_ids_that_clients_would_resolve_away_are_422(client: Any, mentor_id: str) -> None:
    response = await client.post(BASE, json=summary_body(mentor_id))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["mentor_id"]
    listing = await client.get(BASE, params={"mentor_id": mentor_id})
    assert listing.status_code == 422


async def test_mentor_ids_with_dots_elsewhere_are_fine(client: Any) -> None:
    for mentor_id in ("...", ".a", "a."):
        assert (await client.post(BASE, json=summary_body(mentor_id))).status_code == 201


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("2025-13-01/2025-12-31", ["start_date"]),
        ("2025-01-01/yesterday", ["end_date"]),
        ("20250101/2025-02-30", ["start_date", "end_date"]),
    ],
)
async def test_removing_a_period_with_a_malformed_date_is_422_naming_it(
    client: Any, path: str, fields: list[str]
) -> None:
    await client.post(BASE, json=summary_body("m"))
    response = await client.delete(f"/api/v1/mentors/m/periods/{path}")
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == fields
    assert len((await client.get("/api/v1/mentors/m/periods")).json()["data"]) == 1


# --- errors people can read ----------------------------------------------------------------------------------

# What a message must not show a person: Python or JSON type names, regular expressions, msgspec's paths.
JARGON = re.compile(r"`|\$|\^|Expected|\b(int|float|str|null|regex|pattern)\b")


def assert_plain(errors: list[dict[str, str]]) -> None:
    for error in errors:
        assert not JARGON.search(error["message"]), error


async def test_every_bad_field_of_a_summary_is_named_in_plain_words(client: Any) -> None:
    body = {
        "mentor_id": "has space",
        "period": {"year": "2025", "start_date": "2025-13-01", "end_date": "2025-12-31", "extra": 1},
        "summary": {"total_hours": 12.345, "unique_contacts_helped": 4.5},
    }
    response = await client.post(BASE, content=json.dumps(body).encode(), headers=JSON)
    assert response.status_code == 422
    problem = response.json()
    assert {e["field"]: e["message"] for e in problem["errors"]} == {
        "mentor_id": "must be 1 to 128 letters, digits or . _ : @ - (and not . or ..)",
        "period.extra": "is not a field of this request",
        "period.year": "must be a whole number from 1 to 9999",
        "period.start_date": "must be a date, as YYYY-MM-DD (for example 2025-12-31)",
        "summary.total_hours": "must be a number from 0 to 1,000,000 with at most 2 decimal places",
        "summary.unique_contacts_helped": "must be a whole number from 0 to 10,000,000",
        "summary.activity_count": "is required",
    }
    assert_plain(problem["errors"])
    assert problem["title"] == "Request is not valid"


async def test_rules_across_fields_are_each_named(client: Any) -> None:
    body = summary_body("m", year=2024, start_date="2025-06-01", end_date="2025-05-01")
    response = await client.post(BASE, json=body)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"period.end_date", "period.year"}
    assert_plain(response.json()["errors"])


async def test_every_bad_update_field_is_named(client: Any) -> None:
    await client.post(BASE, json=summary_body("m"))
    body = {"status": "done", "achieved_value": "5", "achieved_at": "yesterday", "note": "x"}
    response = await put(client, "m~100h", body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["note", "status", "achieved_value", "achieved_at"]
    assert_plain(errors)


async def test_every_bad_query_parameter_is_named_in_plain_words(client: Any) -> None:
    response = await client.get(BASE, params={"page": "0", "limit": "500", "type": "minutes", "status": "x"})
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert errors == {
        "page": "must be a whole number from 1 to 1,000,000",
        "limit": "must be a whole number from 1 to 100",
        "type": "must be hours_logged, contacts_helped or activity_count",
        "status": "must be achieved, in_progress or revoked",
    }


async def test_one_title_per_problem_type(client: Any) -> None:
    await client.post(BASE, json=summary_body("m", hours=150))
    invalid = [
        await client.post(BASE, json=summary_body("has space")),
        await client.get(BASE, params={"limit": "0"}),
        await put(client, "m~100h", {"status": "in_progress"}),
        await client.get(f"{BASE}/m/new", params={"year": "2025", "start_date": "2025-01-01"}),
    ]
    assert {r.status_code for r in invalid} == {422}
    assert {(r.json()["type"], r.json()["title"]) for r in invalid} == {
        ("/problems/invalid-request", "Request is not valid")
    }
