"""CORS at the front door: off by default, then exactly the configured origins, on both paths."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
ALLOWED = "https://app.example.org"
Client = AsyncTestClient[FrontDoor]


@pytest.fixture(params=[True, False], ids=["fast_path", "framework"])
async def cors_client(request: pytest.FixtureRequest, settings: Settings, clock: FakeClock) -> AsyncIterator[Client]:
    configured = settings.model_copy(update={"cors_origins": [ALLOWED, "http://localhost:3000"]})
    async with AsyncTestClient(app=create_app(configured, clock=clock, fast_path=request.param)) as client:
        yield client


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }


async def test_a_preflight_from_an_allowed_origin_names_the_methods_and_headers(cors_client: Client) -> None:
    response = await cors_client.options(BASE, headers=preflight(ALLOWED))
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED
    methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "HEAD", "POST", "PUT", "DELETE"}
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    # Milestones-Read-After: a browser client sends back the position its write was answered with (replicas).
    assert allowed == {
        "authorization",
        "if-match",
        "idempotency-key",
        "content-type",
        "accept-language",
        "milestones-read-after",
    }
    assert "Origin" in response.headers.get_list("vary")
    assert response.content == b""


async def test_a_preflight_from_another_origin_is_refused(cors_client: Client) -> None:
    response = await cors_client.options(BASE, headers=preflight("https://evil.example"))
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/origin-refused"
    assert "access-control-allow-origin" not in response.headers


async def test_answers_to_an_allowed_origin_expose_the_etag(cors_client: Client) -> None:
    created = await cors_client.post(BASE, json=summary_body(), headers={"Origin": ALLOWED})
    assert created.headers["access-control-allow-origin"] == ALLOWED
    one = await cors_client.get(f"{BASE}/mentor_001~100h", headers={"Origin": ALLOWED})
    assert one.status_code == 200
    assert one.headers["access-control-allow-origin"] == ALLOWED
    assert "ETag" in one.headers["access-control-expose-headers"]
    assert "Milestones-Read-After" in one.headers["access-control-expose-headers"]
    assert "Origin" in one.headers.get_list("vary")


async def test_answers_to_another_origin_carry_no_cors_headers(cors_client: Client) -> None:
    one = await cors_client.get(f"{BASE}/mentor_001/in-progress", headers={"Origin": "https://evil.example"})
    assert one.status_code == 200
    assert "access-control-allow-origin" not in one.headers


async def test_cors_is_off_unless_origins_are_configured(client: AsyncTestClient[FrontDoor]) -> None:
    response = await client.options(BASE, headers=preflight(ALLOWED))
    assert "access-control-allow-origin" not in response.headers
    got = await client.get(f"{BASE}/mentor_001/in-progress", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in got.headers


@pytest.mark.parametrize("origins", ["*", "app.example.org", "https://a.example/path"])
def test_an_origin_list_that_is_not_origins_is_refused(origins: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        Settings(cors_origins=origins)  # type: ignore[arg-type]
