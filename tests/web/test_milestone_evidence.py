"""Why a milestone stands where it does, over HTTP on both databases: its evidence, and the estimate of the next."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from milestones.access.keys import parse_key_list
from milestones.settings import Settings
from milestones.web.app import create_app
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
Client = AsyncTestClient[Litestar]


async def post(client: Client, mentor: str = "ada", **kwargs: Any) -> None:
    response = await client.post(BASE, json=summary_body(mentor, **kwargs))
    assert response.status_code in (200, 201), response.text


async def evidence(client: Client, milestone_id: str) -> dict[str, Any]:
    response = await client.get(f"{BASE}/{milestone_id}/evidence")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def value_of(client: Client, milestone_id: str) -> float:
    item = (await client.get(f"{BASE}/{milestone_id}")).json()
    value: float = item.get("current_value", item.get("achieved_value"))
    return value


def adds_up(found: dict[str, Any]) -> bool:
    return bool(round(sum(p["value"] for p in found["periods"]), 2) == found["value"])


# --- the evidence --------------------------------------------------------------------------------------------


async def test_summed_hours_add_up_to_the_value_period_by_period(client: Client) -> None:
    await post(client, year=2024, hours=30.25, contacts=0, activities=3)
    await post(client, year=2025, hours=12.5, contacts=0, activities=2)
    found = await evidence(client, "ada~50h")
    assert found["status"] == "in_progress" and found["value"] == await value_of(client, "ada~50h") == 42.75
    assert [(p["start_date"], p["value"]) for p in found["periods"]] == [("2024-01-01", 30.25), ("2025-01-01", 12.5)]
    assert adds_up(found)
    assert found["rule"]["type"] == "hours_logged" and found["rule"]["threshold"] == 50
    assert found["rule"]["catalog_version"]
    assert (found["value_is_upper_bound"], found["set_by_person"]) == (False, False)
    assert "crossed" not in found and "set_by" not in found


async def test_exact_contacts_show_who_was_first_seen_in_each_period_and_add_up(client: Client) -> None:
    await post(client, year=2024, contacts=3, identifiers=["b", "a", "c"])
    await post(
        client,
        year=2025,
        contacts=4,
        identifiers=["c", "z", "d", "e"],
        hours=2,
        activities=2,
        dated=[["2025-05-01", 1, "z"], ["2025-02-01", 1, "e"]],
    )
    found = await evidence(client, "ada~10contacts")
    # c was seen in 2024; 2025's new people by the day an activity first named them, the undated one last.
    assert [p.get("contacts") for p in found["periods"]] == [["a", "b", "c"], ["e", "z", "d"]]
    assert found["value"] == await value_of(client, "ada~10contacts") == 6
    assert adds_up(found) and found["value_is_upper_bound"] is False


async def test_a_count_without_identifiers_makes_the_evidence_an_upper_bound(client: Client) -> None:
    await post(client, year=2024, contacts=4)
    await post(client, year=2025, contacts=2, identifiers=["a", "b"])
    found = await evidence(client, "ada~10contacts")
    assert [p.get("contacts") for p in found["periods"]] == [None, ["a", "b"]]
    assert (found["value"], found["value_is_upper_bound"]) == (6, True)
    assert adds_up(found)


async def test_the_evidence_follows_a_correction_and_a_removed_period(client: Client) -> None:
    await post(client, year=2024, contacts=2, identifiers=["a", "b"], hours=5)
    await post(client, year=2025, contacts=2, identifiers=["b", "c"], hours=3)
    await post(client, year=2025, contacts=1, identifiers=["d"], hours=4)  # a correction of 2025
    contacts, hours = await evidence(client, "ada~10contacts"), await evidence(client, "ada~10h")
    assert [p["value"] for p in contacts["periods"]] == [2, 1] and contacts["value"] == 3
    assert [p["value"] for p in hours["periods"]] == [5, 4] and hours["value"] == 9
    assert contacts["value"] == await value_of(client, "ada~10contacts")
    removed = await client.delete("/api/v1/mentors/ada/periods/2024-01-01/2024-12-31")
    assert removed.status_code == 200
    contacts = await evidence(client, "ada~10contacts")
    assert [(p["start_date"], p["value"], p["contacts"]) for p in contacts["periods"]] == [("2025-01-01", 1, ["d"])]
    assert contacts["value"] == await value_of(client, "ada~10contacts") == 1
    assert adds_up(contacts)


async def test_an_achieved_milestone_names_the_period_and_day_that_crossed_it(client: Client) -> None:
    await post(client, year=2024, hours=6, contacts=0, activities=6)
    await post(
        client,
        year=2025,
        hours=6,
        contacts=0,
        activities=3,
        dated=[["2025-01-10", 2, None], ["2025-02-20", 3, None], ["2025-03-01", 1, None]],
    )
    found = await evidence(client, "ada~10h")
    assert found["status"] == "achieved" and found["achieved_value"] == 12
    assert found["crossed"] == {"start_date": "2025-01-01", "end_date": "2025-12-31", "day": "2025-02-20"}
    assert found["achieved_at_precision"] == "day"
    assert "estimated_completion" not in found
    summed = await evidence(client, "ada~50activities")
    assert summed["status"] == "in_progress" and "crossed" not in summed


async def test_a_milestone_set_by_a_person_says_so_with_the_entry_that_did(client: Client) -> None:
    await post(client, year=2025, hours=20, contacts=0, activities=1)
    put = await client.put(f"{BASE}/ada~50h", json={"status": "achieved"}, headers={"X-Request-ID": "req-set-50h"})
    assert put.status_code == 200
    found = await evidence(client, "ada~50h")
    assert found["set_by_person"] is True and found["status"] == "achieved"
    entry = found["set_by"]
    assert (entry["cause"], entry["transition"], entry["request_id"]) == ("put", "updated", "req-set-50h")
    assert entry["after"]["set_by_person"] is True
    assert "crossed" not in found  # twenty hours never reached fifty: a person decided
    assert found["value"] == 20 and adds_up(found)
    history = (await client.get(f"{BASE}/ada~50h/history")).json()["data"]
    assert entry == history[-1]
    detected = await evidence(client, "ada~10h")
    assert detected["set_by_person"] is False and "set_by" not in detected


async def test_an_unknown_or_impossible_milestone_is_a_404_problem(client: Client) -> None:
    for milestone_id in ("nobody~10h", "not-an-id", "ada~10h"):
        response = await client.get(f"{BASE}/{milestone_id}/evidence")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 404


async def test_evidence_needs_a_key_when_reads_do(settings: Settings, clock: FakeClock) -> None:
    keyed = settings.model_copy(update={"api_keys": parse_key_list("reader-key:read"), "read_requires_key": True})
    async with AsyncTestClient(app=create_app(keyed, clock=clock)) as client:
        assert (await client.get(f"{BASE}/ada~10h/evidence")).status_code == 401
        with_key = await client.get(f"{BASE}/ada~10h/evidence", headers={"Authorization": "Bearer reader-key"})
        assert with_key.status_code == 404  # past the key check: there is no such milestone


# --- the estimate --------------------------------------------------------------------------------------------


async def steady(client: Client, mentor: str = "ada") -> None:
    """One hour and one activity a day through January and February 2026: 59 of each, nobody helped."""
    await post(
        client, mentor, year=2026, start_date="2026-01-01", end_date="2026-01-31", hours=31, contacts=0, activities=31
    )
    await post(
        client, mentor, year=2026, start_date="2026-02-01", end_date="2026-02-28", hours=28, contacts=0, activities=28
    )


async def test_a_steady_mentors_estimates_land_on_the_expected_day(client: Client, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    await steady(client)
    listed = (await client.get(f"{BASE}/ada/in-progress")).json()["data"]
    estimates = {item["id"]: item.get("estimated_completion") for item in listed}
    # 41 left of 100 at one a day, from today (later than February 28): April 11.
    assert estimates == {"ada~100h": "2026-04-11", "ada~100activities": "2026-04-11", "ada~10contacts": None}
    assert (await evidence(client, "ada~100h"))["estimated_completion"] == "2026-04-11"
    assert "estimated_completion" not in await evidence(client, "ada~10contacts")  # no pace: nobody helped yet


async def test_no_estimate_once_the_latest_period_ended_more_than_a_year_ago(client: Client, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    await steady(client)
    clock.now = datetime(2027, 2, 28, 12, 0, tzinfo=UTC)
    listed = (await client.get(f"{BASE}/ada/in-progress")).json()["data"]
    assert {item.get("estimated_completion") for item in listed} == {"2027-04-10", None}
    clock.now = datetime(2027, 3, 1, tzinfo=UTC)
    listed = (await client.get(f"{BASE}/ada/in-progress")).json()["data"]
    assert all("estimated_completion" not in item for item in listed)
    assert "estimated_completion" not in await evidence(client, "ada~100h")


async def test_no_estimate_more_than_ten_years_away(client: Client, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    await post(client, start_date="2025-01-01", end_date="2025-12-31", hours=0.5, contacts=0, activities=0)
    listed = (await client.get(f"{BASE}/ada/in-progress")).json()["data"]
    assert [item.get("estimated_completion") for item in listed if item["id"] == "ada~10h"] == [None]


async def test_get_one_and_the_list_carry_no_estimate_so_their_etags_stay(client: Client, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    await steady(client)
    one = await client.get(f"{BASE}/ada~100h")
    listing = (await client.get(BASE, params={"mentor_id": "ada"})).json()["data"]
    assert "estimated_completion" not in one.json()
    assert all("estimated_completion" not in item for item in listing)
    clock.now = datetime(2026, 3, 20, tzinfo=UTC)  # another day, another estimate: the same representation
    assert (await client.get(f"{BASE}/ada~100h")).headers["etag"] == one.headers["etag"]


async def test_the_framework_answers_the_in_progress_list_as_the_fast_path_does(
    client: Client, settings: Settings, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    await steady(client)
    fast = await client.get(f"{BASE}/ada/in-progress", params={"locale": "es"})
    async with AsyncTestClient(app=create_app(settings, clock=clock, fast_path=False)) as framework_client:
        framework = await framework_client.get(f"{BASE}/ada/in-progress", params={"locale": "es"})
    assert fast.status_code == framework.status_code == 200
    assert fast.content == framework.content
    assert b"estimated_completion" in fast.content


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", "At your pace, around April 2026"),
        ("de", "Bei Ihrem Tempo etwa im April 2026"),
        ("es", "A tu ritmo, hacia abril de 2026"),
        ("fr", "À votre rythme, vers avril 2026"),
        ("pt-BR", "No seu ritmo, por volta de abril de 2026"),
    ],
)
async def test_the_mentors_page_shows_the_estimate_in_words(
    client: Client, clock: FakeClock, locale: str, words: str
) -> None:
    clock.now = datetime(2026, 3, 1, tzinfo=UTC)
    await steady(client)
    page = await client.get(f"/mentors/ada?locale={locale}")
    assert page.status_code == 200
    assert words in page.text
