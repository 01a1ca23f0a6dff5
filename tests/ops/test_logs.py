"""Log lines: JSON or text, each carrying the id of the request it belongs to; request lines in batches."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from milestones.ops.logs import (
    LIBRARY_LOGGERS,
    LOGGER,
    QUIET_LIBRARY_LOGGERS,
    REQUEST_ID,
    JsonFormatter,
    OncePerOutage,
    RequestLog,
    TextFormatter,
    configure_logging,
    log_format,
    redacted,
)


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


@pytest.fixture
def configured_loggers() -> Iterator[None]:
    """configure_logging for one test, each logger it touches put back as it was afterwards."""
    names = (LOGGER, *LIBRARY_LOGGERS, *QUIET_LIBRARY_LOGGERS)
    kept = {
        name: (logging.getLogger(name).handlers, logging.getLogger(name).level, logging.getLogger(name).propagate)
        for name in names
    }
    try:
        yield
    finally:
        for name, (handlers, level, propagate) in kept.items():
            logger = logging.getLogger(name)
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)


@pytest.mark.usefixtures("configured_loggers")
def test_asyncpg_and_alembic_warnings_are_one_json_line_with_the_traceback_inside(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "info")
    try:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
    except ConnectionRefusedError:
        logging.getLogger("asyncpg.pool").warning(
            "Failed to restore the pool connection floor; retrying", exc_info=True
        )
    logging.getLogger("alembic.runtime.migration").info("Context impl PostgresqlImpl.")  # below Alembic's level
    logging.getLogger("alembic.runtime.migration").warning("a migration's warning")
    logging.getLogger("asyncio").error("Resetting connection with an active transaction\nsecond line")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    pool, alembic, loop = (json.loads(line) for line in lines)
    assert (pool["level"], pool["event"]) == ("warning", "Failed to restore the pool connection floor; retrying")
    assert pool["error"].startswith("Traceback (most recent call last):")
    assert "ConnectionRefusedError" in pool["error"]
    assert alembic["event"] == "a migration's warning"
    assert loop["event"] == "Resetting connection with an active transaction\nsecond line"


def test_once_per_outage_keeps_the_first_warning_of_each_outage() -> None:
    retrying = OncePerOutage("Failed to restore")
    logger = logging.getLogger("tests.once-per-outage")
    logger.propagate = False
    kept: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record.getMessage())

    logger.handlers = [Keep()]
    logger.addFilter(retrying)
    try:
        for _ in range(5):
            logger.warning("Failed to restore the pool connection floor; retrying")
        logger.warning("something else")
        retrying.over()
        logger.warning("Failed to restore the pool connection floor; retrying")
        logger.warning("Failed to restore the pool connection floor; retrying")
    finally:
        logger.removeFilter(retrying)
    said = "Failed to restore the pool connection floor; retrying (said once until it reconnects)"
    assert kept == [said, "something else", said]
    assert retrying.dropped == 5
