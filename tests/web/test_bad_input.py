"""Bad input gets a clear RFC 9457 problem, never a 5xx, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from milestones.contract import SUMMARY_MAX_BODY_BYTES
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
Client = AsyncTestClient[Litestar]


def with_changes(path: str, value: Any) -> dict[str, Any]:
    """A valid summary body with one field (dotted path) replaced, or removed when value is ...."""
    body = summary_body()
    *parents, leaf = path.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    if value is ...:
        del target[leaf]
    else:
        target[leaf] = value
    return body


async def assert_nothing_stored(client: Client) -> None:
    listing = (await client.get(BASE)).json()
    assert listing["pagination"]["total"] == 0
    assert (await client.get("/api/v1/mentors/mentor_001/periods")).json() == {"data": []}


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("mentor_id", ..., "mentor_id"),
        ("mentor_id", "", "mentor_id"),
        ("mentor_id", "has space", "mentor_id"),
        ("mentor_id", "x" * 129, "mentor_id"),
        ("mentor_id", "trailing\n", "mentor_id"),
        ("mentor_id", "nul\u0000", "mentor_id"),
        ("mentor_id", 17, "mentor_id"),
        ("summary.total_hours", -1, "summary.total_hours"),
        ("summary.total_hours", 1_000_000.01, "summary.total_hours"),
        ("summary.total_hours", 12.345, "summary.total_hours"),
        ("summary.total_hours", "12", "summary.total_hours"),
        ("summary.total_hours", True, "summary.total_hours"),
        ("summary.total_hours", None, "summary.total_hours"),
        ("summary.total_hours", 10**400, "summary.total_hours"),
        ("summary.unique_contacts_helped", 4.5, "summary.unique_contacts_helped"),
        ("summary.unique_contacts_helped", "47", "summary.unique_contacts_helped"),
        ("summary.unique_contacts_helped", 10_000_001, "summary.unique_contacts_helped"),
        ("summary.activity_count", -3, "summary.activity_count"),
        ("summary.activity_count", ..., "summary.activity_count"),
        ("summary.extra", 1, "summary.extra"),
        ("period.year", 2024, "period.year"),
        ("period.start_date", "2025-13-01", "period.start_date"),
        ("period.end_date", "2024-12-31", "period.end_date"),
        ("period.end_date", "2026-01-02", "period.end_date"),
        ("period", ..., "period"),
    ],
)
async def test_invalid_summary_is_422_naming_the_field(client: Client, path: str, value: Any, field: str) -> None:
    response = await client.post(BASE, json=with_changes(path, value))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert {"type", "title", "status", "detail"} <= set(problem)
    assert field in [e["field"] for e in problem["errors"]]
    await assert_nothing_stored(client)


async def test_whole_number_counts_may_be_written_with_a_decimal_point(client: Client) -> None:
    response = await client.post(BASE, json=summary_body(contacts=47.0, activities=198.0))
    assert response.status_code == 201


async def test_a_leap_year_period_of_366_days_is_accepted(client: Client) -> None:
    response = await client.post(BASE, json=summary_body(year=2024))
    assert response.status_code == 201


@pytest.mark.parametrize(
    "raw",
    [
        b'{"mentor_id": "m"',
        b"not json",
        b'{"mentor_id": NaN}',
        b'{"summary": {"total_hours": Infinity}}',
        b"[" * 100_000 + b"]" * 100_000,
        b"\xff\xfe",
    ],
)
async def test_malformed_json_is_a_400_problem(client: Client, raw: bytes) -> None:
    response = await client.post(BASE, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    await assert_nothing_stored(client)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "is empty; send a JSON object"),
        (b" \r\n", "is empty; send a JSON object"),
        (b'{"mentor_id": "\xff"}', "is not UTF-8 text (byte 16 cannot be read as UTF-8)"),
        (b"\xff\xfe", "is not UTF-8 text (byte 1 cannot be read as UTF-8)"),
        (
            b'{"mentor_id": "m",\n "period": }',
            "is not valid JSON: expected a value (an object, array, string, number, true, false or null) "
            "at line 2, column 12",
        ),
        (
            b'{"mentor_id": "m"',
            "is not valid JSON: expected a comma, or the end of the object or array at line 1, column 18",
        ),
        (b'{"mentor_id": "m"} x', "is not valid JSON: more text follows the JSON value at line 1, column 20"),
        (b'{"summary": {"total_hours": NaN}}', "is not valid JSON: NaN is not a JSON number"),
        (b"[" * 100_000 + b"]" * 100_000, "is not valid here: its arrays and objects are nested too deeply"),
    ],
)
async def test_a_body_that_is_not_json_is_a_400_in_plain_words(client: Client, raw: bytes, message: str) -> None:
    """The same words from the fast path and the framework: the fast path hands every failure to the
    framework, whose strict decoding words it."""
    response = await client.post(BASE, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    problem = response.json()
    assert problem["errors"] == [{"field": "body", "message": message}]
    assert problem["detail"] == f"The body {message}."
    put = await client.put(f"{BASE}/mentor_001~100h", content=raw, headers={"content-type": "application/json"})
    assert (put.status_code, put.json()["errors"]) == (400, problem["errors"])


@pytest.mark.parametrize(
    ("field", "rule"),
    [
        ("period.year", "must be a whole number from 1 to 9999"),
        ("summary.activity_count", "must be a whole number from 0 to 10,000,000"),
        ("summary.total_hours", "must be a number from 0 to 1,000,000 with at most 2 decimal places"),
    ],
)
@pytest.mark.parametrize("sign", ["", "-"])
async def test_a_5000_digit_integer_is_the_fields_ordinary_422(
    client: Client, field: str, rule: str, sign: str
) -> None:
    body = with_changes(field, 0)
    leaf = field.rpartition(".")[2]
    raw = json.dumps(body).replace(f'"{leaf}": 0', f'"{leaf}": {sign}{"9" * 5000}').encode()
    response = await client.post(BASE, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"field": field, "message": rule}]
    await assert_nothing_stored(client)


async def test_duplicate_keys_are_refused(client: Client) -> None:
    raw = b'{"mentor_id": "a", "mentor_id": "b", "period": {}, "summary": {}}'
    response = await client.post(BASE, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "mentor_id", "message": "is given twice"}]


async def test_body_over_the_limit_is_413_from_content_length(client: Client) -> None:
    # The POST route's own limit, which room for 10,000 identifiers and activities sets (other routes: 1 MiB).
    raw = b'{"mentor_id": "' + b"x" * (SUMMARY_MAX_BODY_BYTES + 10) + b'"}'
    response = await client.post(BASE, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    await assert_nothing_stored(client)


async def test_overlapping_period_is_409_and_stores_nothing(client: Client) -> None:
    assert (await client.post(BASE, json=summary_body())).status_code == 201
    before = (await client.get(BASE, params={"limit": 100})).json()
    overlapping = summary_body(start_date="2025-12-31", end_date="2026-06-30", year=2025, hours=1000)
    response = await client.post(BASE, json=overlapping)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/period-overlap"
    assert (await client.get(BASE, params={"limit": 100})).json() == before


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"page": 0},
        {"page": "x"},
        {"status": "done"},
        {"type": "minutes"},
        {"achieved_from": "2025-02-30"},
        {"achieved_from": "2025-03-01", "achieved_to": "2025-02-01"},
        {"mentor_id": "bad id"},
    ],
)
async def test_invalid_list_queries_are_422(client: Client, params: dict[str, Any]) -> None:
    response = await client.get(BASE, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]


@pytest.mark.parametrize(
    "body",
    [
        {"status": "finished"},
        {"achieved_value": -1},
        {"achieved_value": "315"},
        {"achieved_value": 1.001, "status": "achieved"},
        {"achieved_at": "yesterday"},
        {"achieved_at": "2026-01-03T09:00:00"},
        {"status": None},
        {"colour": "red"},
    ],
)
async def test_invalid_updates_are_422_and_change_nothing(client: Client, body: dict[str, Any]) -> None:
    item = (await client.post(BASE, json=summary_body())).json()["data"][0]
    response = await client.put(f"{BASE}/{item['id']}", json=body)
    assert response.status_code == 422, response.text
    assert (await client.get(f"{BASE}/{item['id']}")).json() == item


@pytest.mark.parametrize("path", ["/bad%20id/new", "/bad%20id/in-progress", "/" + "x" * 129 + "/new"])
async def test_invalid_mentor_id_in_the_path_is_4xx(client: Client, path: str) -> None:
    response = await client.get(BASE + path)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_route_and_method_are_problems(client: Client) -> None:
    missing = await client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.patch(f"{BASE}/some-id", json={})
    assert wrong.status_code == 405
    assert "PUT" in wrong.headers["allow"]
    assert wrong.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("stray", ["size=3", "state=grey", "year=0"])
async def test_a_422_names_only_the_operations_own_parameters(client: Client, stray: str) -> None:
    """Another operation's parameter, given here with a value it would refuse, is not reported as wrong."""
    response = await client.get(f"{BASE}?mentor_id=alice&limit=0&{stray}")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["limit"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/mentors/abc/history?limit=1%C2%B9",
        "/api/v1/mentors/]/history?limit=1%C2%B9&limit=&cursor=J%C3%B6",
        f"{BASE}?mentor_id=abc&limit=%C2%B9",
        f"{BASE}/abc/in-progress?page=%C2%B2",
        f"{BASE}/abc/new?page=%E2%91%A0",
    ],
)
async def test_digits_that_are_not_ascii_are_a_422_not_a_500(client: Client, path: str) -> None:
    """Found by fuzzing: "1¹" passes str.isdigit() but not int(), and the problem renderer raised."""
    response = await client.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/invalid-request"
