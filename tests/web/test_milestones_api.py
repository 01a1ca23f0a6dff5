"""The seven contract endpoints, through HTTP against the real ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
Client = AsyncTestClient[Litestar]


async def post_summary(client: Client, **kwargs: Any) -> Any:
    response = await client.post(BASE, json=summary_body(**kwargs))
    assert response.status_code in (200, 201), response.text
    return response.json()


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in body["data"]}


async def test_post_detects_achieved_and_next_rungs_with_contract_shapes(client: Client) -> None:
    response = await client.post(BASE, json=summary_body())
    assert response.status_code == 201
    body = response.json()
    items = by_name(body)

    hundred = items["100 Hours Milestone"]
    assert hundred == {
        "id": hundred["id"],
        "mentor_id": "mentor_001",
        "name": "100 Hours Milestone",
        "type": "hours_logged",
        "status": "achieved",
        "threshold": 100,
        "achieved_value": 312.5,
        "achieved_at": "2025-12-31T23:59:59Z",
        "achieved_at_precision": "period_end",
        "accessibility_label": "You reached 100 hours of mentoring on December 31, 2025",
        "badge_image_url": "/assets/badges/100h.png",
    }
    contacts = items["50 Unique Contacts"]
    assert contacts == {
        "id": contacts["id"],
        "mentor_id": "mentor_001",
        "name": "50 Unique Contacts",
        "type": "contacts_helped",
        "status": "in_progress",
        "threshold": 50,
        "achieved_value": 47,
        "current_value": 47,
        "progress_percentage": 94,
        "remaining": 3,
        "value_is_upper_bound": False,
        "accessibility_label": "You have helped 47 out of 50 unique contacts, 3 remaining",
        "badge_image_url": "/assets/badges/50contacts.png",
    }
    # Only the next unreached rung of each type is stored: 500h, not 1000h.
    assert "500 Hours Milestone" in items and "1000 Hours Milestone" not in items
    assert items["500 Hours Milestone"]["status"] == "in_progress"
    assert body["pagination"] == {"page": 1, "limit": 20, "total": len(body["data"])}


async def test_posting_the_same_summary_again_changes_nothing(client: Client) -> None:
    first = await client.post(BASE, json=summary_body())
    second = await client.post(BASE, json=summary_body())
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()


async def test_correction_replaces_the_period_and_keeps_achievements(client: Client, clock: FakeClock) -> None:
    first = by_name(await post_summary(client, hours=312.5))
    clock.now = datetime(2026, 6, 1, tzinfo=UTC)
    response = await client.post(BASE, json=summary_body(hours=120))
    assert response.status_code == 201
    corrected = by_name(response.json())
    # 300h stays achieved with its original value and time although the total fell below it, marked unsupported
    # (MILESTONES_ON_LOST_THRESHOLD=keep, the default), and the answer says so.
    assert corrected["300 Hours Milestone"] == first["300 Hours Milestone"] | {"supported": False}
    assert response.json()["unsupported"] == ["mentor_001~300h"]
    assert corrected["500 Hours Milestone"]["current_value"] == 120
    periods = (await client.get("/api/v1/mentors/mentor_001/periods")).json()["data"]
    assert len(periods) == 1 and periods[0]["summary"]["total_hours"] == 120


async def test_values_are_summed_over_periods_exactly(client: Client) -> None:
    await post_summary(client, year=2023, hours=0.1, contacts=1, activities=1)
    body = await post_summary(client, year=2024, hours=0.2, contacts=1, activities=1)
    ten_hours = by_name(body)["10 Hours Milestone"]
    assert ten_hours["current_value"] == 0.3
    assert ten_hours["accessibility_label"] == "You have logged 0.3 out of 10 hours of mentoring, 9.7 remaining"


async def test_achieved_at_is_the_end_of_the_crossing_period_in_date_order(client: Client) -> None:
    # Posted out of order: 2024 first, then the earlier 2023 period that crossed 100 hours by itself.
    await post_summary(client, year=2024, hours=60)
    body = await post_summary(client, year=2023, hours=150)
    hundred = by_name(body)["100 Hours Milestone"]
    assert hundred["achieved_at"] == "2023-12-31T23:59:59Z"
    assert hundred["achieved_value"] == 210


async def test_achieved_at_is_never_later_than_detection(client: Client, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    body = await post_summary(client, year=2026, hours=150)
    assert by_name(body)["100 Hours Milestone"]["achieved_at"] == "2026-03-01T12:00:00Z"


async def test_ids_are_stable_and_deleted_records_come_back_under_the_same_id(client: Client) -> None:
    hundred = by_name(await post_summary(client))["100 Hours Milestone"]
    deleted = await client.delete(f"{BASE}/{hundred['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": True, "id": hundred["id"]}
    assert (await client.get(f"{BASE}/{hundred['id']}")).status_code == 404
    again = by_name(await post_summary(client, hours=313))["100 Hours Milestone"]
    assert again["id"] == hundred["id"]


async def test_ids_differ_across_mentors(client: Client) -> None:
    a = by_name(await post_summary(client, mentor_id="a"))["100 Hours Milestone"]["id"]
    b = by_name(await post_summary(client, mentor_id="b"))["100 Hours Milestone"]["id"]
    assert a != b


async def test_get_one_carries_badge_url_and_the_image_is_a_png(client: Client) -> None:
    item = by_name(await post_summary(client))["100 Hours Milestone"]
    one = await client.get(f"{BASE}/{item['id']}")
    assert one.status_code == 200
    assert one.json() == item
    badge = await client.get(one.json()["badge_image_url"])
    assert badge.status_code == 200
    assert badge.headers["content-type"] == "image/png"
    assert badge.content.startswith(b"\x89PNG\r\n\x1a\n")


async def test_list_filters_and_pages_in_a_stable_order(client: Client) -> None:
    await post_summary(client, mentor_id="alice")
    await post_summary(client, mentor_id="bob", hours=20, contacts=5, activities=5)

    everything = (await client.get(BASE, params={"limit": 100})).json()
    assert everything["pagination"]["total"] == len(everything["data"])
    assert [i["mentor_id"] for i in everything["data"]] == sorted(i["mentor_id"] for i in everything["data"])

    bob = (await client.get(BASE, params={"mentor_id": "bob"})).json()
    assert {i["mentor_id"] for i in bob["data"]} == {"bob"}

    hours = (await client.get(BASE, params={"type": "hours_logged", "status": "in_progress"})).json()
    assert {(i["mentor_id"], i["name"]) for i in hours["data"]} == {
        ("alice", "500 Hours Milestone"),
        ("bob", "50 Hours Milestone"),
    }

    pages = [(await client.get(BASE, params={"page": p, "limit": 3})).json() for p in (1, 2, 3, 4, 5)]
    walked = [i["id"] for page in pages for i in page["data"]]
    assert walked == [i["id"] for i in everything["data"]]
    assert pages[1]["pagination"]["page"] == 2
    assert pages[1]["pagination"]["total"] == everything["pagination"]["total"]


async def test_a_mentors_list_pages_in_catalog_order_with_its_total(client: Client) -> None:
    await post_summary(client, mentor_id="alice")
    await post_summary(client, mentor_id="bob")  # another mentor's rows stay out of alice's pages
    everything = (await client.get(BASE, params={"mentor_id": "alice", "limit": 100})).json()
    items = everything["data"]
    assert len(items) > 3 and {i["mentor_id"] for i in items} == {"alice"}
    names = [i["name"] for i in items]
    # Catalog order, not id order: the ids sort "100activities" before "100h".
    assert names.index("100 Hours Milestone") < names.index("100 Activities")

    pages = [
        (await client.get(BASE, params={"mentor_id": "alice", "page": p, "limit": 3})).json()
        for p in range(1, len(items) // 3 + 3)
    ]
    assert [i["id"] for page in pages for i in page["data"]] == [i["id"] for i in items]
    assert {page["pagination"]["total"] for page in pages} == {len(items)}
    assert pages[-1]["data"] == []  # past the end: empty, with the total still given

    reached = (await client.get(BASE, params={"mentor_id": "alice", "status": "achieved", "limit": 2})).json()
    achieved = [i for i in items if i["status"] == "achieved"]
    assert reached["data"] == achieved[:2]
    assert reached["pagination"]["total"] == len(achieved)


async def test_a_cursor_walk_visits_every_item_once_in_id_order(client: Client) -> None:
    for mentor in ("alice", "bob", "carol"):
        await post_summary(client, mentor_id=mentor)
    everything = (await client.get(BASE, params={"limit": 100})).json()
    assert "next_cursor" not in everything["pagination"]

    walked: list[str] = []
    response = (await client.get(BASE, params={"limit": 4})).json()
    while True:
        walked.extend(i["id"] for i in response["data"])
        cursor = response["pagination"].get("next_cursor")
        if cursor is None:
            break
        response = (await client.get(BASE, params={"limit": 4, "cursor": cursor})).json()
        assert "total" not in response["pagination"]  # a walk does not count
    assert walked == [i["id"] for i in everything["data"]]
    assert walked == sorted(walked)


@pytest.mark.parametrize("params", [{"cursor": "%%%"}, {"cursor": "YWxpY2V-MTBo", "page": 2}])
async def test_invalid_cursors_are_422(client: Client, params: dict[str, Any]) -> None:
    response = await client.get(BASE, params=params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_list_by_achieved_dates_selects_achieved_milestones_in_range(client: Client) -> None:
    await post_summary(client, year=2023, hours=60, contacts=0, activities=0)
    await post_summary(client, year=2024, hours=60, contacts=0, activities=0)
    in_2024 = (await client.get(BASE, params={"achieved_from": "2024-01-01", "achieved_to": "2024-12-31"})).json()
    assert {i["name"] for i in in_2024["data"]} == {"100 Hours Milestone"}
    upto = (await client.get(BASE, params={"achieved_to": "2023-12-31"})).json()
    assert {i["name"] for i in upto["data"]} == {"10 Hours Milestone", "50 Hours Milestone"}
    assert all(i["status"] == "achieved" for i in upto["data"])


async def test_put_marks_achieved_and_regenerates_the_label(client: Client) -> None:
    item = by_name(await post_summary(client))["500 Hours Milestone"]
    response = await client.put(
        f"{BASE}/{item['id']}",
        json={"status": "achieved", "achieved_value": 315, "achieved_at": "2026-01-03T09:00:00Z"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "id": item["id"],
        "mentor_id": "mentor_001",
        "name": "500 Hours Milestone",
        "type": "hours_logged",
        "status": "achieved",
        "threshold": 500,
        "achieved_value": 315,
        "achieved_at": "2026-01-03T09:00:00Z",
        "achieved_at_precision": "set_by_person",
        "accessibility_label": "You reached 500 hours of mentoring on January 3, 2026",
        "badge_image_url": "/assets/badges/500h.png",
    }
    assert (await client.get(f"{BASE}/{item['id']}")).json() == response.json()


async def test_put_achieved_without_time_stamps_now_and_keeps_an_existing_time(
    client: Client, clock: FakeClock
) -> None:
    items = by_name(await post_summary(client))
    stamped = (await client.put(f"{BASE}/{items['500 Hours Milestone']['id']}", json={"status": "achieved"})).json()
    assert stamped["achieved_at"] == "2026-03-01T12:00:00Z"
    assert stamped["achieved_value"] == 312.5
    kept = (await client.put(f"{BASE}/{items['100 Hours Milestone']['id']}", json={"status": "achieved"})).json()
    assert kept["achieved_at"] == items["100 Hours Milestone"]["achieved_at"]


async def test_achieved_at_is_whole_seconds_when_stamped_given_or_detected(client: Client, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 1, 12, 0, 7, 654321, tzinfo=UTC)
    detected = by_name(await post_summary(client, mentor_id="m2", year=2026))  # a period ending after today
    assert detected["100 Hours Milestone"]["achieved_at"] == "2026-03-01T12:00:07Z"
    items = by_name(await post_summary(client))
    stamped = (await client.put(f"{BASE}/{items['500 Hours Milestone']['id']}", json={"status": "achieved"})).json()
    assert stamped["achieved_at"] == "2026-03-01T12:00:07Z"
    given = await client.put(
        f"{BASE}/{items['50 Unique Contacts']['id']}",
        json={"status": "achieved", "achieved_at": "2026-02-03T04:05:06.789Z"},
    )
    assert given.json()["achieved_at"] == "2026-02-03T04:05:06Z"


async def test_a_summary_of_a_period_that_starts_after_today_is_a_422(client: Client, clock: FakeClock) -> None:
    refused = await client.post(BASE, json=summary_body(start_date="2026-03-02", end_date="2026-12-31", year=2026))
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "field": "period.start_date",
            "message": "The period starts on 2026-03-02, after today (2026-03-01); record its summary once it has "
            "begun.",
        }
    ]
    assert (await client.get(f"{BASE}/mentor_001/in-progress")).json()["data"] == []
    today = await client.post(BASE, json=summary_body(start_date="2026-03-01", end_date="2026-12-31", year=2026))
    assert today.status_code == 201


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"year": 2025, "start_date": "2025-01-01"}, "cannot be combined with start_date"),
        ({"year": 2025, "end_date": "2025-12-31"}, "cannot be combined with end_date"),
        (
            {"year": 2025, "start_date": "2025-01-01", "end_date": "2025-12-31"},
            "cannot be combined with start_date and end_date",
        ),
    ],
)
async def test_new_says_which_dates_a_year_cannot_be_combined_with(
    client: Client, params: dict[str, Any], message: str
) -> None:
    response = await client.get(f"{BASE}/mentor_001/new", params=params)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "year", "message": message}]


async def test_put_in_progress_clears_the_time_and_detection_respects_it(client: Client) -> None:
    five_hundred = by_name(await post_summary(client))["500 Hours Milestone"]
    # Awarded by hand at 312.5 hours, then taken back: allowed, as the mentor has not reached 500 hours.
    awarded = await client.put(f"{BASE}/{five_hundred['id']}", json={"status": "achieved"})
    assert awarded.status_code == 200
    response = await client.put(f"{BASE}/{five_hundred['id']}", json={"status": "in_progress"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "in_progress" and "achieved_at" not in body
    assert body["progress_percentage"] == 62 and body["remaining"] == 187.5
    # A later summary reaches it, but a person's decision is not overridden.
    after = by_name(await post_summary(client, hours=600))["500 Hours Milestone"]
    assert after["status"] == "in_progress"
    assert after["current_value"] == 600


async def test_put_rejects_achieved_at_with_in_progress_and_changes_nothing(client: Client) -> None:
    hundred = by_name(await post_summary(client))["100 Hours Milestone"]
    response = await client.put(
        f"{BASE}/{hundred['id']}", json={"status": "in_progress", "achieved_at": "2026-01-03T09:00:00Z"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "achieved_at"
    assert (await client.get(f"{BASE}/{hundred['id']}")).json() == hundred


async def test_put_on_unknown_id_is_404(client: Client) -> None:
    response = await client.put(f"{BASE}/ms_nothing", json={"status": "achieved"})
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/milestone-not-found"


async def test_delete_unknown_is_404(client: Client) -> None:
    response = await client.delete(f"{BASE}/ms_nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_new_selects_milestones_achieved_in_the_period(client: Client) -> None:
    await post_summary(client, year=2024, hours=60, contacts=0, activities=0)
    await post_summary(client, year=2025, hours=60, contacts=0, activities=0)
    by_year = (await client.get(f"{BASE}/mentor_001/new", params={"year": 2025})).json()
    assert [i["name"] for i in by_year["data"]] == ["100 Hours Milestone"]
    by_dates = (
        await client.get(f"{BASE}/mentor_001/new", params={"start_date": "2024-12-31", "end_date": "2024-12-31"})
    ).json()
    assert {i["name"] for i in by_dates["data"]} == {"10 Hours Milestone", "50 Hours Milestone"}
    assert by_dates["pagination"] == {"page": 1, "limit": 20, "total": 2}


async def test_new_defaults_to_the_current_calendar_year(client: Client, clock: FakeClock) -> None:
    clock.now = datetime(2025, 6, 1, tzinfo=UTC)
    await post_summary(client, year=2024, hours=60, contacts=0, activities=0)
    await post_summary(
        client, year=2025, start_date="2025-01-01", end_date="2025-03-31", hours=60, contacts=0, activities=0
    )
    current = (await client.get(f"{BASE}/mentor_001/new")).json()
    assert [i["name"] for i in current["data"]] == ["100 Hours Milestone"]


@pytest.mark.parametrize(
    "params",
    [
        {"year": 2025, "start_date": "2025-01-01", "end_date": "2025-12-31"},
        {"start_date": "2025-01-01"},
        {"end_date": "2025-01-01"},
        {"start_date": "2025-02-01", "end_date": "2025-01-01"},
        {"year": 0},
        {"year": "twenty"},
    ],
)
async def test_new_rejects_ambiguous_or_bad_periods(client: Client, params: dict[str, Any]) -> None:
    response = await client.get(f"{BASE}/mentor_001/new", params=params)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


async def test_in_progress_orders_closest_to_completion_first(client: Client) -> None:
    await post_summary(client, hours=312.5, contacts=47, activities=198)
    body = (await client.get(f"{BASE}/mentor_001/in-progress")).json()
    assert [(i["name"], i["progress_percentage"], i["remaining"]) for i in body["data"]] == [
        ("50 Unique Contacts", 94, 3),
        ("250 Activities", 79, 52),
        ("500 Hours Milestone", 62, 187.5),
    ]
    assert body["data"][0]["accessibility_label"] == "You have helped 47 out of 50 unique contacts, 3 remaining"
    assert all(i["status"] == "in_progress" and "achieved_at" not in i for i in body["data"])
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 3}
    second = (await client.get(f"{BASE}/mentor_001/in-progress", params={"page": 2, "limit": 2})).json()
    assert [i["name"] for i in second["data"]] == ["500 Hours Milestone"]


async def test_in_progress_ties_break_on_remaining_then_catalog_order(client: Client) -> None:
    # All three are at 50%: less remaining first (5 before 25), then catalog order (hours before contacts).
    await post_summary(client, hours=5, contacts=5, activities=25)
    names = [i["name"] for i in (await client.get(f"{BASE}/mentor_001/in-progress")).json()["data"]]
    assert names == ["10 Hours Milestone", "10 Unique Contacts", "50 Activities"]


async def test_unknown_mentor_gets_empty_lists(client: Client) -> None:
    for path in ("new", "in-progress"):
        response = await client.get(f"{BASE}/nobody/{path}")
        assert response.status_code == 200
        assert response.json() == {"data": [], "pagination": {"page": 1, "limit": 20, "total": 0}}


async def test_contract_paths_with_the_doubled_prefix_are_aliases(client: Client) -> None:
    doubled = BASE + BASE
    created = await client.post(doubled, json=summary_body())
    assert created.status_code == 201
    item = created.json()["data"][0]
    assert (await client.get(f"{doubled}/{item['id']}")).json() == item
    assert (await client.get(f"{doubled}/mentor_001/in-progress")).status_code == 200
    assert (await client.get(f"{doubled}/mentor_001/new", params={"year": 2025})).status_code == 200
    assert (await client.put(f"{doubled}/{item['id']}", json={"status": "achieved"})).status_code == 200
    assert (await client.delete(f"{doubled}/{item['id']}")).json() == {"deleted": True, "id": item["id"]}
    schema = (await client.get("/schema/openapi.json")).json()
    assert not any(path.startswith(doubled) for path in schema["paths"])
    assert {BASE, f"{BASE}/{{milestone_id}}", f"{BASE}/{{mentor_id}}/new"} <= set(schema["paths"])
