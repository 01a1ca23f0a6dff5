"""The HTTP protocol `serve` runs: uvicorn's httptools protocol with a deadline for each request's head."""

from __future__ import annotations

import asyncio
import functools

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from milestones.contract import ProblemDetails
from milestones.settings import Settings
from milestones.web.problems import PROBLEM_JSON


@functools.cache
def _head_timeout() -> float:
    # Read once per worker process, from the environment every worker is started with (as the app is).
    return Settings().header_timeout_seconds


@functools.cache
def _timed_out_response(seconds: float) -> bytes:
    body = msgspec.json.encode(
        ProblemDetails(
            type="about:blank",
            title="Request Timeout",
            status=408,
            detail=f"The request head did not arrive within {seconds:g} seconds.",
        )
    )
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        f"content-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class HeadTimeoutProtocol(HttpToolsProtocol):
    """Answers 408 and closes a connection whose request line and headers take longer than
    `header_timeout_seconds`, counted from the connection's start or from a later request's first byte;
    a connection that sends nothing at all in that time is closed.

    uvicorn closes idle keep-alive connections, but waits forever for a head that trickles in a byte at a
    time (or never starts): each such client would hold a connection and its memory for as long as it likes.
    Bodies have their own bound (`web.body_timeout`). One timer per connection checks the head's age, rather
    than a timer per request: a request only notes when its head began (a timer per request measured 15,900
    against 17,600 GETs a second without the deadline, in alternating runs).
    """

    _head_since: float | None = None  # when the head under way began (or the connection); None between heads
    _head_started = False  # whether that head has sent a byte yet
    _head_check: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_since = self.loop.time()
        self._head_check = self.loop.call_later(_head_timeout(), self._check_head)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_since = self.loop.time()
        self._head_started = True

    def on_headers_complete(self) -> None:
        self._head_since = None
        self._head_started = False
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_check is not None:
            self._head_check.cancel()
            self._head_check = None
        super().connection_lost(exc)

    def _check_head(self) -> None:
        if self.transport.is_closing():
            self._head_check = None
            return
        timeout = _head_timeout()
        age = 0.0 if self._head_since is None else self.loop.time() - self._head_since
        if age < timeout:
            self._head_check = self.loop.call_later(timeout - age, self._check_head)
            return
        self._head_check = None
        # A connection that never sent a byte (a browser's speculative one) is closed without an answer, as is
        # one with a response under way (a pipelined request before this one).
        if self._head_started and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(_timed_out_response(timeout))
        self.transport.close()
