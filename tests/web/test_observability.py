"""What the front door records of each request, on both paths: its id, its log line, its metrics; and the
database going and coming back, logged once each."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from milestones.access.keys import parse_key_list
from milestones.ops.metrics import RequestMetrics
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from milestones.web.observability import DatabaseWatch, RequestObserver, valid_request_id
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
BASE = "/api/v1/milestones"


@pytest.fixture(params=[True, False], ids=["fast_path", "framework"])
async def observed(
    request: pytest.FixtureRequest, settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[Any, io.BytesIO, FrontDoor]]:
    stream = io.BytesIO()
    app = create_app(settings, clock=clock, fast_path=request.param, request_log=stream)
    async with AsyncTestClient(app=app) as client:
        yield client, stream, app


def lines(app: FrontDoor, stream: io.BytesIO) -> list[dict[str, Any]]:
    app.observer.log.flush()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_each_request_gets_an_id_echoed_and_logged_with_it(observed: Any) -> None:
    client, stream, app = observed
    given = await client.get(f"{BASE}/nobody/in-progress", headers={"X-Request-ID": "client-chose-this"})
    made = await client.get(f"{BASE}/nobody/in-progress")
    refused = await client.get(f"{BASE}/nobody/in-progress", headers={"X-Request-ID": "has space"})
    assert given.headers["x-request-id"] == "client-chose-this"
    assert made.headers["x-request-id"] != refused.headers["x-request-id"]
    assert refused.headers["x-request-id"] != "has space"
    logged = lines(app, stream)
    assert [line["request_id"] for line in logged] == [
        "client-chose-this",
        made.headers["x-request-id"],
        refused.headers["x-request-id"],
    ]
    assert {line["route"] for line in logged} == {f"{BASE}/{{mentor_id}}/in-progress"}
    assert all(line["status"] == 200 and line["method"] == "GET" and line["duration_ms"] > 0 for line in logged)


async def test_a_request_line_holds_no_key_id_value_query_or_body(settings: Settings, clock: FakeClock) -> None:
    stream = io.BytesIO()
    keyed = settings.model_copy(update={"api_keys": parse_key_list("sekrit-key:write")})
    app = create_app(keyed, clock=clock, request_log=stream)
    async with AsyncTestClient(app=app) as client:
        body = summary_body("private_mentor")
        assert (await client.post(BASE, json=body, headers={"Authorization": "Bearer sekrit-key"})).status_code == 201
        await client.get(BASE, params={"mentor_id": "private_mentor"}, headers={"Authorization": "Bearer wrong-key"})
    app.observer.flush()
    logged = stream.getvalue()
    assert logged.count(b'"event":"request"') == 2
    for secret in (b"sekrit-key", b"wrong-key", b"private_mentor", b"312.5", b"mentor_id="):
        assert secret not in logged, secret


async def test_errors_and_front_door_answers_are_logged_and_carry_the_id(observed: Any) -> None:
    client, stream, app = observed
    missing = await client.get(f"{BASE}/nobody~100h")
    unknown = await client.get("/no/such/path")
    assert missing.status_code == 404 and "x-request-id" in missing.headers
    assert "x-request-id" in unknown.headers
    logged = lines(app, stream)
    assert [(line["route"], line["status"]) for line in logged] == [
        (f"{BASE}/{{milestone_id}}", 404),
        ("unmatched", 404),
    ]


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_metrics_count_requests_by_route_method_and_status(observed: Any) -> None:
    client, _, app = observed
    route = f"{BASE}/{{mentor_id}}/in-progress"
    before = sample("milestones_http_requests_total", route=route, method="GET", status="200")
    latency_before = sample("milestones_http_request_duration_seconds_count", route=route, method="GET")
    for _ in range(3):
        await client.get(f"{BASE}/alice/in-progress")
    await client.head(f"{BASE}/alice/in-progress")
    app.observer.flush()  # counts reach prometheus-client in bulk, a few times a second
    assert sample("milestones_http_requests_total", route=route, method="GET", status="200") == before + 3
    assert sample("milestones_http_requests_total", route=route, method="HEAD", status="200") >= 1
    assert sample("milestones_http_request_duration_seconds_count", route=route, method="GET") == latency_before + 3
    exposition = (await client.get("/metrics")).text
    assert f'milestones_http_requests_total{{method="GET",route="{route}",status="200"}}' in exposition


async def test_milestones_achieved_are_counted_by_type(observed: Any) -> None:
    client, _, _ = observed
    before = {t: sample("milestones_achieved_total", type=t) for t in ("hours_logged", "contacts_helped")}
    await client.post(BASE, json=summary_body("counted", hours=60, contacts=12, activities=0))
    await client.post(BASE, json=summary_body("counted", hours=60, contacts=12, activities=0))  # nothing new
    assert sample("milestones_achieved_total", type="hours_logged") == before["hours_logged"] + 2  # 10h, 50h
    assert sample("milestones_achieved_total", type="contacts_helped") == before["contacts_helped"] + 1  # 10


def test_counts_reach_the_histogram_in_bulk_in_the_right_buckets() -> None:
    route = "/test/bulk-histogram"
    metrics = RequestMetrics()

    def bucket(le: str) -> float:
        return sample("milestones_http_request_duration_seconds_bucket", route=route, method="GET", le=le)

    before = {le: bucket(le) for le in ("0.0005", "0.005", "+Inf")}
    for seconds in (0.0003, 0.0005, 0.003, 20.0):
        metrics.observe(route, "GET", 200, seconds)
    assert sample("milestones_http_requests_total", route=route, method="GET", status="200") == 0  # not yet
    metrics.flush()
    assert sample("milestones_http_requests_total", route=route, method="GET", status="200") == 4
    assert bucket("0.0005") == before["0.0005"] + 2  # a bucket holds values up to and including its bound
    assert bucket("0.005") == before["0.005"] + 3
    assert bucket("+Inf") == before["+Inf"] + 4
    total = sample("milestones_http_request_duration_seconds_sum", route=route, method="GET")
    assert total == pytest.approx(20.0038)


def test_request_ids_are_visible_ascii_up_to_128() -> None:
    assert valid_request_id(b"a" * 128)
    assert not valid_request_id(b"a" * 129)
    assert not valid_request_id(b"")
    assert not valid_request_id("é".encode())
    assert not valid_request_id(b"tab\there")


def test_generated_ids_are_unique_per_process() -> None:
    observer = RequestObserver(io.BytesIO())
    other = RequestObserver(io.BytesIO())
    ids = {observer.request_id(None) for _ in range(1000)} | {other.request_id(None) for _ in range(1000)}
    assert len(ids) == 2000


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_the_database_going_and_coming_back_is_logged_once_each() -> None:
    watch = DatabaseWatch()
    before = sample("milestones_database_unavailable_total")
    logger = logging.getLogger("milestones")
    recorded = Recorded()
    level = logger.level
    logger.addHandler(recorded)
    logger.setLevel(logging.INFO)
    try:
        watch.answered(200)
        watch.unavailable("connection refused")
        watch.unavailable("connection refused")
        watch.answered(503)
        watch.answered(200)
        watch.answered(200)
    finally:
        logger.removeHandler(recorded)
        logger.setLevel(level)
    assert recorded.messages == ["database unavailable", "database back"]
    assert sample("milestones_database_unavailable_total") == before + 2
