"""Prometheus metrics: requests by route, method and status, their latency, milestones achieved by type,
the database's unavailability, the read replicas' state and lag, and the SQLite writer's queue wait.

With several worker processes, `serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory before the
workers start; prometheus-client then keeps each process's values in a file there, and `/metrics` (answered
by any worker) adds them all up. One process keeps them in memory.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
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
REPLICA_FALLBACKS = Counter(
    "milestones_replica_fallbacks",
    "Times a read replica stopped serving reads, which then went to the primary, by replica and reason "
    "(lagging: behind past MILESTONES_REPLICA_MAX_LAG_SECONDS; unreachable; not_a_replica)",
    ["replica", "reason"],
)
# Each worker polls every replica on its own: the worst worker's view (live processes only) is the one shown.
REPLICA_IN_USE = Gauge(
    "milestones_replica_in_use",
    "1 while a read replica serves reads, 0 while its reads go to the primary",
    ["replica"],
    multiprocess_mode="livemin",
)
REPLICA_LAG = Gauge(
    "milestones_replica_lag_seconds",
    "How far behind the primary a read replica was at its last poll (an upper bound, to half a second)",
    ["replica"],
    multiprocess_mode="livemax",
)
WEBHOOK_DELIVERIES = Counter(
    "milestones_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, rejected, timeout, ...)",
    ["outcome"],
)
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "milestones_webhook_endpoints_disabled", "Webhook endpoints disabled because a delivery's retries ran out"
)
WRITER_WAIT = Histogram(
    "milestones_sqlite_writer_wait_seconds",
    "Time a SQLite write waited for this process's writer thread before it started",
    buckets=_LATENCY_BUCKETS,
)


class RequestMetrics:
    """Counts answered requests. Each request only adds to this process's tallies (a dictionary and a list:
    about 0.4 µs); `flush` hands them to prometheus-client in bulk, a few times a second. Counting each
    request through prometheus-client directly cost 3 to 4 µs (in multiprocess mode each value is written to
    its file under a lock), a tenth of the fastest requests' whole cost (docs/PERFORMANCE.md)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str, int], list[Any]] = {}
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        tally = self._pending.get(key)
        if tally is None:
            tally = self._pending[key] = [0, 0.0, [0] * (len(_LATENCY_BUCKETS) + 1)]
        tally[0] += 1
        tally[1] += seconds
        # Prometheus buckets hold values up to and including their bound; the last one is +Inf.
        tally[2][bisect_left(_LATENCY_BUCKETS, seconds)] += 1

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for key, (count, total, buckets) in pending.items():
            children = self._children.get(key)
            if children is None:
                route, method, status = key
                children = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method))
                self._children[key] = children
            counter, histogram = children
            counter.inc(count)
            # A histogram takes one observation at a time; these are its own per-bucket values (non-cumulative,
            # as it keeps them), added to in bulk. tests/web/test_observability.py checks the exposition.
            histogram._sum.inc(total)
            for index, added in enumerate(buckets):
                if added:
                    histogram._buckets[index].inc(added)


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
