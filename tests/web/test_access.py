"""Access keys at the front door: who may write, who may read, and what a refused request leaves behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import anyio
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from milestones.access.keys import AccessKey, Scope, digest_of, parse_key_list
from milestones.domain.changes import Change
from milestones.settings import Settings
from milestones.storage import open_repository
from milestones.storage.base import Applied
from milestones.web.access import REFRESH_SECONDS
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"
ENV_KEYS = "admin-key, write-key:write, read-key:read"
REVOKED_SECRET = "revoked-secret"
STORED_WRITE_SECRET = "stored-write-secret"
Client = AsyncTestClient[FrontDoor]


def framework_of(app: FrontDoor) -> Litestar:
    return cast(Litestar, app.app)


def recorded_actors(app: FrontDoor) -> list[str]:
    """The actor of every change the app's repository applies from now on (the real write path, observed)."""
    repository = framework_of(app).state.service.repository
    actors: list[str] = []
    change = repository.change

    async def recording(*args: Any, **kwargs: Any) -> Applied:
        applied: Applied = await change(*args, **kwargs)
        assert isinstance(applied.change, Change)
        actors.append(str(applied.change.actor))
        return applied

    repository.change = recording
    return actors


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def env_id(secret: str) -> str:
    return "env:" + digest_of(secret)[:8]


async def store_keys(settings: Settings) -> None:
    """A live write key and a revoked admin key, stored as `milestones keys create` would."""
    repository = await open_repository(settings)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    try:
        await repository.add_access_key(
            AccessKey("db:0000live", "importer", Scope.WRITE, digest_of(STORED_WRITE_SECRET), created_at=now)
        )
        await repository.add_access_key(
            AccessKey("db:000revok", "old", Scope.ADMIN, digest_of(REVOKED_SECRET), created_at=now)
        )
        await repository.revoke_access_key("db:000revok", now)
    finally:
        await repository.close()


def keyed_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"api_keys": parse_key_list(ENV_KEYS), **changes})


@pytest.fixture(params=[True, False], ids=["fast_path", "framework"])
async def keyed(
    request: pytest.FixtureRequest, settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[Client, FrontDoor]]:
    """A client of the app with keys configured (from the environment and stored), through each path."""
    await store_keys(settings)
    app = create_app(keyed_settings(settings), clock=clock, fast_path=request.param)
    async with AsyncTestClient(app=app) as client:
        yield client, app


async def everything(client: Client, headers: dict[str, str] | None = None) -> Any:
    """Every stored milestone and period, read through the API."""
    listing = (await client.get(BASE, params={"limit": 100}, headers=headers)).json()
    mentors = sorted({item["mentor_id"] for item in listing["data"]})
    periods = {m: (await client.get(f"/api/v1/mentors/{m}/periods", headers=headers)).json() for m in mentors}
    return listing, periods


WRITES = [
    ("POST", BASE, summary_body("mentor_001", hours=999, contacts=999, activities=999)),
    ("PUT", f"{BASE}/mentor_001~100h", {"status": "in_progress"}),
    ("DELETE", f"{BASE}/mentor_001~100h", None),
    ("DELETE", "/api/v1/mentors/mentor_001/periods/2025-01-01/2025-12-31", None),
]
REFUSED = [
    ("no key", {}, 401),
    ("unknown key", bearer("nobody-has-this"), 401),
    ("revoked key", bearer(REVOKED_SECRET), 401),
    ("not a bearer", {"Authorization": "Basic YWRtaW4ta2V5Og=="}, 401),
    ("read key", bearer("read-key"), 403),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
@pytest.mark.parametrize(("why", "headers", "status"), REFUSED, ids=[why for why, _, _ in REFUSED])
async def test_a_write_without_a_valid_key_changes_nothing(
    keyed: tuple[Client, FrontDoor],
    method: str,
    path: str,
    body: Any,
    why: str,
    headers: dict[str, str],
    status: int,
) -> None:
    client, _ = keyed
    created = await client.post(BASE, json=summary_body("mentor_001"), headers=bearer("write-key"))
    assert created.status_code == 201, created.text
    before = await everything(client)

    response = await client.request(method, path, json=body, headers=headers)

    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["status"] == status
    assert problem["type"] == ("/problems/key-required" if status == 401 else "/problems/scope-required")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["cache-control"] == "no-store"
    assert await everything(client) == before


async def test_401_says_whether_a_key_was_sent(keyed: tuple[Client, FrontDoor]) -> None:
    client, _ = keyed
    missing = await client.post(BASE, json=summary_body())
    assert missing.headers["www-authenticate"] == 'Bearer realm="milestones"'
    wrong = await client.post(BASE, json=summary_body(), headers=bearer("wrong"))
    assert wrong.headers["www-authenticate"] == 'Bearer realm="milestones", error="invalid_token"'
    lacking = await client.post(BASE, json=summary_body(), headers=bearer("read-key"))
    assert 'error="insufficient_scope"' in lacking.headers["www-authenticate"]


@pytest.mark.parametrize("secret", ["admin-key", "write-key", STORED_WRITE_SECRET])
async def test_write_and_admin_keys_may_write(keyed: tuple[Client, FrontDoor], secret: str) -> None:
    client, _ = keyed
    created = await client.post(BASE, json=summary_body(), headers=bearer(secret))
    assert created.status_code == 201, created.text
    milestone_id = created.json()["data"][0]["id"]
    updated = await client.put(f"{BASE}/{milestone_id}", json={}, headers=bearer(secret))
    assert updated.status_code == 200, updated.text
    assert (await client.delete(f"{BASE}/{milestone_id}", headers=bearer(secret))).status_code == 200


async def test_the_bearer_scheme_is_case_insensitive(keyed: tuple[Client, FrontDoor]) -> None:
    client, _ = keyed
    response = await client.post(BASE, json=summary_body(), headers={"Authorization": "bearer write-key"})
    assert response.status_code == 201, response.text


async def test_reads_stay_public_by_default(keyed: tuple[Client, FrontDoor]) -> None:
    client, _ = keyed
    await client.post(BASE, json=summary_body(), headers=bearer("write-key"))
    one = await client.get(f"{BASE}/mentor_001~100h")
    assert one.status_code == 200
    assert "cache-control" not in one.headers  # nothing here needed a key


async def test_the_actor_of_a_change_is_the_key_id(keyed: tuple[Client, FrontDoor]) -> None:
    """Foundation 1's change value records who made it: the key's id."""
    client, app = keyed
    actors = recorded_actors(app)
    await client.post(BASE, json=summary_body(), headers=bearer("write-key"))
    await client.put(f"{BASE}/mentor_001~100h", json={"status": "achieved"}, headers=bearer("admin-key"))
    await client.delete(f"{BASE}/mentor_001~100h", headers=bearer(STORED_WRITE_SECRET))
    assert actors == [env_id("write-key"), env_id("admin-key"), "db:0000live"]


async def test_without_keys_the_actor_is_anonymous(client: AsyncTestClient[FrontDoor], app: FrontDoor) -> None:
    actors = recorded_actors(app)
    assert (await client.post(BASE, json=summary_body())).status_code == 201
    assert actors == ["anonymous"]


async def test_idempotency_keys_belong_to_the_access_key_that_sent_them(keyed: tuple[Client, FrontDoor]) -> None:
    client, _ = keyed
    first = await client.post(BASE, json=summary_body(), headers={**bearer("write-key"), "Idempotency-Key": "k1"})
    assert first.status_code == 201
    replay = await client.post(BASE, json=summary_body(), headers={**bearer("write-key"), "Idempotency-Key": "k1"})
    assert replay.headers.get("idempotent-replayed") == "true"
    # Another client with the same Idempotency-Key is its own request: not a replay of the first one's answer,
    # and not refused as "the same key with another body" either.
    other = await client.post(
        BASE, json=summary_body(hours=1), headers={**bearer("admin-key"), "Idempotency-Key": "k1"}
    )
    assert other.status_code == 201, other.text
    assert "idempotent-replayed" not in other.headers


# --- reads that need a key -------------------------------------------------------------------------

PUBLIC_READS = [
    "/problems",
    "/problems/key-required",
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/schema/openapi.json",
    "/assets/badges/100h.png",
]


@pytest.fixture(params=[True, False], ids=["fast_path", "framework"])
async def private(request: pytest.FixtureRequest, settings: Settings, clock: FakeClock) -> AsyncIterator[Client]:
    """A client of an app whose reads need a key (MILESTONES_READ_REQUIRES_KEY=true)."""
    app = create_app(keyed_settings(settings, read_requires_key=True), clock=clock, fast_path=request.param)
    async with AsyncTestClient(app=app) as client:
        assert (await client.post(BASE, json=summary_body(), headers=bearer("write-key"))).status_code == 201
        yield client


MENTOR_READS = [
    f"{BASE}/mentor_001~100h",
    f"{BASE}?mentor_id=mentor_001",
    f"{BASE}/mentor_001/in-progress",
    f"{BASE}/mentor_001/new?year=2025",
    "/api/v1/mentors/mentor_001/periods",
]


@pytest.mark.parametrize("path", MENTOR_READS)
async def test_reads_can_require_a_read_key(private: Client, path: str) -> None:
    refused = await private.get(path)
    assert refused.status_code == 401, refused.text
    assert refused.json()["type"] == "/problems/key-required"
    head = await private.head(path)
    assert head.status_code == 401 and head.content == b""
    for secret in ("read-key", "write-key", "admin-key"):  # scopes nest
        allowed = await private.get(path, headers=bearer(secret))
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", PUBLIC_READS)
async def test_badges_docs_and_health_stay_public_when_reads_need_a_key(private: Client, path: str) -> None:
    response = await private.get(path)
    assert response.status_code == 200, response.text
    assert response.headers.get("cache-control") != "no-store"


@pytest.mark.parametrize(
    ("read_requires_key", "metrics_require_key", "keyed"),
    [
        (False, None, False),  # by default the metrics follow reads: public while reads are
        (True, None, True),  # ... and keyed once reads are
        (False, True, True),
        (True, False, False),
    ],
)
async def test_metrics_need_a_read_key_as_configured(
    settings: Settings, clock: FakeClock, read_requires_key: bool, metrics_require_key: bool | None, keyed: bool
) -> None:
    configured = keyed_settings(settings, read_requires_key=read_requires_key, metrics_require_key=metrics_require_key)
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        anonymous = await client.get("/metrics")
        with_key = await client.get("/metrics", headers=bearer("read-key"))
    assert anonymous.status_code == (401 if keyed else 200), anonymous.text
    assert with_key.status_code == 200
    assert "milestones_http_requests_total" in with_key.text
    # What needed a key is never kept by a shared cache.
    assert (with_key.headers.get("cache-control") == "no-store") is keyed


def test_the_metrics_key_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MILESTONES_METRICS_REQUIRE_KEY", raising=False)
    assert Settings().metrics_require_key is None
    monkeypatch.setenv("MILESTONES_METRICS_REQUIRE_KEY", "true")
    assert Settings().metrics_require_key is True


async def test_a_preflight_needs_no_key(private: Client) -> None:
    response = await private.options(f"{BASE}/mentor_001~100h")
    assert response.status_code in (200, 204), response.text


@pytest.mark.parametrize("path", [f"{BASE}/mentor_001~100h", f"{BASE}/mentor_001/new?year=2025"])
async def test_every_edge_header_on_answers_that_needed_a_key(private: Client, path: str) -> None:
    """GET one is answered by the fast path (in the fast_path run), /new always by the framework."""
    for headers, status in [({}, 401), (bearer("read-key"), 200)]:
        response = await private.get(path, headers=headers)
        assert response.status_code == status
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "content-security-policy" not in response.headers  # JSON: no page to protect
        assert response.headers["cache-control"] == "no-store"


async def test_the_docs_pages_are_public_with_their_named_csp_exception(private: Client) -> None:
    for path in ("/docs", "/redoc", "/problems/key-required", "/docs/assets/swagger-init.js"):
        page = await private.get(path)
        assert page.status_code == 200, path
        assert page.headers.get("cache-control") != "no-store"
    policy = (await private.get("/docs")).headers["content-security-policy"]
    assert policy.startswith("default-src 'self'")
    assert "'unsafe-inline'" in policy  # Swagger UI's inline styles, named in CSP_EXCEPTIONS


# --- the document ----------------------------------------------------------------------------------


@pytest.mark.parametrize("read_requires_key", [False, True])
async def test_the_document_declares_the_bearer_scheme_and_each_operation_scope(
    settings: Settings, read_requires_key: bool
) -> None:
    app = create_app(keyed_settings(settings, read_requires_key=read_requires_key))
    async with AsyncTestClient(app=app) as client:
        document = (await client.get("/openapi.json")).json()
        assert (await client.get("/schema/openapi.json")).json() == document
    assert document["components"]["securitySchemes"]["accessKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["accessKey"]["description"],
    }
    paths = document["paths"]
    for path, method in [(BASE, "post"), (BASE + "/{milestone_id}", "put"), (BASE + "/{milestone_id}", "delete")]:
        assert paths[path][method]["security"] == [{"accessKey": ["write"]}]
        assert {"401", "403"} <= paths[path][method]["responses"].keys()
    read = paths[BASE + "/{milestone_id}"]["get"]
    if read_requires_key:
        assert read["security"] == [{"accessKey": ["read"]}]
        assert "401" in read["responses"]
    else:
        assert "security" not in read
        assert "401" not in read["responses"]
    assert "security" not in paths["/healthz"]["get"]


async def test_the_document_says_writes_are_open_until_a_key_exists(settings: Settings, clock: FakeClock) -> None:
    """The service lets anyone write while no key exists: the document says so, and says otherwise as soon as a
    key is stored (by `milestones keys create`, in another process), as the front door then applies."""
    app = create_app(settings, clock=clock)
    async with AsyncTestClient(app=app) as client:
        document = (await client.get("/openapi.json")).json()
        record = document["paths"][BASE]["post"]
        assert "security" not in record and "401" not in record["responses"]
        assert (await client.post(BASE, json=summary_body())).status_code == 201  # as the document says
        await store_keys(settings)  # as `milestones keys create` does, from another process
        await anyio.sleep(REFRESH_SECONDS)
        for path in ("/openapi.json", "/schema/openapi.json"):
            record = (await client.get(path)).json()["paths"][BASE]["post"]
            assert record["security"] == [{"accessKey": ["write"]}], path
            assert {"401", "403"} <= record["responses"].keys()
        assert (await client.post(BASE, json=summary_body(hours=3))).status_code == 401
        assert "security: []" not in (await client.get("/schema/openapi.yaml")).text
