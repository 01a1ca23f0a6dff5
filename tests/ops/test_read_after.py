"""The Milestones-Read-After position: PostgreSQL's pg_lsn text, read and written back the same."""

from __future__ import annotations

import pytest

from milestones.ops.read_after import ReadSession, parse_position, position_text


@pytest.mark.parametrize("text", ["0/0", "0/3000148", "16/B374D848", "FFFFFFFF/FFFFFFFF"])
def test_a_position_reads_back_as_written(text: str) -> None:
    position = parse_position(text.encode())
    assert position is not None
    assert position_text(position) == text


def test_positions_order_as_the_log_does() -> None:
    assert parse_position(b"1/0") > parse_position(b"0/FFFFFFFF")  # type: ignore[operator]
    assert parse_position(b"0/a") == parse_position(b"0/A") == 10


@pytest.mark.parametrize("text", [b"", b"0", b"0/", b"/1", b"1/2/3", b"G/0", b"123456789/0", b"-1/0", b"0/1 x"])
def test_anything_else_is_no_position(text: bytes) -> None:
    assert parse_position(text) is None


def test_reads_after_a_write_wait_for_the_later_of_what_was_seen_and_written() -> None:
    session = ReadSession(after=100)
    assert session.at_least == 100
    session.wrote(50)
    assert session.at_least == 100
    session.wrote(300)
    session.wrote(200)
    assert (session.written, session.at_least) == (300, 300)
    assert ReadSession().at_least is None
