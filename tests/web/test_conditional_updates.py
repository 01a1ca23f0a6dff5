"""Optimistic concurrency: strong ETags on GET and PUT, If-Match on PUT and DELETE."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
Client = AsyncTestClient[Any]


async def first_in_progress(client: Client) -> dict[str, Any]:
    body = (await client.post(BASE, json=summary_body())).json()
    return next(i for i in body["data"] if i["status"] == "in_progress")


async def test_get_and_put_return_a_strong_etag_that_tracks_changes(client: Client) -> None:
    item = await first_in_progress(client)
    got = await client.get(f"{BASE}/{item['id']}")
    tag = got.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    assert (await client.get(f"{BASE}/{item['id']}")).headers["etag"] == tag

    put = await client.put(f"{BASE}/{item['id']}", json={"status": "achieved"})
    assert put.status_code == 200
    assert put.headers["etag"] != tag
    assert (await client.get(f"{BASE}/{item['id']}")).headers["etag"] == put.headers["etag"]


async def test_put_with_the_current_etag_succeeds(client: Client) -> None:
    item = await first_in_progress(client)
    tag = (await client.get(f"{BASE}/{item['id']}")).headers["etag"]
    response = await client.put(f"{BASE}/{item['id']}", json={"status": "achieved"}, headers={"If-Match": tag})
    assert response.status_code == 200
    assert response.json()["status"] == "achieved"


async def test_put_with_a_stale_etag_is_412_and_changes_nothing(client: Client) -> None:
    item = await first_in_progress(client)
    stale = (await client.get(f"{BASE}/{item['id']}")).headers["etag"]
    await client.put(f"{BASE}/{item['id']}", json={"status": "achieved", "achieved_value": 50})
    current = (await client.get(f"{BASE}/{item['id']}")).json()

    response = await client.put(f"{BASE}/{item['id']}", json={"status": "in_progress"}, headers={"If-Match": stale})
    assert response.status_code == 412
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/precondition-failed"
    assert (await client.get(f"{BASE}/{item['id']}")).json() == current


@pytest.mark.parametrize("header", ["*", '"nope", {tag}', "{tag}"])
async def test_if_match_lists_and_star_match(client: Client, header: str) -> None:
    item = await first_in_progress(client)
    tag = (await client.get(f"{BASE}/{item['id']}")).headers["etag"]
    response = await client.put(
        f"{BASE}/{item['id']}", json={"status": "achieved"}, headers={"If-Match": header.format(tag=tag)}
    )
    assert response.status_code == 200


async def test_a_weak_etag_never_matches(client: Client) -> None:
    item = await first_in_progress(client)
    tag = (await client.get(f"{BASE}/{item['id']}")).headers["etag"]
    response = await client.put(f"{BASE}/{item['id']}", json={"status": "achieved"}, headers={"If-Match": f"W/{tag}"})
    assert response.status_code == 412


async def test_delete_honours_if_match(client: Client) -> None:
    item = await first_in_progress(client)
    response = await client.delete(f"{BASE}/{item['id']}", headers={"If-Match": '"stale"'})
    assert response.status_code == 412
    assert (await client.get(f"{BASE}/{item['id']}")).status_code == 200
    tag = (await client.get(f"{BASE}/{item['id']}")).headers["etag"]
    assert (await client.delete(f"{BASE}/{item['id']}", headers={"If-Match": tag})).status_code == 200


async def test_a_new_summary_that_changes_the_record_changes_its_etag(client: Client) -> None:
    item = await first_in_progress(client)
    tag = (await client.get(f"{BASE}/{item['id']}")).headers["etag"]
    await client.post(BASE, json=summary_body(hours=400, contacts=49, activities=240))
    assert (await client.get(f"{BASE}/{item['id']}")).headers["etag"] != tag


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize("header", ["*", '"a0b1c2"'])
@pytest.mark.parametrize("milestone_id", ["nobody~100h", "not-a-milestone-id"])
async def test_if_match_on_a_milestone_that_does_not_exist_is_412(
    client: Client, method: str, header: str, milestone_id: str
) -> None:
    """RFC 9110, 13.1.1: no current representation matches If-Match, not even `*`; without it, 404."""
    body = {"status": "achieved"} if method == "PUT" else None
    conditional = await client.request(method, f"{BASE}/{milestone_id}", json=body, headers={"If-Match": header})
    assert conditional.status_code == 412, conditional.text
    assert conditional.json()["type"] == "/problems/precondition-failed"
    assert conditional.json()["detail"] == (
        f"No milestone has the id {milestone_id!r}, and If-Match asks for one that exists."
    )
    plain = await client.request(method, f"{BASE}/{milestone_id}", json=body)
    assert plain.status_code == 404
    assert (await client.get(f"{BASE}/{milestone_id}")).status_code == 404


async def test_if_match_star_applies_to_a_milestone_that_exists(client: Client) -> None:
    item = await first_in_progress(client)
    assert (await client.delete(f"{BASE}/{item['id']}", headers={"If-Match": "*"})).status_code == 200
    # Now it does not: the same request is 412.
    assert (await client.delete(f"{BASE}/{item['id']}", headers={"If-Match": "*"})).status_code == 412
