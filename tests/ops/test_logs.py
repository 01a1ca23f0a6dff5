"""Log lines: JSON or text, each carrying the id of the request it belongs to; request lines in batches."""

from __future__ import annotations

import io
import json
import logging

import pytest

from milestones.ops.logs import REQUEST_ID, JsonFormatter, RequestLog, TextFormatter, log_format


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
