"""Evidence through HTTP on both databases: exact unique contacts, the day a threshold was crossed, a mentor's name."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from milestones.contract import MAX_EVIDENCE, SUMMARY_MAX_BODY_BYTES
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
Client = AsyncTestClient[Litestar]
HASH = "sha256:" + "5e" * 32


async def posted(client: Client, mentor: str = "mentor_001", **kwargs: Any) -> dict[str, dict[str, Any]]:
    response = await client.post(BASE, json=summary_body(mentor, **kwargs))
    assert response.status_code in (200, 201), response.text
    return {item["type"]: item for item in response.json()["data"] if item["status"] == "in_progress"} | {
        item["id"].partition("~")[2]: item for item in response.json()["data"]
    }


async def milestone(client: Client, key: str, mentor: str = "mentor_001") -> dict[str, Any]:
    response = await client.get(f"{BASE}/{mentor}~{key}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def people(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n}" for n in range(count)]


# --- exact unique contacts ---------------------------------------------------------------------------------


async def test_a_contact_helped_in_two_years_counts_once(client: Client) -> None:
    await posted(client, year=2024, contacts=6, identifiers=people("c", 6))
    # c-0 .. c-5 again, and four new: ten people, not sixteen.
    items = await posted(client, year=2025, contacts=10, identifiers=people("c", 10))
    assert items["10contacts"]["status"] == "achieved"
    assert items["10contacts"]["achieved_value"] == 10
    assert items["10contacts"]["value_is_upper_bound"] is False
    assert items["contacts_helped"]["current_value"] == 10


async def test_removing_the_period_that_held_a_contacts_only_appearance_lowers_the_count(client: Client) -> None:
    await posted(client, year=2024, contacts=3, identifiers=["a", "b", "c"])
    await posted(client, year=2025, contacts=3, identifiers=["c", "d", "e"])
    assert (await milestone(client, "10contacts"))["current_value"] == 5
    removed = await client.delete("/api/v1/mentors/mentor_001/periods/2025-01-01/2025-12-31")
    assert removed.status_code == 200
    # d and e went with the period; c stays, held by 2024 as well.
    assert (await milestone(client, "10contacts"))["current_value"] == 3


async def test_a_corrected_period_keeps_the_union_exact(client: Client) -> None:
    await posted(client, year=2024, contacts=2, identifiers=["a", "b"])
    await posted(client, year=2025, contacts=2, identifiers=["b", "c"])
    assert (await milestone(client, "10contacts"))["current_value"] == 3
    await posted(client, year=2025, contacts=1, identifiers=["a"])
    assert (await milestone(client, "10contacts"))["current_value"] == 2


async def test_a_period_corrected_to_a_count_alone_forgets_its_identifiers(client: Client) -> None:
    await posted(client, year=2024, contacts=2, identifiers=["a", "b"])
    await posted(
        client, year=2025, contacts=2, identifiers=["b", "c"], dated=[["2025-02-01", 1, "b"]], hours=1, activities=1
    )
    await posted(client, year=2025, contacts=2, hours=1, activities=1)
    contacts = await milestone(client, "10contacts")
    assert (contacts["current_value"], contacts["value_is_upper_bound"]) == (4, True)
    # Stored as sent: exported again, the period has neither identifiers nor activities.
    periods = (await client.get("/api/v1/mentors/mentor_001/periods")).json()["data"]
    assert periods[1]["summary"] == {"total_hours": 1, "unique_contacts_helped": 2, "activity_count": 1}


async def test_counts_without_identifiers_make_the_value_an_upper_bound(client: Client) -> None:
    await posted(client, year=2024, contacts=4)
    assert (await milestone(client, "10contacts"))["value_is_upper_bound"] is False  # one period: nothing summed
    await posted(client, year=2025, contacts=3, identifiers=["a", "b", "c"])
    contacts = await milestone(client, "10contacts")
    assert (contacts["current_value"], contacts["value_is_upper_bound"]) == (7, True)
    # Hours and activities never carry the flag.
    assert "value_is_upper_bound" not in await milestone(client, "50h")


async def test_mixing_plain_and_hashed_identifiers_is_refused_and_stores_nothing(client: Client) -> None:
    mixed = await client.post(BASE, json=summary_body(contacts=2, identifiers=["a", HASH]))
    assert mixed.status_code == 422
    assert [e["field"] for e in mixed.json()["errors"]] == ["contacts"]
    await posted(client, year=2024, contacts=1, identifiers=[HASH])
    later = await client.post(BASE, json=summary_body(year=2025, contacts=1, identifiers=["plain"]))
    assert later.status_code == 422
    assert "hashed" in later.json()["detail"]
    periods = (await client.get("/api/v1/mentors/mentor_001/periods")).json()["data"]
    assert [p["year"] for p in periods] == [2024]


async def test_a_count_that_disagrees_with_the_identifiers_is_422_naming_both_numbers(client: Client) -> None:
    response = await client.post(BASE, json=summary_body(contacts=3, identifiers=["a", "b", "a"]))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "summary.unique_contacts_helped", "message": "is 3 but contacts holds 2 distinct identifiers"}
    ]
    assert (await client.get("/api/v1/mentors/mentor_001/periods")).json()["data"] == []


@pytest.mark.parametrize(
    ("identifiers", "field"),
    [
        (["has space"], "contacts[0]"),
        (["ok", ""], "contacts[1]"),
        (["x" * 129], "contacts[0]"),
        (["sha256:" + "AB" * 32], "contacts[0]"),  # hashes in lowercase hex
        (["sha256:abc"], "contacts[0]"),  # "sha256:" starts a hash, and this is none
        ("c-1", "contacts"),
    ],
)
async def test_each_bad_identifier_is_named(client: Client, identifiers: Any, field: str) -> None:
    response = await client.post(BASE, json=summary_body(contacts=1, identifiers=identifiers))
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_ten_thousand_identifiers_fit_the_post_route_and_no_more(client: Client) -> None:
    longest = [f"{n:05d}" + "x" * 123 for n in range(MAX_EVIDENCE)]
    body = json.dumps(summary_body(contacts=MAX_EVIDENCE, identifiers=longest)).encode()
    assert 1024 * 1024 < len(body) < SUMMARY_MAX_BODY_BYTES  # past the other routes' limit
    response = await client.post(BASE, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 201, response.text[:300]
    assert (await milestone(client, "250contacts"))["achieved_value"] == MAX_EVIDENCE
    too_many = summary_body("other", contacts=MAX_EVIDENCE + 1, identifiers=people("p", MAX_EVIDENCE + 1))
    refused = await client.post(BASE, json=too_many)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["contacts"]
    # The limit grew for this route only: PUT keeps the general one.
    put = await client.put(
        f"{BASE}/mentor_001~10h", content=b" " * (2 * 1024 * 1024), headers={"content-type": "application/json"}
    )
    assert put.status_code == 413


# --- the day a threshold was crossed ------------------------------------------------------------------------


async def test_dated_activity_moves_achieved_at_to_the_crossing_day_across_period_boundaries(client: Client) -> None:
    # 2024: 8 hours by December; 2025: 1.5 on March 2 (9.5), 1 on March 9 (10.5: 10h crossed that day).
    await posted(client, year=2024, hours=8, activities=1, dated=[["2024-12-01", 8, None]], contacts=0)
    items = await posted(
        client,
        year=2025,
        hours=50,
        activities=3,
        contacts=0,
        dated=[["2025-03-02", 1.5, None], ["2025-03-09", 1, None], ["2025-06-30", 47.5, None]],
    )
    assert (items["10h"]["achieved_at"], items["10h"]["achieved_at_precision"]) == ("2025-03-09T23:59:59Z", "day")
    assert (items["50h"]["achieved_at"], items["50h"]["achieved_at_precision"]) == ("2025-06-30T23:59:59Z", "day")


async def test_dated_contacts_date_the_contacts_milestone_and_a_summary_alone_its_period_end(client: Client) -> None:
    # 2024 without dates: 6 people, counted on December 31. 2025: four new people, the tenth on April 1.
    await posted(client, year=2024, contacts=6, identifiers=people("c", 6))
    dated = [["2025-02-01", 1, "c-0"], ["2025-03-01", 1, "c-6"], ["2025-03-15", 1, "c-7"], ["2025-04-01", 1, "c-8"]]
    dated += [["2025-05-01", 1, "c-9"]]
    items = await posted(client, year=2025, hours=5, activities=5, contacts=5, dated=dated)
    assert items["10contacts"]["achieved_at"] == "2025-05-01T23:59:59Z"
    assert items["10contacts"]["achieved_at_precision"] == "day"
    # The activities alone named who was helped (every one named someone): exact, and counted once each.
    assert items["10contacts"]["achieved_value"] == 10
    only_summary = await posted(client, "someone", year=2025, hours=12, contacts=0, activities=0)
    assert (only_summary["10h"]["achieved_at"], only_summary["10h"]["achieved_at_precision"]) == (
        "2025-12-31T23:59:59Z",
        "period_end",
    )


async def test_a_milestone_already_achieved_keeps_its_date(client: Client) -> None:
    first = await posted(client, year=2025, hours=12, activities=0, contacts=0)
    again = await posted(
        client, year=2025, hours=12, activities=2, contacts=0, dated=[["2025-02-01", 11, None], ["2025-02-02", 1, None]]
    )
    assert again["10h"]["achieved_at"] == first["10h"]["achieved_at"] == "2025-12-31T23:59:59Z"
    assert again["10h"]["achieved_at_precision"] == "period_end"


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"hours": 4}, ["summary.total_hours"]),
        ({"activities": 3}, ["summary.activity_count"]),
        ({"dated": [["2026-01-01", 1, None], ["2025-05-05", 2, None]]}, ["activities"]),
        (
            {"dated": [["2025-01-01", 1, "z"], ["2025-01-02", 2, None]], "identifiers": ["a"], "contacts": 1},
            ["activities"],
        ),
        (
            {"dated": [["2025-01-01", 1, "a"], ["2025-01-02", 2, "b"]], "contacts": 1},
            ["summary.unique_contacts_helped"],
        ),
    ],
)
async def test_totals_that_disagree_with_the_activities_are_422_and_store_nothing(
    client: Client, change: dict[str, Any], fields: list[str]
) -> None:
    values: dict[str, Any] = {"hours": 3, "activities": 2, "contacts": 0}
    values |= {"dated": [["2025-01-01", 1, None], ["2025-05-05", 2, None]]} | change
    response = await client.post(BASE, json=summary_body(**values))
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == fields
    assert (await client.get("/api/v1/mentors/mentor_001/periods")).json()["data"] == []


async def test_a_bad_activity_is_named_by_its_place(client: Client) -> None:
    body = summary_body(hours=1, activities=1, contacts=0, dated=[["2025-01-01", 1, None]])
    body["activities"].append({"date": "yesterday", "hours": 1.234, "extra": 1})
    response = await client.post(BASE, json=body)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "activities[1].date",
        "activities[1].hours",
        "activities[1].extra",
    }


# --- the mentor's name ---------------------------------------------------------------------------------------


async def test_the_page_heading_shows_the_latest_name_and_patch_changes_or_clears_it(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await posted(client, display_name="Ada Lövelace")
    page = await client.get("/mentors/mentor_001")
    assert "<h1>Ada Lövelace</h1>" in page.text
    await posted(client, year=2024, display_name="Ada King")
    assert "<h1>Ada King</h1>" in (await client.get("/mentors/mentor_001")).text
    patched = await client.patch("/api/v1/mentors/mentor_001", json={"display_name": "Countess <Ada>"})
    assert patched.status_code == 200
    assert patched.json() == {"mentor_id": "mentor_001", "display_name": "Countess <Ada>"}
    assert "<h1>Countess &lt;Ada&gt;</h1>" in (await client.get("/mentors/mentor_001")).text
    cleared = await client.patch("/api/v1/mentors/mentor_001", json={"display_name": None})
    assert cleared.json() == {"mentor_id": "mentor_001"}
    assert "<h1>mentor_001</h1>" in (await client.get("/mentors/mentor_001")).text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Ada" not in logged and "Countess" not in logged


async def test_a_name_alone_changes_nothing_a_posts_answer_speaks_of(client: Client) -> None:
    first = await client.post(BASE, json=summary_body(display_name="Ada"))
    again = await client.post(BASE, json=summary_body(display_name="Ada King"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert "<h1>Ada King</h1>" in (await client.get("/mentors/mentor_001")).text


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "tab\there", 7])
async def test_a_bad_name_is_refused(client: Client, name: Any) -> None:
    patched = await client.patch("/api/v1/mentors/mentor_001", json={"display_name": name})
    assert patched.status_code == 422
    assert [e["field"] for e in patched.json()["errors"]] == ["display_name"]
    posted_name = await client.post(BASE, json=summary_body(display_name=name))
    assert posted_name.status_code == 422
    assert [e["field"] for e in posted_name.json()["errors"]] == ["mentor_display_name"]


async def test_the_openapi_document_describes_the_new_fields(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    schemas = document["components"]["schemas"]
    summary = next(s for name, s in schemas.items() if name.endswith("RecordSummaryIn"))
    assert {"contacts", "activities", "mentor_display_name"} <= set(summary["properties"])
    assert set(summary["required"]) == {"mentor_id", "period", "summary"}
    out = next(s for name, s in schemas.items() if name.endswith("MilestoneOut"))
    assert {"achieved_at_precision", "value_is_upper_bound"} <= set(out["properties"])
    assert "patch" in document["paths"]["/api/v1/mentors/{mentor_id}"]
