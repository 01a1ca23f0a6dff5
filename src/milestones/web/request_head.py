"""The HTTP protocol `serve` runs: uvicorn's httptools protocol with bounds on each request's head (its line and
headers): a deadline (408), and a size and a number of fields (431)."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass

import httptools
import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from milestones.contract import ProblemDetails
from milestones.settings import Settings
from milestones.web.problems import PROBLEM_JSON

# After a 431, what the client still sends is read and dropped for this long before the connection is closed:
# closing a socket with unread data in it resets the connection, and the reset can destroy the answer before
# the client reads it.
LINGER_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class HeadLimits:
    timeout: float
    max_bytes: int
    max_fields: int


@functools.cache
def _limits() -> HeadLimits:
    # Read once per worker process, from the environment every worker is started with (as the app is).
    settings = Settings()
    return HeadLimits(settings.header_timeout_seconds, settings.max_header_bytes, settings.max_header_fields)


@functools.cache
def _answer(status: int, title: str, detail: str) -> bytes:
    body = msgspec.json.encode(ProblemDetails(type="about:blank", title=title, status=status, detail=detail))
    head = (
        f"HTTP/1.1 {status} {title}\r\n"
        f"content-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _timed_out(seconds: float) -> bytes:
    return _answer(408, "Request Timeout", f"The request head did not arrive within {seconds:g} seconds.")


def _too_large(limits: HeadLimits) -> bytes:
    return _answer(
        431,
        "Request Header Fields Too Large",
        f"The request's line and headers may take {limits.max_bytes:,} bytes and {limits.max_fields:,} header "
        "fields at most.",
    )


class _HeadRefused(Exception):
    """Stops the parser in the middle of a head that was answered 431."""


class RequestHeadProtocol(HttpToolsProtocol):
    """Bounds every request head: answers 408 and closes a connection whose request line and headers take
    longer than `header_timeout_seconds`, counted from the connection's start or from a later request's first
    byte (a connection that sends nothing at all in that time is closed); answers 431 and closes one whose head
    is larger than `max_header_bytes` or has more than `max_header_fields` fields.

    uvicorn closes idle keep-alive connections, but waits forever for a head that trickles in a byte at a
    time (or never starts), and takes a head of any size: httptools joins each header's parts with `+=`, which
    copies the header again with every part read, so one request with a 48 MiB header held the event loop (and
    so every other client) for seconds. The size is checked on the bytes before the parser sees them, so no
    more than the limit is ever parsed. Bodies have their own bounds (`web.body_timeout`).

    One timer per connection checks the head's age, rather than a timer per request: a request only notes when
    its head began (a timer per request measured 15,900 against 17,600 GETs a second without the deadline, in
    alternating runs).
    """

    _head_since: float | None = None  # when the head under way began (or the connection); None between heads
    _head_started = False  # whether that head has sent a byte yet
    _head_check: asyncio.TimerHandle | None = None
    _in_head = True  # whether the bytes arriving are a head's (rather than a body's)
    _head_bytes = 0  # bytes of the head under way handed to the parser so far
    _head_fields = 0
    _refused = False  # answered 431: whatever still arrives is dropped

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_since = self.loop.time()
        self._head_check = self.loop.call_later(_limits().timeout, self._check_head)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        limits = _limits()
        if self._in_head and self._head_bytes + len(data) > limits.max_bytes:
            # Only what the head may still take goes to the parser; if the head has not ended there, it is too
            # large. What follows a head that did end (its body) is read as usual.
            room = limits.max_bytes - self._head_bytes
            self._head_bytes = limits.max_bytes
            self._feed(data[:room])
            if self._refused or self.transport.is_closing():
                return
            if self._in_head:
                self._refuse(_too_large(limits))
                return
            data = data[room:]
        elif self._in_head:
            # A pipelined head that begins in the same read as the body before it is counted from its next read.
            self._head_bytes += len(data)
        if data:
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        """uvicorn's own `data_received`, but a head refused with 431 is not answered 400 as well."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            if self._refused:
                return
            message = "Invalid HTTP request received."
            self.logger.warning(message)
            self.send_400_response(message)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_since = self.loop.time()
        self._head_started = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        if self._head_fields > _limits().max_fields:
            self._refuse(_too_large(_limits()))
            raise _HeadRefused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_since = None
        self._head_started = False
        self._in_head = False
        self._head_bytes = self._head_fields = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_check is not None:
            self._head_check.cancel()
            self._head_check = None
        super().connection_lost(exc)

    def _refuse(self, answer: bytes) -> None:
        """Answer a head over the limits and stop reading requests from this connection."""
        self._refused = True
        self._head_since = None
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # an answer to a pipelined request before this one is under way
            return
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _check_head(self) -> None:
        if self.transport.is_closing():
            self._head_check = None
            return
        timeout = _limits().timeout
        age = 0.0 if self._head_since is None else self.loop.time() - self._head_since
        if age < timeout:
            self._head_check = self.loop.call_later(timeout - age, self._check_head)
            return
        self._head_check = None
        # A connection that never sent a byte (a browser's speculative one) is closed without an answer, as is
        # one with a response under way (a pipelined request before this one).
        if self._head_started and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(_timed_out(timeout))
        self.transport.close()
