"""What the front door records of each request: its id, a log line, and its metrics; and the database's
comings and goings, logged once each rather than once per failed request."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from typing import IO

from milestones.ops.logs import FLUSH_SECONDS, RequestLog, event
from milestones.ops.metrics import DATABASE_UNAVAILABLE, UNMATCHED, RequestMetrics

REQUEST_ID_HEADER = b"x-request-id"
_TYPED_PARAMETER = re.compile(r"\{(\w+):[^}]*\}")


def untyped(template: str) -> str:
    """A path template as the ASGI scope, FAST_ROUTES and the metrics write it: {name}, not {name:str}."""
    return _TYPED_PARAMETER.sub(r"{\1}", template)


def valid_request_id(value: bytes) -> bool:
    """A client's X-Request-ID is kept when it is 1 to 128 visible ASCII characters."""
    return 0 < len(value) <= 128 and all(0x21 <= byte <= 0x7E for byte in value)


class RequestObserver:
    """Gives each request its id (the client's X-Request-ID when valid, else a new one), and records each answer
    in the request log and the metrics."""

    def __init__(self, log_stream: IO[bytes] | None = None, *, as_json: bool = True) -> None:
        # Ids are this process's random prefix and a counter: unique across workers and restarts, and
        # cheaper than a UUID per request.
        self._prefix = os.urandom(6).hex()
        self._count = 0
        self.log = RequestLog(log_stream or sys.stderr.buffer, as_json=as_json)
        self.metrics = RequestMetrics()
        self._routes: dict[str, str] = {}
        self._flush_scheduled = False

    def request_id(self, given: bytes | None) -> bytes:
        """The request's id: `given` (the client's X-Request-ID) when it is valid, else a new one."""
        if given is not None and valid_request_id(given):
            return given
        self._count += 1
        return f"{self._prefix}-{self._count:x}".encode()

    def route(self, template: str | None) -> str:
        """The route label: the framework's template with its parameter types dropped ({id:str} -> {id})."""
        if template is None:
            return UNMATCHED
        label = self._routes.get(template)
        if label is None:
            label = self._routes[template] = untyped(template)
        return label

    def answered(
        self,
        method: str,
        template: str | None,
        status: int,
        seconds: float,
        request_id: bytes,
        key_id: str | None,
        client: str | None,
    ) -> None:
        route = self.route(template)
        self.metrics.observe(route, method, status, seconds)
        self.log.request(method, route, status, seconds, request_id.decode("latin-1"), key_id, client)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Write the request lines gathered since the last flush and hand the counts to the metrics."""
        self._flush_scheduled = False
        self.log.flush()
        self.metrics.flush()


class DatabaseWatch:
    """Logs the database going away once, when the first request finds it unavailable, and once when a
    request is answered again; counts every request it turned away."""

    def __init__(self) -> None:
        self.down = False

    def unavailable(self, detail: str) -> None:
        DATABASE_UNAVAILABLE.inc()
        if not self.down:
            self.down = True
            event("database unavailable", logging.WARNING, detail=detail)

    def answered(self, status: int) -> None:
        if self.down and status < 500:
            self.down = False
            event("database back")
