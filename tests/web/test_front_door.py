"""The one front door: the outer layer on every answer, exact fast routes, HEAD, 415, and no bare 500."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from milestones.access.keys import KeyRing
from milestones.settings import Settings
from milestones.web.access import AccessPolicy
from milestones.web.app import create_app, create_litestar_app
from milestones.web.front_door import SECURITY_HEADERS, FrontDoor
from milestones.web.observability import RequestObserver
from milestones.web.route_table import Framing, RouteTable
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
JSON = {"content-type": "application/json"}
# A header the outer layer sets on every answer.
OUTER_HEADER = SECURITY_HEADERS[0][0].decode()


@pytest.fixture(params=["fast path", "framework only"])
async def client(request: pytest.FixtureRequest, settings: Settings, clock: FakeClock) -> AsyncIterator[Any]:
    """The whole app, with and without the fast path, on a database holding one mentor's milestones."""
    app = create_app(settings, clock=clock, fast_path=request.param == "fast path")
    async with AsyncTestClient(app=app) as test_client:
        response = await test_client.post(BASE, json=summary_body("alice"))
        assert response.status_code == 201
        yield test_client


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    status: int
    body: dict[str, Any] | None = None


ALICE_100H = "alice~100h"
# Every operation of the OpenAPI document, answered with success and with an error.
WEBHOOKS = "/api/v1/webhooks"
OPERATIONS: dict[tuple[str, str], list[Call]] = {
    ("GET", BASE): [
        Call("GET", f"{BASE}?mentor_id=alice", 200),
        Call("GET", f"{BASE}?mentor_id=alice&limit=0", 422),
    ],
    ("POST", BASE): [
        Call("POST", BASE, 200, summary_body("alice")),
        Call("POST", BASE, 409, summary_body("alice", start_date="2025-06-01", end_date="2026-05-31")),
    ],
    ("GET", BASE + "/{milestone_id}"): [Call("GET", f"{BASE}/{ALICE_100H}", 200), Call("GET", f"{BASE}/x~y", 404)],
    ("PUT", BASE + "/{milestone_id}"): [
        Call("PUT", f"{BASE}/{ALICE_100H}", 200, {"status": "achieved"}),
        Call("PUT", f"{BASE}/{ALICE_100H}", 422, {"status": "done"}),
    ],
    ("DELETE", BASE + "/{milestone_id}"): [
        Call("DELETE", f"{BASE}/alice~500h", 200),
        Call("DELETE", f"{BASE}/alice~500h", 404),
    ],
    ("GET", BASE + "/{mentor_id}/new"): [
        Call("GET", f"{BASE}/alice/new?year=2025", 200),
        Call("GET", f"{BASE}/alice/new?year=0", 422),
    ],
    ("GET", BASE + "/{mentor_id}/in-progress"): [
        Call("GET", f"{BASE}/alice/in-progress", 200),
        Call("GET", f"{BASE}/alice/in-progress?limit=0", 422),
    ],
    ("GET", BASE + "/{milestone_id}/evidence"): [
        Call("GET", f"{BASE}/{ALICE_100H}/evidence", 200),
        Call("GET", f"{BASE}/x~y/evidence", 404),
    ],
    # No issuer is configured here: the credential and the status list answer that (503) as their success would.
    ("GET", BASE + "/{milestone_id}/credential"): [
        Call("GET", f"{BASE}/{ALICE_100H}/credential", 503),
        Call("GET", f"{BASE}/x~y/credential", 404),
    ],
    ("GET", "/.well-known/jwks.json"): [
        Call("GET", "/.well-known/jwks.json", 200),
        Call("POST", "/.well-known/jwks.json", 405),
    ],
    ("GET", "/credentials/status/revocation"): [
        Call("GET", "/credentials/status/revocation", 503),
        Call("POST", "/credentials/status/revocation", 405),
    ],
    ("GET", BASE + "/{milestone_id}/history"): [
        Call("GET", f"{BASE}/{ALICE_100H}/history", 200),
        Call("GET", f"{BASE}/x~y/history", 404),
    ],
    ("GET", "/api/v1/mentors/{mentor_id}/history"): [
        Call("GET", "/api/v1/mentors/alice/history", 200),
        Call("GET", "/api/v1/mentors/alice/history?cursor=bm9wZQ", 422),
    ],
    ("GET", "/api/v1/mentors/{mentor_id}/periods"): [
        Call("GET", "/api/v1/mentors/alice/periods", 200),
        Call("GET", "/api/v1/mentors/bad%20id/periods", 422),
    ],
    ("DELETE", "/api/v1/mentors/{mentor_id}/periods/{start_date}/{end_date}"): [
        Call("DELETE", "/api/v1/mentors/alice/periods/2025-01-01/2025-12-31", 200),
        Call("DELETE", "/api/v1/mentors/alice/periods/2025-01-01/2025-12-31", 404),
    ],
    ("GET", "/healthz"): [Call("GET", "/healthz", 200), Call("POST", "/healthz", 405)],
    ("GET", "/readyz"): [Call("GET", "/readyz", 200), Call("GET", "/readyz/extra", 404)],
    ("GET", "/assets/badges/{file_name}"): [
        Call("GET", "/assets/badges/100h.png", 200),
        Call("GET", "/assets/badges/100h.svg?size=512&state=locked", 200),
        Call("GET", "/assets/badges/nothing.png", 404),
        Call("GET", "/assets/badges/100h.png?size=100", 422),
    ],
    ("GET", "/api/v1/milestone-definitions"): [
        Call("GET", "/api/v1/milestone-definitions", 200),
        Call("DELETE", "/api/v1/milestone-definitions", 405),
    ],
    # Only an admin key may erase, and this service has no keys: refused however open writes are (the
    # erasure itself is tested with a key in test_erasure.py).
    ("DELETE", "/api/v1/mentors/{mentor_id}"): [Call("DELETE", "/api/v1/mentors/alice", 403)],
    ("PATCH", "/api/v1/mentors/{mentor_id}"): [
        Call("PATCH", "/api/v1/mentors/alice", 200, {"display_name": "Alice"}),
        Call("PATCH", "/api/v1/mentors/alice", 422, {"display_name": ""}),
    ],
    ("GET", "/api/v1/events"): [
        Call("GET", "/api/v1/events?limit=5", 200),
        Call("GET", "/api/v1/events?limit=0", 422),
    ],
    ("GET", "/api/v1/reports/milestones"): [
        Call("GET", "/api/v1/reports/milestones?stalled_days=30", 200),
        Call("GET", "/api/v1/reports/milestones?cursor=%00", 422),
    ],
    # Webhooks, like erasure, are for admin keys only: refused here (tests/web/test_webhooks.py uses a key).
    **{
        (method, WEBHOOKS + path): [
            Call(method, WEBHOOKS + path.replace("{webhook_id}", "w1").replace("{delivery_id}", "1"), 403)
        ]
        for method, path in [
            ("GET", ""),
            ("POST", ""),
            ("GET", "/{webhook_id}"),
            ("DELETE", "/{webhook_id}"),
            ("POST", "/{webhook_id}/enable"),
            ("POST", "/{webhook_id}/disable"),
            ("POST", "/{webhook_id}/rotate-secret"),
            ("POST", "/{webhook_id}/test"),
            ("GET", "/{webhook_id}/deliveries"),
            ("POST", "/{webhook_id}/deliveries/{delivery_id}/redeliver"),
        ]
    },
}


async def test_the_table_covers_every_documented_operation(client: Any) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize("operation", list(OPERATIONS), ids=lambda op: f"{op[0]} {op[1]}")
async def test_the_outer_layer_is_on_every_answer_success_and_error(
    client: Any, settings: Settings, operation: tuple[str, str]
) -> None:
    routes = RouteTable(create_litestar_app(settings))
    for call in OPERATIONS[operation]:
        content = None if call.body is None else json.dumps(call.body).encode()
        response = await client.request(call.method, call.path, content=content, headers=JSON)
        assert response.status_code == call.status, (call, response.text)
        assert response.headers[OUTER_HEADER] == "nosniff", call
        assert response.headers["referrer-policy"] == "no-referrer", call
        # A Content-Security-Policy where the route serves a page or an image; the API's JSON answers need none.
        if routes.match(call.method, call.path.partition("?")[0]).policy.framing is Framing.API:
            assert "content-security-policy" not in response.headers, call
        else:
            assert response.headers["content-security-policy"] == "default-src 'self'", call
        if call.status >= 400:
            assert response.headers["content-type"] == "application/problem+json"


# --- exact routes ------------------------------------------------------------------------------------------


async def test_a_path_that_only_starts_like_a_route_is_not_one(client: Any) -> None:
    for path in (f"{BASE}X{ALICE_100H}", f"{BASE}X", f"{BASE}Xalice/in-progress", f"{BASE}/alice/in-progressX"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


# --- errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", f"{BASE}/%00", 404),
        ("GET", f"{BASE}/alice%00~100h", 404),
        ("GET", f"{BASE}/alice~100h%00", 404),
        ("PUT", f"{BASE}/alice%00~100h", 404),
        ("DELETE", f"{BASE}/alice%00~100h", 404),
        ("GET", f"{BASE}/alice%00/in-progress", 422),
        ("GET", f"{BASE}/alice%00/new", 422),
        ("GET", f"{BASE}?mentor_id=alice%00", 422),
        ("GET", f"{BASE}?cursor=YWxpY2UAfjEwMGg", 422),  # "alice\0~100h"
        ("GET", "/api/v1/mentors/alice%00/periods", 422),
        ("DELETE", "/api/v1/mentors/alice%00/periods/2025-01-01/2025-12-31", 422),
    ],
)
async def test_a_nul_byte_is_refused_before_the_database(client: Any, method: str, path: str, status: int) -> None:
    body = json.dumps({"status": "achieved"}).encode() if method == "PUT" else None
    response = await client.request(method, path, content=body, headers=JSON)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_unexpected_failure_on_the_fast_path_is_the_frameworks_500_problem(
    settings: Settings, clock: FakeClock
) -> None:
    app = create_app(settings, clock=clock)
    async with AsyncTestClient(app=app) as test_client:

        async def broken(*args: object) -> None:
            raise RuntimeError("a bug")

        service = app.app.state.service  # type: ignore[attr-defined]
        service.get_if_any = broken
        service.in_progress = broken
        for path in (f"{BASE}/{ALICE_100H}", f"{BASE}/alice/in-progress"):
            response = await test_client.get(path)
            assert response.status_code == 500
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers[OUTER_HEADER] == "nosniff"
            assert response.json()["detail"] == "The server failed to handle this request; it has been logged."


async def test_a_failure_that_escapes_both_paths_is_a_500_problem_with_the_outer_headers() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=FrontDoor(broken))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as test_client:
        response = await test_client.get("/anything")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers[OUTER_HEADER] == "nosniff"
    assert response.json()["status"] == 500


async def test_a_failure_in_the_key_check_is_a_500_problem_from_the_front_door_not_the_server() -> None:
    """The storage layer maps every way the database fails to a 503; anything else the key check raises is a
    bug, answered as one, with the route named in the request log, never left to the server's own 500."""

    async def unreachable(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app is not reached when the key check fails")

    async def broken(_: object) -> KeyRing:
        raise RuntimeError("a bug in reading the keys")

    access = AccessPolicy([], read_requires_key=False)
    access.attach(broken)
    lines = io.BytesIO()
    observer = RequestObserver(lines)
    door = FrontDoor(unreachable, access=access, observer=observer)
    transport = httpx.ASGITransport(app=door)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as test_client:
        response = await test_client.post(BASE, json=summary_body("alice"))
    observer.flush()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers[OUTER_HEADER] == "nosniff"
    assert response.json()["detail"] == "The server failed to handle this request; it has been logged."
    line = json.loads(lines.getvalue())
    assert (line["method"], line["status"]) == ("POST", 500)


# --- HEAD ----------------------------------------------------------------------------------------------------

READS = [
    f"{BASE}?mentor_id=alice",
    f"{BASE}/{ALICE_100H}",
    f"{BASE}/alice/in-progress",
    f"{BASE}/alice/new?year=2025",
    "/api/v1/mentors/alice/periods",
    "/assets/badges/100h.png",
    "/assets/badges/100h.svg",
    "/assets/badges/100h.png?size=512&state=locked",
    "/assets/badges/100h.png?size=7",
    "/api/v1/milestone-definitions",
    "/healthz",
    "/readyz",
    "/schema/openapi.json",
    "/asyncapi.json",
    f"{BASE}/nobody~100h",
]


@pytest.mark.parametrize("path", READS)
async def test_head_answers_as_get_does_without_a_body(client: Any, path: str) -> None:
    got, head = await client.get(path), await client.head(path)
    assert head.status_code == got.status_code
    assert head.content == b""
    assert got.content
    assert {k: v for k, v in head.headers.items() if k not in ("date", "x-request-id")} == {
        k: v for k, v in got.headers.items() if k not in ("date", "x-request-id")
    }


# --- 415 -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", BASE, None),
        ("POST", BASE, "text/plain"),
        ("POST", BASE, "application/x-www-form-urlencoded"),
        ("POST", BASE, "application/jsonx"),
        ("PUT", f"{BASE}/{ALICE_100H}", None),
        ("PUT", f"{BASE}/{ALICE_100H}", "text/json"),
    ],
)
async def test_a_body_not_declared_as_json_is_415_and_changes_nothing(
    client: Any, method: str, path: str, content_type: str | None
) -> None:
    before = (await client.get(BASE, params={"mentor_id": "newcomer"})).content
    before_one = (await client.get(f"{BASE}/{ALICE_100H}")).content
    body = summary_body("newcomer") if method == "POST" else {"status": "in_progress"}
    headers = {} if content_type is None else {"content-type": content_type}
    response = await client.request(method, path, content=json.dumps(body).encode(), headers=headers)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(BASE, params={"mentor_id": "newcomer"})).content == before
    assert (await client.get(f"{BASE}/{ALICE_100H}")).content == before_one


@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON; charset=utf-8", "application/merge-patch+json"]
)
async def test_json_and_json_suffixed_types_are_accepted(client: Any, content_type: str) -> None:
    body = json.dumps(summary_body("json-types")).encode()
    response = await client.post(BASE, content=body, headers={"content-type": content_type})
    assert response.status_code == 201, response.text
