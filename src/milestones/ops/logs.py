"""Logging: one line per event (start-up, migration, the database going and coming back, shutdown) and one
per request, as JSON or as text, each carrying the id of the request it belongs to.

Events go through the standard logging module with the formatters below. Request lines are written by
`RequestLog`, which encodes each line with msgspec and writes them in batches: a line through `logging`
costs about 12 µs, a third of a whole GET on the fast path, where this costs about 1.5 µs (docs/PERFORMANCE.md).
Both write to standard error, in the same format.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

import msgspec

from milestones.ops import traces

# The id of the request being served, for every log line written while serving it.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
LOGGER = "milestones"
# A batch of request lines waits at most this long before it is written.
FLUSH_SECONDS = 0.05
_encode = msgspec.json.Encoder().encode


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
# A query parameter that holds a password (libpq's `password`, `sslpassword`; redis-py's `password`), a secret or a
# token, and its value.
_SECRET = re.compile(r"(?i)((?:^|[&;])[^=&;]*(?:pass|secret|token)[^=&;]*=)[^&;#]*")


def redacted(text: str) -> str:
    """`text` with the password of every URL in it hidden: the one before `@` (`user:***@host`) and any query
    parameter named for a password, a secret or a token (`?password=***`). The one redaction for everything the
    service and its commands print: start-up lines, warnings, errors (a library's message may quote the URL)."""
    return _URL.sub(_hide, text) if "://" in text else text


def _hide(url: re.Match[str]) -> str:
    scheme, separator, rest = url.group(0).partition("://")
    rest, question, query = rest.partition("?")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        rest = f"{credentials.split(':', 1)[0]}:***@{host}"
    if question:
        query = _SECRET.sub(r"\1***", query)
    return f"{scheme}{separator}{rest}{question}{query}"


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, event, the request id when there is one, and any `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": _timestamp(record.created), "level": record.levelname.lower()}
        line["event"] = redacted(record.getMessage())
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        line.update(_fields(record))
        if record.exc_info:
            line["error"] = redacted(self.formatException(record.exc_info))
        return _encode(line).decode()


class TextFormatter(logging.Formatter):
    """For a person at a terminal: time, level, event, then key=value fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        request_id = REQUEST_ID.get()
        if request_id is not None:
            fields["request_id"] = request_id
        text = f"{_timestamp(record.created)} {record.levelname:<7} {redacted(record.getMessage())}"
        if fields:
            text += " " + " ".join(f"{name}={value}" for name, value in fields.items())
        if record.exc_info:
            text += "\n" + redacted(self.formatException(record.exc_info))
        return text


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """An event's structured fields, any URL in them redacted."""
    given: dict[str, Any] = getattr(record, "fields", {})
    return {name: redacted(value) if isinstance(value, str) else value for name, value in given.items()}


def log_format(setting: str, stream: IO[str]) -> str:
    """json or text; `auto` is text on a terminal and JSON otherwise (a log collector)."""
    if setting != "auto":
        return setting
    return "text" if stream.isatty() else "json"


# The libraries whose lines reach the service's log, in its format: left alone, a warning of theirs goes to
# Python's last-resort handler as plain text, its traceback over many lines, which breaks a JSON log.
# (asyncio: the event loop's own error reports, which asyncpg makes through it too.)
LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "asyncpg", "asyncio")
# Alembic says what it does at INFO ("Context impl ...", "Running upgrade ..."); the service logs each
# migration as one event of its own, so only Alembic's warnings and errors are kept.
QUIET_LIBRARY_LOGGERS = ("alembic",)


def configure_logging(setting: str, level: str) -> str:
    """Send the service's logs (and those of uvicorn, asyncpg, asyncio and Alembic) to standard error in one
    format; returns the format chosen."""
    chosen = log_format(setting, sys.stderr)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    chosen_level = logging.getLevelNamesMapping()[level.upper()]
    for name in (LOGGER, *LIBRARY_LOGGERS, *QUIET_LIBRARY_LOGGERS):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(max(chosen_level, logging.WARNING) if name in QUIET_LIBRARY_LOGGERS else chosen_level)
        logger.propagate = False
    # httpx (webhook deliveries) logs each request's URL at INFO, and a receiver's URL may carry a token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return chosen


class OncePerOutage(logging.Filter):
    """Lets through the first of the warnings that begin with `message` and drops the rest until `over` is
    called: for a library that warns on every failed attempt to reconnect (asyncpg's pool retries with a
    backoff up to a minute, as long as the database is away), one line per outage instead of one per attempt."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message
        self.said = False
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith(self.message)):
            return True
        if self.said:
            self.dropped += 1
            return False
        self.said = True
        record.msg = f"{record.msg} (said once until it reconnects)"
        return True

    def over(self) -> None:
        """The outage is over (a connection was made): the next failure is news again."""
        self.said = False


def event(message: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log a significant event with structured fields."""
    logging.getLogger(LOGGER).log(level, message, extra={"fields": fields})


class RequestLine(msgspec.Struct, omit_defaults=True):
    """One request's log line (JSON), fields in this order."""

    time: str
    level: str
    event: str
    request_id: str
    method: str
    route: str
    status: int
    duration_ms: float
    key_id: str | None = None
    client: str | None = None
    # When traces are exported: the request's trace, to find its spans from its line.
    trace_id: str | None = None


# What a request line holds until it is written: time, method, route, status, seconds, request id, key id, client,
# trace id.
_Entry = tuple[float, str, str, int, float, str, str | None, str | None, str | None]


class RequestLog:
    """Writes one line per request to a stream, in batches: lines gather until `flush` (which the front door's
    observer calls at most FLUSH_SECONDS after a request) and go out in one write. Runs on the event loop only."""

    def __init__(self, stream: IO[bytes], *, as_json: bool) -> None:
        self._stream = stream
        self._json = as_json
        self._pending: list[_Entry] = []
        self._second = -1
        self._second_text = ""

    def _stamp(self, now: float) -> str:
        """A time as ISO 8601 UTC to the millisecond; the date and time to the second is worked out once a
        second (datetime's formatting would be half the cost of a line)."""
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((now - second) * 1000):03d}Z"

    def request(
        self,
        method: str,
        route: str,
        status: int,
        seconds: float,
        request_id: str,
        key_id: str | None,
        client: str | None,
    ) -> None:
        # Kept as given; the line is written out with the others at the next flush.
        entry = (time.time(), method, route, status, seconds, request_id, key_id, client, traces.current_trace_id())
        self._pending.append(entry)

    def _line(self, entry: _Entry) -> bytes:
        now, method, route, status, seconds, request_id, key_id, client, trace_id = entry
        duration_ms = round(seconds * 1000, 3)
        if self._json:
            line = RequestLine(
                self._stamp(now),
                "info",
                "request",
                request_id,
                method,
                route,
                status,
                duration_ms,
                key_id,
                client,
                trace_id,
            )
            return _encode(line) + b"\n"
        key = f" key_id={key_id}" if key_id is not None else ""
        trace = f" trace_id={trace_id}" if trace_id is not None else ""
        return (
            f"{self._stamp(now)} INFO    request {method} {route} {status} {duration_ms}ms "
            f"request_id={request_id}{trace}{key} client={client}\n"
        ).encode()

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        try:
            self._stream.write(b"".join(self._line(entry) for entry in pending))
            self._stream.flush()
        except (OSError, ValueError):
            pass  # standard error is gone (closed, or a full pipe): the service goes on without its log
