"""The command line's file formats: summaries in (JSON Lines, CSV), milestones and summaries out (JSON Lines, CSV)."""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

import msgspec

from milestones.domain.evidence import contact_days, identifiers
from milestones.domain.rows import MilestoneRow, PeriodRow, time_from_text

# A CSV of summaries: one POST body per row, under this header (any order). Lists that later versions add
# to the body travel in JSON Lines only.
SUMMARY_COLUMNS = (
    "mentor_id",
    "year",
    "start_date",
    "end_date",
    "total_hours",
    "unique_contacts_helped",
    "activity_count",
)
# Where each column goes in the POST body.
_PLACES = {
    "mentor_id": None,
    "year": "period",
    "start_date": "period",
    "end_date": "period",
    "total_hours": "summary",
    "unique_contacts_helped": "summary",
    "activity_count": "summary",
}
# A cell written as a JSON number goes into the body as that number, exactly as written; anything else
# goes in as text, which validation then refuses in the API's words ("must be a whole number ...").
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# Enough of a file to tell text from an image or an archive.
TEXT_CHECK_BYTES = 8192
MILESTONE_COLUMNS = (
    "id",
    "mentor_id",
    "key",
    "name",
    "type",
    "status",
    "threshold",
    "current_value",
    "achieved_value",
    "achieved_at",
    "set_by_person",
    "revoked_at",
    "revocation_reason",
    "supported",
)


class FileNotUsable(ValueError):
    """An input that cannot be read at all (not text, a CSV without the right header); stops the run."""


def refuse_unless_text(head: bytes) -> None:
    """Stop at once on a file that is not UTF-8 text (an image, an archive, UTF-16), judged by its first block."""
    if b"\0" in head:
        raise FileNotUsable("is not a text file (it holds NUL bytes); expected JSON Lines or CSV")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a character cut at the end is fine
    except UnicodeDecodeError as exc:
        raise FileNotUsable(f"is not UTF-8 text (byte {exc.start + 1} is not); expected JSON Lines or CSV") from exc


def csv_bodies(text: IO[str]) -> Iterator[tuple[int, bytes]]:
    """The rows of a summaries CSV as numbered POST bodies; numbers count the file's lines from 1, the header
    included (a row that spans lines, in quotes, is numbered by its last line)."""
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    columns = [name.strip() for name in header]
    unknown = [name for name in columns if name not in _PLACES]
    missing = [name for name in SUMMARY_COLUMNS if name not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        problems = []
        if missing:
            problems.append("lacks " + ", ".join(missing))
        if unknown:
            problems.append("has unknown columns " + ", ".join(repr(name) for name in unknown))
        if len(set(columns)) != len(columns):
            problems.append("names a column twice")
        raise FileNotUsable(
            f"line {reader.line_num}: the CSV header {' and '.join(problems)}; it must name the columns "
            + ",".join(SUMMARY_COLUMNS)
        )
    for cells in reader:
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line
        yield reader.line_num, csv_body(columns, cells)


def csv_body(columns: list[str], cells: list[str]) -> bytes:
    """A POST body from a CSV row. Missing cells leave their fields out and surplus cells become fields of
    their own, so that validation names them: "summary.activity_count: is required"."""
    top: list[str] = []
    nested: dict[str, list[str]] = {"period": [], "summary": []}
    for name, cell in zip(columns, cells, strict=False):
        place = _PLACES[name]
        (top if place is None else nested[place]).append(f"{json.dumps(name)}:{_json_value(cell)}")
    for place, fields in nested.items():
        if fields:
            top.append(f'"{place}":{{{",".join(fields)}}}')
    for index in range(len(columns), len(cells)):
        top.append(f'"column {index + 1}":{_json_value(cells[index])}')
    return f"{{{','.join(top)}}}".encode()


def _json_value(cell: str) -> str:
    cell = cell.strip()
    return cell if _JSON_NUMBER.fullmatch(cell) else json.dumps(cell)


def csv_row_of_body(body: bytes) -> list[str]:
    """The CSV row a POST body came from (csv_body backwards), for writing rejected rows back as CSV."""
    try:
        document = json.loads(body)
    except ValueError:
        return [body.decode("utf-8", "replace")]
    if not isinstance(document, dict):
        return [body.decode("utf-8", "replace")]
    flat: dict[str, Any] = {}
    for key, value in document.items():
        flat.update(value if key in ("period", "summary") and isinstance(value, dict) else {key: value})
    row = [_cell(flat.pop(name, "")) for name in SUMMARY_COLUMNS]
    return row + [_cell(value) for value in flat.values()]


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# --- out ---------------------------------------------------------------------------------------------------


def number(centi: int) -> int | float:
    """A stored value in hundredths as the API writes it: 300, 312.5, 312.57 (the float nearest to a value
    of two decimals prints as those two decimals)."""
    return centi // 100 if centi % 100 == 0 else centi / 100


def period_body(row: PeriodRow) -> dict[str, Any]:
    """A stored period as the POST body that stores it again, its evidence included (see `activities_of`)."""
    body: dict[str, Any] = {
        "mentor_id": row.mentor_id,
        "period": {"year": row.year, "start_date": row.start_date, "end_date": row.end_date},
        "summary": {
            "total_hours": number(row.total_hours_centi),
            "unique_contacts_helped": row.unique_contacts_helped,
            "activity_count": row.activity_count,
        },
    }
    if row.contacts is not None:
        body["contacts"] = identifiers(row.contacts)
    if row.daily:
        body["activities"] = activities_of(row)
    return body


def activities_of(row: PeriodRow) -> list[dict[str, Any]]:
    """Activities that store the same evidence again: the service keeps one total per day, and the first day an
    activity named each contact, so each day's activities are rebuilt as that many entries, the day's hours on the
    first, each contact first named that day on one of them (there were at least as many activities as such
    contacts that day)."""
    first_named: dict[str, list[str]] = {}
    for contact, day in (contact_days(row.contacts) if row.contacts else {}).items():
        if day is not None:
            first_named.setdefault(day, []).append(contact)
    found: list[dict[str, Any]] = []
    for line in (row.daily or "").split("\n"):
        day, hours, count = line.split(" ")
        named = first_named.get(day, [])
        for index in range(int(count)):
            entry: dict[str, Any] = {"date": day, "hours": number(int(hours)) if index == 0 else 0}
            if index < len(named):
                entry["contact"] = named[index]
            found.append(entry)
    return found


def period_cells(row: PeriodRow) -> list[Any]:
    """A stored period as a row under SUMMARY_COLUMNS."""
    return [
        row.mentor_id,
        row.year,
        row.start_date,
        row.end_date,
        number(row.total_hours_centi),
        row.unique_contacts_helped,
        row.activity_count,
    ]


def milestone_record(row: MilestoneRow) -> dict[str, Any]:
    """A stored milestone under MILESTONE_COLUMNS, values in the API's units; absent values are None."""
    return {
        "id": row.id,
        "mentor_id": row.mentor_id,
        "key": row.definition_key,
        "name": row.name,
        "type": row.type,
        "status": row.status,
        "threshold": number(row.threshold_centi),
        "current_value": number(row.current_centi),
        "achieved_value": None if row.achieved_centi is None else number(row.achieved_centi),
        "achieved_at": None if row.achieved_at is None else _moment(row.achieved_at),
        "set_by_person": bool(row.set_by_person),
        "revoked_at": None if row.revoked_at is None else _moment(row.revoked_at),
        "revocation_reason": row.revocation_reason,
        "supported": bool(row.supported),
    }


def _moment(text: str) -> str:
    """A stored time as the API writes it: 2025-12-31T23:59:59Z."""
    return time_from_text(text).isoformat().replace("+00:00", "Z")


class Writer:
    """Writes records as JSON Lines or as CSV under a header, a page at a time."""

    def __init__(self, out: IO[str], file_format: str, columns: tuple[str, ...]) -> None:
        self._out = out
        self._csv = csv.writer(out, lineterminator="\n") if file_format == "csv" else None
        self._columns = columns
        self._encode = msgspec.json.Encoder().encode
        if self._csv is not None:
            self._csv.writerow(columns)

    def records(self, records: Iterable[dict[str, Any]]) -> None:
        if self._csv is None:
            self._out.write("".join(self._encode(record).decode() + "\n" for record in records))
        else:
            self._csv.writerows([_csv_text(record[c]) for c in self._columns] for record in records)

    def rows(self, rows: Iterable[list[Any]]) -> None:
        """CSV rows already in the columns' order."""
        assert self._csv is not None
        self._csv.writerows([_csv_text(cell) for cell in row] for row in rows)


def _csv_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
