"""Fixtures for running the service's operations: traces exported to the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from milestones.ops import traces


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test, every span finished kept in memory (exported one by one, not in batches)."""
    exporter = InMemorySpanExporter()
    traces.start(exporter, batched=False)
    try:
        yield exporter
    finally:
        traces.stop()
