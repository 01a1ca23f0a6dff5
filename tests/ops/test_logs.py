"""Log lines: JSON or text, each carrying the id of the request it belongs to; request lines in batches."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from milestones.ops.logs import REQUEST_ID, JsonFormatter, RequestLog, TextFormatter, log_format, redacted


def record(message: str, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord("milestones", logging.WARNING, __file__, 1, message, None, None)
    made.fields = fields
    return made


def test_a_json_line_has_time_level_event_fields_and_the_request_id() -> None:
    token = REQUEST_ID.set("req-7")
    try:
        line = json.loads(JsonFormatter().format(record("database unavailable", detail="timeout")))
    finally:
        REQUEST_ID.reset(token)
    assert line["level"] == "warning"
    assert line["event"] == "database unavailable"
    assert line["detail"] == "timeout"
    assert line["request_id"] == "req-7"
    assert line["time"].endswith("Z")


def test_outside_a_request_there_is_no_request_id() -> None:
    assert "request_id" not in json.loads(JsonFormatter().format(record("started")))


def test_a_text_line_is_for_people() -> None:
    token = REQUEST_ID.set("req-8")
    try:
        text = TextFormatter().format(record("database back", after="3s"))
    finally:
        REQUEST_ID.reset(token)
    assert text.split(" ", 1)[1] == "WARNING database back after=3s request_id=req-8"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_is_text_on_a_terminal_and_json_elsewhere() -> None:
    assert log_format("auto", Terminal()) == "text"
    assert log_format("auto", io.StringIO()) == "json"
    assert log_format("json", Terminal()) == "json"


@pytest.mark.anyio
async def test_request_lines_are_written_together_after_a_short_wait() -> None:
    stream = io.BytesIO()
    log = RequestLog(stream, as_json=True)
    log.request("GET", "/healthz", 200, 0.000412, "id-1", None, "127.0.0.1")
    log.request("POST", "/api/v1/milestones", 401, 0.001, 'id-"2"', "env:1a2b3c4d", None)
    assert stream.getvalue() == b""  # not yet: lines wait for the batch
    log.flush()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first == {
        "time": first["time"],
        "level": "info",
        "event": "request",
        "request_id": "id-1",
        "method": "GET",
        "route": "/healthz",
        "status": 200,
        "duration_ms": 0.412,
        "client": "127.0.0.1",
    }
    assert second["request_id"] == 'id-"2"' and second["key_id"] == "env:1a2b3c4d"


@pytest.mark.anyio
async def test_a_closed_stream_does_not_stop_the_service() -> None:
    stream = io.BytesIO()
    log = RequestLog(stream, as_json=False)
    log.request("GET", "/healthz", 200, 0.001, "id-1", None, None)
    stream.close()
    log.flush()  # nothing raised


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://user:secret@host:5432/db", "postgresql://user:***@host:5432/db"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("sqlite:///milestones.sqlite3", "sqlite:///milestones.sqlite3"),
        # libpq and redis-py both take the password in the query string too.
        (
            "postgresql://user@host/db?password=secret&sslmode=require",
            "postgresql://user@host/db?password=***&sslmode=require",
        ),
        ("postgresql://h/db?sslmode=require&sslpassword=secret", "postgresql://h/db?sslmode=require&sslpassword=***"),
        ("redis://:secret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://cache:6379/0?password=secret", "redis://cache:6379/0?password=***"),
        ("unix:///run/redis.sock?db=0&Password=secret", "unix:///run/redis.sock?db=0&Password=***"),
        ("rediss://cache/0?token=secret", "rediss://cache/0?token=***"),
        ("postgresql://user:p@ss@host/db", "postgresql://user:***@host/db"),
        # Within a sentence (a library's message quoting the URL), every URL in it.
        (
            "cannot reach redis://:a@one/0 nor postgresql://u@two/db?password=b now",
            "cannot reach redis://:***@one/0 nor postgresql://u@two/db?password=*** now",
        ),
        ("no URL at all: password=secret", "no URL at all: password=secret"),
    ],
)
def test_printed_urls_hide_passwords(url: str, shown: str) -> None:
    assert redacted(url) == shown


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_log_lines_hide_the_passwords_of_urls_in_the_event_its_fields_and_its_error(
    formatter: logging.Formatter,
) -> None:
    made = record("cannot reach redis://:first@cache/0", database="postgresql://u@db/x?password=second")
    try:
        raise ConnectionError("refused by postgresql://u:third@db/x")
    except ConnectionError:
        made.exc_info = sys.exc_info()
    line = formatter.format(made)
    assert not any(secret in line for secret in ("first", "second", "third")), line
    assert "redis://:***@cache/0" in line
