"""The fast read path answers exactly what the framework would, and hands everything else over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from milestones.settings import Settings
from milestones.web.app import create_app, create_litestar_app
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"


@pytest.fixture
async def both(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[Any, Any]]:
    """A client through the fast path and one to a framework-only app, both on the same database."""
    async with (
        AsyncTestClient(app=create_app(settings, clock=clock)) as fast,
        AsyncTestClient(app=create_litestar_app(settings, clock=clock)) as direct,
    ):
        await fast.post(BASE, json=summary_body("alice"))
        await fast.post(BASE, json=summary_body("bob", hours=20, contacts=5, activities=7))
        yield fast, direct


@pytest.mark.parametrize(
    "path",
    [
        "?mentor_id=alice",
        "?mentor_id=alice&page=2&limit=3",
        "?mentor_id=bob&type=hours_logged&status=in_progress",
        "/alice/in-progress",
        "/alice/in-progress?limit=1&page=2",
        "/nobody/in-progress",
        "/api/v1/milestones/alice/in-progress",
    ],
)
async def test_fast_and_framework_paths_answer_the_same(both: tuple[Any, Any], path: str) -> None:
    fast, direct = both
    ours, theirs = await fast.get(BASE + path), await direct.get(BASE + path)
    assert ours.status_code == theirs.status_code == 200
    assert ours.content == theirs.content
    assert ours.headers["content-type"] == theirs.headers["content-type"]


async def test_get_one_matches_including_the_etag(both: tuple[Any, Any]) -> None:
    fast, direct = both
    item = (await fast.get(BASE, params={"mentor_id": "alice"})).json()["data"][0]
    ours, theirs = await fast.get(f"{BASE}/{item['id']}"), await direct.get(f"{BASE}/{item['id']}")
    assert ours.content == theirs.content
    assert ours.headers["etag"] == theirs.headers["etag"]
    assert ours.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ms_unknown", 404),
        ("?mentor_id=alice&limit=0", 422),
        ("?mentor_id=alice&page=1&page=2", 200),
        ("?mentor_id=bad%20id", 422),
        ("?mentor_id=alice&status=done", 422),
        ("/alice/in-progress?limit=101", 422),
        ("/alice/in-progress?extra=1", 200),
    ],
)
async def test_unusual_requests_fall_through_to_the_framework(both: tuple[Any, Any], path: str, status: int) -> None:
    fast, direct = both
    ours, theirs = await fast.get(BASE + path), await direct.get(BASE + path)
    assert ours.status_code == theirs.status_code == status
    assert ours.content == theirs.content
