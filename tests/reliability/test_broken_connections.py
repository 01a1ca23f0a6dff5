"""A PostgreSQL connection broken mid-conversation, in every layer that reads or writes: a 503 problem, never a 500.

A server shutting down sends each session a FATAL 57P01 and then closes it. A pooled connection that receives
the goodbye while idle is left in a state where its next statement fails with asyncpg's InternalClientError
("cannot switch to state 12; another operation (2) is in progress") until the socket closes. The proxy here
holds that instant open (`FaultyProxy.say_goodbye`), so each layer meets the broken connection on purpose:
the key check, the fast path and the framework, for reads and writes alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from milestones.errors import DatabaseUnavailable
from milestones.ops.logs import OncePerOutage
from milestones.storage.postgres import POOL_RETRYING, PostgresRepository
from tests.reliability.servers import (
    MILESTONES_PATH,
    POSTGRES_SKIP_REASON,
    POSTGRES_URL,
    PROBLEM_JSON,
    FaultyProxy,
    Service,
    postgres_target,
    summary_for,
    via_proxy,
)

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP_REASON)]

MENTOR = "goodbye-mentor"
# The access keys are read again from the database this long after the last reading (web/access.py), on the
# next request that needs one: waiting it out makes the key check the first to use the broken connection.
KEYS_REFRESH = 0.6
# Months for the writes that only refresh the keys, apart from those the requests below write.
MONTHS = itertools.count(100)


@pytest.fixture(scope="module")
def service(database: str, proxy: FaultyProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One worker with a pool of one connection, so the broken connection is the one the next request gets. The
    webhook delivery loop looks for work once at start and then only every minute (the longest it allows), so
    that its reads, on the same one connection, do not meet the broken connection before the request does."""
    served = Service(
        via_proxy(database, proxy),
        tmp_path_factory.mktemp("goodbye"),
        migrate_on_start=False,
        MILESTONES_POSTGRES_POOL_SIZE="1",
        MILESTONES_LOG_FORMAT="json",
        MILESTONES_WEBHOOK_POLL_SECONDS="60",
    )
    with served:
        with httpx.Client(base_url=served.base_url, timeout=30) as http:
            assert http.post(
                MILESTONES_PATH, json=summary_for(MENTOR, 0, hours=12, contacts=2, activities=3)
            ).is_success
        yield served


@pytest.fixture
def http(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        yield client


def a_milestone(http: httpx.Client) -> str:
    return str(http.get(MILESTONES_PATH, params={"mentor_id": MENTOR}).json()["data"][0]["id"])


# (name, method, path, keyword arguments, the route the request log must name). Each runs its first statement
# on the broken connection: the fast path's reads fall back to the framework, which then reads on a new one.
REQUESTS: list[tuple[str, str, str, dict[str, Any], str]] = [
    (
        "fast path write",
        "POST",
        MILESTONES_PATH,
        {"json": summary_for(MENTOR, 1, hours=1, contacts=1, activities=1)},
        MILESTONES_PATH,
    ),
    (
        "fast path read",
        "GET",
        f"{MILESTONES_PATH}/{MENTOR}/in-progress",
        {},
        f"{MILESTONES_PATH}/{{mentor_id}}/in-progress",
    ),
    ("fast path list", "GET", MILESTONES_PATH, {"params": {"mentor_id": MENTOR}}, MILESTONES_PATH),
    ("framework read", "GET", f"/api/v1/mentors/{MENTOR}/periods", {}, "/api/v1/mentors/{mentor_id}/periods"),
    (
        "framework write (Idempotency-Key)",
        "POST",
        MILESTONES_PATH,
        {
            "json": summary_for(MENTOR, 2, hours=1, contacts=1, activities=1),
            "headers": {"Idempotency-Key": "goodbye-1"},
        },
        MILESTONES_PATH,
    ),
    ("readiness", "GET", "/readyz", {}, "/readyz"),
]


def request_line(service: Service, request_id: str) -> dict[str, Any]:
    """The request log's line for a request id (lines are written in batches, within 50 ms)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in service.log_text().splitlines():
            if request_id in line and '"event":"request"' in line:
                return dict(json.loads(line))
        time.sleep(0.05)
    raise AssertionError(f"no request line for {request_id}:\n{service.log_text()}")


def assert_unavailable_or_served(response: httpx.Response) -> None:
    if response.status_code == 503:
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.headers["retry-after"].isdigit()
    else:
        assert response.status_code < 500, response.text


@pytest.mark.parametrize(("name", "method", "path", "kwargs", "route"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_a_connection_told_goodbye_is_503_or_served_never_500(
    service: Service,
    proxy: FaultyProxy,
    http: httpx.Client,
    name: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    route: str,
) -> None:
    assert http.get("/readyz").status_code == 200  # the pool's one connection is open and idle
    if method == "POST":
        # A write just before reads the stored keys and the latest catalog version (both due after half a
        # second), so that the write below finds them fresh and meets the broken connection in its own layer;
        # a slower machine moves it to the key check, whose answer must be the same.
        time.sleep(KEYS_REFRESH)
        assert http.post(
            MILESTONES_PATH, json=summary_for(MENTOR, next(MONTHS), hours=1, contacts=0, activities=1)
        ).is_success
    assert proxy.say_goodbye() >= 1
    time.sleep(0.1)  # the goodbye reaches the service's connection
    request_id = f"goodbye-{name.replace(' ', '-')}-{time.monotonic_ns()}"
    kwargs = dict(kwargs)
    headers = {"X-Request-ID": request_id, **kwargs.pop("headers", {})}
    response = http.request(method, path, headers=headers, **kwargs)
    assert_unavailable_or_served(response)
    if method == "POST" or path == "/readyz":  # a write is never tried twice, and readiness says what it saw
        assert response.status_code == 503
    line = request_line(service, request_id)
    assert (line["route"], line["status"]) == (route, response.status_code)
    # The broken connection was dropped: the next request is served as usual.
    assert http.request(method, path, **{**kwargs, "headers": {"Idempotency-Key": f"{request_id}-again"}}).is_success


def test_the_key_check_meeting_a_broken_connection_is_503(
    service: Service, proxy: FaultyProxy, http: httpx.Client
) -> None:
    milestone = a_milestone(http)
    time.sleep(KEYS_REFRESH)  # the next write reads the stored keys first
    assert proxy.say_goodbye() >= 1
    time.sleep(0.2)
    request_id = f"goodbye-key-check-{time.monotonic_ns()}"
    response = http.put(
        f"{MILESTONES_PATH}/{milestone}", json={"status": "achieved"}, headers={"X-Request-ID": request_id}
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["retry-after"].isdigit()
    assert response.json()["type"] == "/problems/database-unavailable"
    line = request_line(service, request_id)
    assert (line["route"], line["status"]) == (f"{MILESTONES_PATH}/{{milestone_id}}", 503)
    assert http.put(f"{MILESTONES_PATH}/{milestone}", json={"status": "achieved"}).is_success


def test_the_log_stays_json_and_names_no_unhandled_error(
    service: Service, proxy: FaultyProxy, http: httpx.Client
) -> None:
    """After every test above (module order): each line is one JSON object, and nothing escaped as a 500."""
    for _ in range(3):
        proxy.say_goodbye()
        time.sleep(0.2)
        http.get(f"/api/v1/mentors/{MENTOR}/periods")
    lines = [line for line in service.log_text().splitlines() if not line.startswith("--- start")]
    assert lines
    for line in lines:
        assert isinstance(json.loads(line), dict), line
    text = service.log_text()
    assert "unhandled error" not in text
    assert "Exception in ASGI application" not in text
    assert '"status":500' not in text


def test_a_pool_that_cannot_reconnect_logs_once_per_outage(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """asyncpg's pool warns on each failed attempt to reconnect (after 1, 2, 4 ... seconds); one line is kept
    per outage, and the next outage, once the pool had reconnected, is said again."""
    pool_log = logging.getLogger("asyncpg.pool")
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    keep = Keep()
    pool_log.addHandler(keep)

    async def outage(proxy: FaultyProxy, repository: PostgresRepository) -> None:
        await asyncio.to_thread(proxy.outage)
        before = len(kept)
        with pytest.raises(DatabaseUnavailable):
            await repository.schema_revision()
        # The pool's first attempt comes about a second after the connection was lost, later on a busy machine;
        # then at least one more attempt (about 2 seconds on), which must not be said.
        deadline = time.monotonic() + 15
        while len(kept) == before and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.5)

    async def scenario(proxy: FaultyProxy) -> list[int]:
        repository = await PostgresRepository.open(via_proxy(database, proxy), 2, connect_timeout=1, timeout=2)
        retrying = next(f for f in pool_log.filters if isinstance(f, OncePerOutage))
        said = []
        try:
            for _ in range(2):
                assert await repository.schema_revision() is not None
                await outage(proxy, repository)
                said.append(len(kept))
                assert retrying.dropped >= 1  # the pool did try again, and was not heard
                await asyncio.to_thread(proxy.resume)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    with contextlib.suppress(DatabaseUnavailable):
                        await repository.schema_revision()
                        break
                    await asyncio.sleep(0.2)
        finally:
            await asyncio.to_thread(proxy.resume)
            await repository.close()
        return said

    try:
        with FaultyProxy(*postgres_target(database)) as proxy:
            said = asyncio.run(scenario(proxy))
    finally:
        pool_log.removeHandler(keep)
    assert said == [1, 2]
    assert all(r.getMessage().startswith(POOL_RETRYING) and r.exc_info for r in kept)
    assert not [f for f in pool_log.filters if isinstance(f, OncePerOutage)]  # closing took its filter away
