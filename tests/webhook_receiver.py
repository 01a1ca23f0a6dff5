"""A real HTTP receiver of webhooks in the test process: answers each request as its plan says, keeps what came."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A plan step that never answers (until the receiver stops).
HANG = -1


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers the n-th request of each message (webhook-id) with `plan[n]` (a status, or HANG), and every later one
    with `then`."""

    plan: list[int] = field(default_factory=list)
    then: int = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: dict[str, int] = field(default_factory=dict)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _active: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        message = headers.get("webhook-id", "")
        with self._lock:
            number = sum(1 for r in self.received if r.headers.get("webhook-id", "") == message)
            self.received.append(Received(headers, body))
            self._active[message] = self._active.get(message, 0) + 1
            self.most_in_flight[message] = max(self.most_in_flight.get(message, 0), self._active[message])
        try:
            status = self.plan[number] if number < len(self.plan) else self.then
            if status == HANG:
                self._stop.wait(120)
                return 503
            if self.delay:
                time.sleep(self.delay)
            return status
        finally:
            with self._lock:
                self._active[message] -= 1

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """The requests once `count` have come (waiting on the event loop, so a loop in this process can send)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver got {len(self.received)} requests, not {count}")
            await asyncio.sleep(0.01)
        return list(self.received)

    def wait_until(self, count: int, timeout: float = 30.0) -> list[Received]:
        """As `wait_for`, for a test with no event loop of its own (the sender is another process)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver got {len(self.received)} requests, not {count}")
            time.sleep(0.02)
        return list(self.received)

    def release(self) -> None:
        """Let every hanging request go (answered 503)."""
        self._stop.set()


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve `receiver` on a free port of 127.0.0.1 until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = receiver.answer({k.lower(): v for k, v in self.headers.items()}, body)
            try:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up (its timeout)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()
