"""The command line's file formats: CSV rows as POST bodies and back, the text check, exported values."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest

from milestones.bulk.formats import (
    SUMMARY_COLUMNS,
    FileNotUsable,
    csv_bodies,
    csv_body,
    csv_row_of_body,
    number,
    period_body,
    period_cells,
    refuse_unless_text,
)
from milestones.contract import RecordSummaryIn, decode_strict
from milestones.domain.rows import PeriodRow, period_to_row
from tests.factories import period

COLUMNS = list(SUMMARY_COLUMNS)


def test_a_csv_row_is_the_post_body_with_its_numbers_as_written() -> None:
    body = csv_body(COLUMNS, ["m1", "2025", "2025-01-01", "2025-12-31", " 312.57 ", "47", "1e2"])
    assert json.loads(body) == {
        "mentor_id": "m1",
        "period": {"year": 2025, "start_date": "2025-01-01", "end_date": "2025-12-31"},
        "summary": {"total_hours": 312.57, "unique_contacts_helped": 47, "activity_count": 100.0},
    }
    assert b"312.57" in body  # verbatim, never through a float's text
    summary = decode_strict(body, RecordSummaryIn)
    assert summary.summary.activity_count == 100


@pytest.mark.parametrize("cell", ["047", "1,5", "+3", "NaN", "Infinity", "0x10", "", "٣"])
def test_cells_that_are_not_json_numbers_go_in_as_text(cell: str) -> None:
    body = json.loads(csv_body(COLUMNS, ["m", "2025", "2025-01-01", "2025-12-31", "1", "2", cell]))
    assert body["summary"]["activity_count"] == cell


def test_columns_may_come_in_any_order_and_rows_go_back_to_csv() -> None:
    columns = list(reversed(SUMMARY_COLUMNS))
    cells = ["198", "47", "312.5", "2025-12-31", "2025-01-01", "2025", "m1"]
    body = csv_body(columns, cells)
    assert csv_row_of_body(body) == ["m1", "2025", "2025-01-01", "2025-12-31", "312.5", "47", "198"]
    assert csv_row_of_body(csv_body(COLUMNS, ["m1", "x"])) == ["m1", "x", "", "", "", "", ""]
    assert csv_row_of_body(csv_body(COLUMNS, [*cells, "extra"]))[-1] == "extra"


def test_csv_bodies_number_rows_by_their_last_line_and_skip_blank_ones() -> None:
    text = f'{",".join(COLUMNS)}\n\na,2025,2025-01-01,2025-12-31,1,1,1\n"b\nc",2025,2025-01-01,2025-12-31,1,1,1\n'
    assert [number for number, _ in csv_bodies(io.StringIO(text))] == [3, 5]
    assert list(csv_bodies(io.StringIO(""))) == []


def test_a_csv_header_must_name_every_column_once() -> None:
    with pytest.raises(FileNotUsable, match="lacks activity_count; it must name"):
        list(csv_bodies(io.StringIO(",".join(COLUMNS[:-1]) + "\n")))
    with pytest.raises(FileNotUsable, match="names a column twice"):
        list(csv_bodies(io.StringIO(",".join([*COLUMNS, "year"]) + "\n")))


def test_text_is_told_from_binary_by_its_first_block() -> None:
    refuse_unless_text("naïve, café\n".encode())
    refuse_unless_text("é".encode()[:1])  # a character cut at the end of the block is still text
    with pytest.raises(FileNotUsable, match="NUL"):
        refuse_unless_text(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(FileNotUsable, match="byte 3 is not"):
        refuse_unless_text(b"ab\xff")


def test_stored_values_are_written_as_the_api_writes_them() -> None:
    assert [number(c) for c in (0, 30000, 31250, 31257, 1)] == [0, 300, 312.5, 312.57, 0.01]
    assert json.dumps([number(c) for c in (31257, 1, 10)]) == "[312.57, 0.01, 0.1]"
    row = PeriodRow("m1", "2025-01-01", "2025-12-31", 2025, 31257, 47, 198)
    assert period_body(row) == {
        "mentor_id": "m1",
        "period": {"year": 2025, "start_date": "2025-01-01", "end_date": "2025-12-31"},
        "summary": {"total_hours": 312.57, "unique_contacts_helped": 47, "activity_count": 198},
    }
    assert period_cells(row) == ["m1", 2025, "2025-01-01", "2025-12-31", 312.57, 47, 198]


def test_a_period_with_evidence_exports_as_the_body_that_stores_it_again() -> None:
    stored = period_to_row(
        "m",
        period(
            date(2025, 1, 1),
            identifiers=("a", "b", "c"),
            days=((date(2025, 3, 2), "1.5", "a"), (date(2025, 3, 2), "0.25", "b"), (date(2025, 4, 1), "2", None)),
        ),
    )
    body = period_body(stored)
    assert body["contacts"] == ["a", "b", "c"]
    assert len(body["activities"]) == 3
    again = decode_strict(json.dumps(body).encode(), RecordSummaryIn)
    assert period_to_row("m", again.to_period()) == stored
    plain = period_to_row("m", period(date(2025, 1, 1), hours="3", contacts=2, activities=1))
    assert set(period_body(plain)) == {"mentor_id", "period", "summary"}
