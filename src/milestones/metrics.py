"""Prometheus metrics: requests by route, method and status, their latency, milestones achieved by type,
the database's unavailability and the SQLite writer's queue wait.

With several worker processes, `serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory before the
workers start; prometheus-client then keeps each process's values in a file there, and `/metrics` (answered
by any worker) adds them all up. One process keeps them in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A request that matched no route: one label value, so that scanners cannot grow the series without end.
UNMATCHED = "unmatched"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "milestones_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "milestones_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method",
    ["route", "method"],
    buckets=_LATENCY_BUCKETS,
)
ACHIEVED = Counter("milestones_achieved", "Milestones newly achieved through the API, by type", ["type"])
DATABASE_UNAVAILABLE = Counter(
    "milestones_database_unavailable", "Requests answered 503 because the database was unavailable or busy"
)
WRITER_WAIT = Histogram(
    "milestones_sqlite_writer_wait_seconds",
    "Time a SQLite write waited for this process's writer thread before it started",
    buckets=_LATENCY_BUCKETS,
)


class RequestMetrics:
    """Counts answered requests. The labelled children are looked up once per route, method and status and
    kept: `labels()` costs a microsecond, about as much as the counting itself."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def achieved(types: Iterable[str]) -> None:
    for metric_type in types:
        ACHIEVED.labels(metric_type).inc()


def exposition() -> bytes:
    """The metrics in Prometheus's text format: this process's, or every worker's when there are several."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
