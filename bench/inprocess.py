"""`python -m bench.inprocess`: the three hot reads called as ASGI in this process, no server and no wrk.

Prints microseconds of CPU time per request (the best of several passes), which is steady on a busy machine
where wrk's figures swing by a third: the way to see what the layers in front of a read cost, and to compare
two commits (run it with each one's venv). Every production layer is on (request ids, the request log
written to /dev/null, metrics, language, security headers); there is no HTTP server, so header counts and
uvicorn's own work do not show here.

`--traces` measures the same with OpenTelemetry tracing on, spans batched to the SDK's in-memory exporter
(what tracing costs the service itself, without a collector's network), and a POST row (two summaries
posted in turn, so each one writes) shows a write's cost, with the wall-clock p50 and p99 of its requests.

`--webhook hanging` adds a webhook endpoint for every event type whose receiver (a socket in this process)
accepts connections and never answers: the worker's delivery loop queues each POST's events for it and keeps
its slots busy until each attempt times out. The POST row then shows what deliveries cost the requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from milestones.catalog import load_catalog
from milestones.service import MilestoneService
from milestones.settings import Settings
from milestones.storage import migrate
from milestones.web.app import create_app

SUMMARY = (
    b'{"mentor_id":"ada","period":{"year":2025,"start_date":"2025-01-01","end_date":"2025-12-31"},'
    b'"summary":{"total_hours":60,"unique_contacts_helped":3,"activity_count":4}}'
)
READS = {
    "GET one": ("/api/v1/milestones/ada~10h", b""),
    "list": ("/api/v1/milestones", b"mentor_id=ada"),
    "in-progress": ("/api/v1/milestones/ada/in-progress", b""),
}


def scope(method: str, path: str, query: bytes = b"", headers: tuple[tuple[bytes, bytes], ...] = ()) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"localhost:8000"), (b"user-agent", b"wrk"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


ANOTHER_SUMMARY = SUMMARY.replace(b'"total_hours":60', b'"total_hours":61')


def hanging_receiver() -> str:
    """A receiver that accepts every connection and never answers (until the process ends)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            connection, _ = server.accept()
            held.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/hooks"


async def measure(requests: int, passes: int, webhook: str = "none") -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        migrate(settings)
        if webhook == "hanging":
            settings = settings.model_copy(update={"webhook_allow_private": True})
            service = await MilestoneService.open(settings, load_catalog())
            await service.webhooks.add(hanging_receiver(), [])
            await service.close()
        with open(os.devnull, "wb") as log:
            app: Any = create_app(settings, request_log=log)
            sent: list[Any] = []

            async def send(message: Any) -> None:
                sent.append(message)

            lifespan: asyncio.Queue[Any] = asyncio.Queue()
            await lifespan.put({"type": "lifespan.startup"})
            started = asyncio.create_task(
                app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, lifespan.get, send)
            )
            while not any(m.get("type") == "lifespan.startup.complete" for m in sent):
                await asyncio.sleep(0.01)

            async def body() -> dict[str, Any]:
                return {"type": "http.request", "body": SUMMARY, "more_body": False}

            json_post = ((b"content-type", b"application/json"), (b"content-length", str(len(SUMMARY)).encode()))
            await app(scope("POST", "/api/v1/milestones", headers=json_post), body, send)

            async def nothing() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            figures: dict[str, float] = {}
            for name, (path, query) in READS.items():
                best = float("inf")
                for _ in range(passes):
                    began = time.process_time()
                    for _ in range(requests):
                        sent.clear()
                        await app(scope("GET", path, query), nothing, send)
                    best = min(best, (time.process_time() - began) / requests * 1e6)
                    assert sent[0]["status"] == 200, sent[0]
                figures[name] = best
            best = float("inf")
            waits: list[float] = []
            for _ in range(passes):
                began = time.process_time()
                for number in range(requests):
                    sent.clear()
                    summary = SUMMARY if number % 2 else ANOTHER_SUMMARY

                    async def posted(summary: bytes = summary) -> dict[str, Any]:
                        return {"type": "http.request", "body": summary, "more_body": False}

                    asked = time.perf_counter()
                    await app(scope("POST", "/api/v1/milestones", headers=json_post), posted, send)
                    waits.append(time.perf_counter() - asked)
                best = min(best, (time.process_time() - began) / requests * 1e6)
                assert sent[0]["status"] == 201, sent[0]
            figures["POST"] = best
            waits.sort()
            figures["POST p50 ms"] = waits[len(waits) // 2] * 1e3
            figures["POST p99 ms"] = waits[int(len(waits) * 0.99)] * 1e3
            await lifespan.put({"type": "lifespan.shutdown"})
            await started
        if webhook == "hanging":
            # What the loop did meanwhile: events queued for the receiver, and attempts that timed out.
            service = await MilestoneService.open(settings, load_catalog())
            (endpoint,) = await service.webhooks.endpoints()
            figures["deliveries"] = len(await service.webhooks.deliveries(endpoint.id, 1_000_000))
            figures["attempts"] = len(await service.webhooks.attempts(endpoint.id, 1_000_000))
            await service.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000, help="requests per pass (default 3,000)")
    parser.add_argument("--passes", type=int, default=7, help="passes per read; the best is kept (default 7)")
    parser.add_argument("--traces", action="store_true", help="with tracing on (spans to an in-memory exporter)")
    parser.add_argument(
        "--webhook",
        choices=["none", "hanging"],
        default="none",
        help="hanging: a webhook for every event, whose receiver never answers (default none)",
    )
    args = parser.parse_args()
    if args.traces:
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from milestones.ops import traces

        traces.start(InMemorySpanExporter())
    for name, figure in asyncio.run(measure(args.requests, args.passes, args.webhook)).items():
        unit = " µs CPU per request" if name in READS or name == "POST" else ""
        print(f"{name:12} {figure:7.1f}{unit}")


if __name__ == "__main__":
    main()
