"""Traces: OpenTelemetry spans for requests, database work, rate limits, badges and batches, when configured.

Tracing is on when the standard variables ask for an exporter (`OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_TRACES_EXPORTER` other than `none`); the SDK then reads the
rest of the `OTEL_*` settings itself (headers, timeouts, sampler, service name, resource attributes). Off,
the default, nothing of OpenTelemetry is imported and each function here is one check of a module variable:
the request path pays nothing measurable.

Like the metrics, the tracer is process-wide: spans come from places (a storage back end's writer thread, a
badge renderer) that no request object reaches, and OpenTelemetry's own context is a context variable.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from milestones import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

_tracer: Tracer | None = None
_provider: TracerProvider | None = None
_OFF: AbstractContextManager[None] = nullcontext()
# The exporters the service can start from OTEL_TRACES_EXPORTER (the OTLP one over HTTP, protobuf).
EXPORTERS = ("otlp", "console")


class TracingUnavailable(Exception):
    """Tracing was asked for, and cannot start: said in one line, naming the variable."""


def configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(
        exporter or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def check(environ: Mapping[str, str] = os.environ) -> None:
    """Raise TracingUnavailable when traces are asked for and could not start (the SDK is not installed, an
    exporter or protocol it cannot use), so a command says so in one line before it starts any work."""
    if not configured(environ):
        return
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        raise TracingUnavailable(
            "OTEL_EXPORTER_OTLP_ENDPOINT: traces need the OpenTelemetry SDK: pip install 'milestones[traces]'"
        ) from None
    _exporter_named(environ, build=False)


def start(exporter: SpanExporter | None = None, *, batched: bool = True) -> None:
    """Start tracing in this process: spans go to `exporter` (the tests' in-memory one), or to the one
    OTEL_TRACES_EXPORTER names (`otlp`, the default, or `console`), in batches unless `batched` is False."""
    global _tracer, _provider
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        raise TracingUnavailable(
            "OTEL_EXPORTER_OTLP_ENDPOINT: traces need the OpenTelemetry SDK: pip install 'milestones[traces]'"
        ) from None
    if exporter is None:
        exporter = _exporter_named(os.environ)
    stop()
    attributes: dict[str, str] = {"service.version": __version__}
    if not os.environ.get("OTEL_SERVICE_NAME") and "service.name=" not in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    ):
        attributes["service.name"] = "milestones"
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME; the sampler comes from
    # OTEL_TRACES_SAMPLER. The provider is not made global: nothing else in the process should trace into it.
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batched else SimpleSpanProcessor(exporter))
    _provider = provider
    _tracer = provider.get_tracer("milestones", __version__)


def _exporter_named(environ: Mapping[str, str], *, build: bool = True) -> Any:
    name = (environ.get("OTEL_TRACES_EXPORTER", "") or "otlp").split(",")[0].strip().lower()
    if name == "console" and not build:
        return None
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise TracingUnavailable(f"OTEL_TRACES_EXPORTER: must be one of {', '.join(EXPORTERS)} or none")
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    if protocol not in (None, "", "http/protobuf"):
        raise TracingUnavailable(
            "OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is supported (a collector's port 4318)"
        )
    if not build:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def stop() -> None:
    """Export what is pending and stop tracing (at shutdown; tests between cases)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def enabled() -> bool:
    return _tracer is not None


def span(name: str, attributes: Mapping[str, Any] | None = None) -> AbstractContextManager[Any]:
    """A child span of the current one around a block; off, a shared context manager that does nothing."""
    if _tracer is None:
        return _OFF
    return _tracer.start_as_current_span(name, attributes=attributes)


def server_span(name: str, headers: Iterable[tuple[bytes, bytes]]) -> AbstractContextManager[Any]:
    """A request's server span, continuing the caller's trace when it sent `traceparent` (W3C Trace Context)."""
    assert _tracer is not None
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in headers
        if name in (b"traceparent", b"tracestate")
    }
    context = TraceContextTextMapPropagator().extract(carrier) if carrier else None
    return _tracer.start_as_current_span(name, context=context, kind=SpanKind.SERVER)


def record(name: str, start_ns: int, end_ns: int, attributes: Mapping[str, Any] | None = None) -> None:
    """A finished child span of the current one, timed after the fact: work done where the request's context
    does not reach (SQLite's writer thread), or that a library reports when done (asyncpg's queries)."""
    if _tracer is None:
        return
    recorded = _tracer.start_span(name, start_time=start_ns, attributes=attributes)
    recorded.end(end_time=end_ns)


def now_ns() -> int:
    """The wall clock in nanoseconds, as spans are timed."""
    return time.time_ns()


def current_trace_id() -> str | None:
    """The current trace's id in hex (for the request's log line), or None when not tracing."""
    if _tracer is None:
        return None
    from opentelemetry.trace import get_current_span

    context = get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def record_query(query: Any) -> None:
    """asyncpg's query logger: one span per PostgreSQL statement, with its text (placeholders, never values)."""
    if _tracer is None:
        return
    end = time.time_ns()
    statement: str = query.query
    attributes = {"db.system.name": "postgresql", "db.query.text": statement[:2000]}
    if query.exception is not None:
        attributes["error.type"] = type(query.exception).__name__
    operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "QUERY"
    record(f"postgresql {operation}", end - int(query.elapsed * 1e9), end, attributes)


def describe_request(span: Any, method: str, route: str | None, status: int, key_id: str | None) -> None:
    """Name a request's server span by its route template, once the front door has matched and answered it.
    The path itself is left out: it holds mentor ids, and the template says which operation it was."""
    from opentelemetry.trace import StatusCode

    span.update_name(f"{method} {route or 'unmatched'}")
    span.set_attribute("http.request.method", method)
    if route is not None:
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if key_id is not None:
        span.set_attribute("milestones.key_id", key_id)
    if status >= 500:
        span.set_status(StatusCode.ERROR)
