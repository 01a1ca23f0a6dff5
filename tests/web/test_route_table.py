"""The route table: every route of the app has a declared policy, and every layer applies that policy."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from milestones.access.keys import parse_key_list
from milestones.errors import ScopeRequired
from milestones.settings import Settings
from milestones.web.access import AccessPolicy
from milestones.web.app import create_app, create_litestar_app
from milestones.web.fast_path import FastPath
from milestones.web.route_table import (
    UNMATCHED_READ,
    UNMATCHED_WRITE,
    Access,
    RoutePolicy,
    RouteTable,
    declare,
)
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
KEYS = "read-key:read,write-key:write,admin-key:admin"
# A value for each path parameter the app's templates name, so that every route can be called.
SAMPLES = {
    "milestone_id": "mentor_001~100h",
    "mentor_id": "mentor_001",
    "start_date": "2025-06-01",
    "end_date": "2026-05-31",
    "name": "key-required",
    "file_name": "100h.svg",
    "path": "nothing",
    "webhook_id": "wh_0123456789abcdef",
    "delivery_id": "1",
}
FILES = {"/docs/assets/{file_path}": "swagger-init.js", "/assets/pages/{file_path}": "pages.css"}


def concrete(template: str) -> str:
    if template in FILES:
        return template.replace("{file_path}", FILES[template])
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLES[m.group(1)], template)


def every_route(settings: Settings) -> list[tuple[str, str, RoutePolicy]]:
    table = RouteTable(create_litestar_app(settings))
    return sorted(
        (method, template, match.policy)
        for (method, template), match in table.routes.items()
        if method not in {"OPTIONS", "HEAD"}
    )


def test_a_route_without_a_declared_policy_stops_the_app_from_starting() -> None:
    @get("/undeclared")
    async def undeclared() -> None: ...

    with pytest.raises(RuntimeError, match=r"without a declared policy.*GET /undeclared"):
        RouteTable(Litestar([undeclared], openapi_config=None))


def test_a_route_declared_fast_that_the_fast_path_cannot_answer_stops_the_app(settings: Settings) -> None:
    @get("/elsewhere", opt=declare(RoutePolicy(Access.READ, "reads", fast=True)))
    async def elsewhere() -> None: ...

    app = Litestar([elsewhere], openapi_config=None)
    with pytest.raises(RuntimeError, match="fast path cannot answer"):
        FastPath(app, settings, RouteTable(app))


def test_the_table_matches_whole_segments_as_the_framework_does(settings: Settings) -> None:
    table = RouteTable(create_litestar_app(settings))

    def found(method: str, path: str) -> tuple[str | None, tuple[str, ...]]:
        match = table.match(method, path)
        return match.template, match.params

    assert found("GET", BASE) == (BASE, ())
    assert found("GET", BASE + "/") == (BASE, ())
    assert found("GET", BASE + BASE) == (BASE + BASE, ())
    assert found("GET", f"{BASE}/a~b") == (BASE + "/{milestone_id}", ("a~b",))
    assert found("GET", f"{BASE}/alice/in-progress") == (BASE + "/{mentor_id}/in-progress", ("alice",))
    assert found("GET", f"{BASE}/alice/new") == (BASE + "/{mentor_id}/new", ("alice",))
    assert found("DELETE", "/api/v1/mentors/a/periods/2025-01-01/2025-12-31") == (
        "/api/v1/mentors/{mentor_id}/periods/{start_date}/{end_date}",
        ("a", "2025-01-01", "2025-12-31"),
    )
    assert found("GET", "/docs/assets/swagger-ui/swagger-ui.css")[0] == "/docs/assets/{file_path}"
    assert found("GET", "/problems") == ("/problems", ())
    assert found("GET", "/problems/key-required") == ("/problems/{name}", ("key-required",))
    for method, path in [
        ("GET", f"{BASE}X"),
        ("GET", f"{BASE}Xa~b"),
        ("GET", f"{BASE}//in-progress"),
        ("GET", "/api/v1/milestone"),
        ("POST", f"{BASE}/a~b"),
        ("GET", "/healthzz"),
    ]:
        assert found(method, path) == (None, ()), (method, path)
    assert table.match("GET", "/nowhere").policy is UNMATCHED_READ
    assert table.match("PUT", "/nowhere").policy is UNMATCHED_WRITE


@pytest.fixture
async def guarded(settings: Settings, clock: FakeClock) -> AsyncIterator[Any]:
    """An app whose reads need a key."""
    settings = settings.model_copy(
        update={
            "api_keys": parse_key_list(KEYS),
            "read_requires_key": True,
            "page_link_secret": "a-page-link-secret-long-enough",
            # The walk meets a 401 on every guarded route, from one address: more than failed attempts may be.
            "failed_auth_limit": None,
            # Credentials' public routes answer 503 until their issuer is configured.
            "issuer_id": "https://platform.example.org/issuer",
            "issuer_name": "Example Mentoring",
            "issuer_url": "https://platform.example.org",
            "public_url": "https://milestones.example.org",
        }
    )
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        yield client


async def test_every_route_is_guarded_and_counted_as_its_policy_says(guarded: Any, settings: Settings) -> None:
    """The walk: each route of the app, called without a key, is refused exactly when its policy needs one."""
    walked = 0
    for method, template, policy in every_route(settings):
        path = concrete(template)
        body = summary_body("mentor_001") if method in {"POST", "PUT"} else None
        first = await guarded.request(method, path, json=body)
        needs_key = policy.access in {Access.READ, Access.WRITE, Access.ADMIN, Access.METRICS}
        if needs_key:
            assert first.status_code == 401, (method, template, first.text)
            assert first.headers["www-authenticate"].startswith("Bearer")
        elif policy.access is Access.SIGNED_LINK:
            assert first.status_code == 401, (method, template)  # the page's own check: a signed link
            assert first.json()["type"] == "/problems/key-required"
        else:
            assert first.status_code < 400 or first.status_code in {404, 422}, (method, template, first.text)
        walked += 1
    assert walked >= 25


async def test_rate_limits_count_exactly_the_routes_whose_policy_names_one(
    settings: Settings, clock: FakeClock
) -> None:
    limited = settings.model_copy(update={"rate_limit_reads": "1/hour", "rate_limit_writes": "1/hour"})
    routes = every_route(settings)
    for method, template, policy in routes:
        # A fresh app per route: each starts with its own counts. What only an administrator may do is
        # refused (and so never counted) until an admin key exists: those routes get one, and use it.
        admin = policy.access is Access.ADMIN
        app_settings = limited.model_copy(update={"api_keys": parse_key_list("admin-key:admin")}) if admin else limited
        headers = {"Authorization": "Bearer admin-key"} if admin else {}
        async with AsyncTestClient(app=create_app(app_settings, clock=clock)) as client:
            path = concrete(template)
            body = summary_body("mentor_001") if method in {"POST", "PUT"} else None
            await client.request(method, path, json=body, headers=headers)
            second = await client.request(method, path, json=body, headers=headers)
            counted = second.status_code == 429
            assert counted == (policy.rate_limit is not None), (method, template, second.status_code)


async def test_admin_routes_are_refused_until_an_admin_key_exists() -> None:
    """Writes are open while no key exists; what only an administrator may do never is."""
    no_keys = AccessPolicy([], read_requires_key=False)
    assert await no_keys.check(Access.WRITE, []) == (None, False)
    with pytest.raises(ScopeRequired, match="none exists yet"):
        await no_keys.check(Access.ADMIN, [])
    writer_only = AccessPolicy(parse_key_list("w-key:write"), read_requires_key=False)
    with pytest.raises(ScopeRequired, match="none exists yet"):
        await writer_only.check(Access.ADMIN, [(b"authorization", b"Bearer w-key")])
    admin = AccessPolicy(parse_key_list("w-key:write,a-key:admin"), read_requires_key=False)
    with pytest.raises(ScopeRequired, match="admin scope; this key has write"):
        await admin.check(Access.ADMIN, [(b"authorization", b"Bearer w-key")])
    actor, needed = await admin.check(Access.ADMIN, [(b"authorization", b"Bearer a-key")])
    assert actor is not None and actor.startswith("env:") and needed
