"""Traces: a request's server span and its children on both databases, a caller's trace continued, the trace id
in the request's log line, and nothing of OpenTelemetry imported while tracing is off."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from milestones.access.keys import digest_of, parse_key_list
from milestones.badges import badge_image
from milestones.bulk.detection import detect_lines
from milestones.catalog import load_catalog
from milestones.ops import traces
from milestones.settings import Settings
from milestones.storage import open_repository
from milestones.web.app import create_app
from tests.conftest import FakeClock
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def server_spans(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    return [span for span in spans if span.kind is SpanKind.SERVER]


def children_of(parent: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    assert parent.context is not None
    return [span for span in spans if span.parent is not None and span.parent.span_id == parent.context.span_id]


@pytest.mark.parametrize(
    ("environment", "asked"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
    ],
)
def test_traces_are_on_when_the_standard_variables_ask(environment: dict[str, str], asked: bool) -> None:
    assert traces.configured(environment) is asked


@pytest.mark.parametrize(
    ("environment", "problem"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER: must be one of otlp, console or none"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is supported",
        ),
    ],
)
def test_an_exporter_the_service_cannot_use_is_one_clear_line(environment: dict[str, str], problem: str) -> None:
    with pytest.raises(traces.TracingUnavailable, match=problem):
        traces.check(environment)


async def test_a_read_has_a_server_span_named_by_route_with_database_children(
    settings: Settings, clock: FakeClock, spans: InMemorySpanExporter
) -> None:
    keyed = settings.model_copy(
        update={"api_keys": parse_key_list("a-secret-key-0001:write"), "read_requires_key": True}
    )
    async with AsyncTestClient(app=create_app(keyed, clock=clock)) as client:
        auth = {"Authorization": "Bearer a-secret-key-0001"}
        assert (await client.post("/api/v1/milestones", json=summary_body("m-1"), headers=auth)).status_code == 201
        spans.clear()
        answer = await client.get("/api/v1/milestones/m-1~10h", headers=auth)
    assert answer.status_code == 200
    finished = spans.get_finished_spans()
    (server,) = server_spans(finished)
    assert server.name == "GET /api/v1/milestones/{milestone_id}"
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/api/v1/milestones/{milestone_id}"
    assert server.attributes["http.response.status_code"] == 200
    key_id = "env:" + digest_of("a-secret-key-0001")[:8]
    assert server.attributes["milestones.key_id"] == key_id
    assert all("a-secret-key-0001" not in str(span.attributes) for span in finished)
    database = children_of(server, finished)
    assert database, [span.name for span in finished]
    system = "sqlite" if settings.is_sqlite else "postgresql"
    assert {span.attributes["db.system.name"] for span in database if span.attributes} == {system}
    assert all("m-1" not in str(span.attributes) for span in finished), "statements carry placeholders only"


async def test_a_write_has_its_transaction_under_the_request(
    settings: Settings, clock: FakeClock, spans: InMemorySpanExporter
) -> None:
    async with AsyncTestClient(app=create_app(settings, clock=clock)) as client:
        answer = await client.post("/api/v1/milestones", json=summary_body("m-2"))
    assert answer.status_code == 201
    finished = spans.get_finished_spans()
    (server,) = server_spans(finished)
    assert server.name == "POST /api/v1/milestones"
    names = [span.name for span in children_of(server, finished)]
    if settings.is_sqlite:
        assert {"sqlite writer wait", "sqlite transaction"} <= set(names)
    else:
        transaction = next(s for s in children_of(server, finished) if s.name == "postgresql transaction")
        statements = [span.name for span in children_of(transaction, finished)]
        assert "postgresql INSERT" in statements and "postgresql SELECT" in statements, statements


async def test_a_callers_trace_is_continued_and_its_id_is_in_the_log_line(
    settings: Settings, clock: FakeClock, spans: InMemorySpanExporter
) -> None:
    stream = io.BytesIO()
    app = create_app(settings, clock=clock, request_log=stream)
    async with AsyncTestClient(app=app) as client:
        headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "X-Request-ID": "req-traced-1"}
        answer = await client.get("/api/v1/milestones/m-3~10h", headers=headers)
        assert answer.status_code == 404
    (server,) = server_spans(spans.get_finished_spans())
    assert server.context is not None and server.parent is not None
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert format(server.parent.span_id, "016x") == PARENT_ID
    app.observer.log.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    (line,) = [line for line in lines if line.get("request_id") == "req-traced-1"]
    assert line["trace_id"] == TRACE_ID


async def test_the_rate_limit_check_and_a_badge_render_are_spans(
    sqlite_settings: Settings, clock: FakeClock, spans: InMemorySpanExporter
) -> None:
    # Badges are rendered once per process: forget earlier tests' renders, so this request renders one.
    badge_image.cache_clear()
    limited = sqlite_settings.model_copy(update={"rate_limit_reads": "100/minute"})
    async with AsyncTestClient(app=create_app(limited, clock=clock)) as client:
        assert (await client.get("/assets/badges/100h.png?size=128&state=locked")).status_code == 200
    finished = spans.get_finished_spans()
    (server,) = server_spans(finished)
    assert {"rate limit check", "badge render"} <= {span.name for span in children_of(server, finished)}


async def test_bulk_detection_has_one_span_per_batch(settings: Settings, spans: InMemorySpanExporter) -> None:
    lines = [json.dumps(summary_body(f"m-{n}")).encode() for n in range(1, 8)]
    repository = await open_repository(settings)
    try:
        report = await detect_lines(lines, repository, load_catalog(), NOW, lambda rejected: None, batch_size=3)
    finally:
        await repository.close()
    assert report.lines == 7
    batches = [span for span in spans.get_finished_spans() if span.name == "detect batch"]
    assert [span.attributes["milestones.lines"] for span in batches if span.attributes] == [3, 3, 1]


def test_with_tracing_off_serving_imports_nothing_of_opentelemetry(sqlite_settings: Settings, tmp_path: Path) -> None:
    """In a fresh interpreter (this one has the SDK loaded by the tests above): build and start the app, then
    serve a read, a write and a badge, and look at what serving imported: nothing of OpenTelemetry. Building
    the app does import some of it, though not from our code: redis-py 7 loads OpenTelemetry's API and
    metrics SDK for its own observability when imported (through `limits`), and Litestar looks for its
    OpenTelemetry plugin. Never the tracing SDK or an exporter."""
    script = f"""
import sys
from litestar.testing import TestClient
from milestones.settings import Settings
from milestones.web.app import create_app
app = create_app(Settings(database_url={sqlite_settings.database_url!r}))
with TestClient(app) as client:
    baseline = {{name for name in sys.modules if name.startswith("opentelemetry")}}
    body = {{"mentor_id": "m", "period": {{"year": 2025, "start_date": "2025-01-01", "end_date": "2025-12-31"}},
            "summary": {{"total_hours": 12, "unique_contacts_helped": 3, "activity_count": 4}}}}
    assert client.post("/api/v1/milestones", json=body).status_code == 201
    assert client.get("/api/v1/milestones/m~10h").status_code == 200
    assert client.get("/assets/badges/100h.png").status_code == 200
    assert client.get("/api/v1/milestones/m~nothing").status_code == 404
loaded = {{name for name in sys.modules if name.startswith("opentelemetry")}}
print(sorted(loaded - baseline))
print(sorted(name for name in loaded if name.startswith(("opentelemetry.sdk.trace", "opentelemetry.exporter"))))
"""
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().splitlines()[-2:] == ["[]", "[]"]
