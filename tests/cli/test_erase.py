"""`milestones erase`: confirmation, counts, and one-line refusals."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from milestones.settings import Settings
from tests.cli.conftest import Command
from tests.database_contents import rows_as_text

LINE = (
    '{"mentor_id":"%s","period":{"year":2025,"start_date":"2025-01-01","end_date":"2025-12-31"},'
    '"summary":{"total_hours":120,"unique_contacts_helped":30,"activity_count":40}}\n'
)


def contents_of(settings: Settings) -> dict[str, list[str]]:
    return asyncio.run(rows_as_text(settings))


@pytest.fixture
def stored(database: Settings, milestones: Command, tmp_path: Path) -> Settings:
    lines = tmp_path / "summaries.jsonl"
    lines.write_text(LINE % "erase.me-42" + LINE % "keep.me-7")
    assert milestones("detect", str(lines)).status == 0
    return database


def test_erase_with_yes_removes_the_mentor_and_says_what_went(stored: Settings, milestones: Command) -> None:
    ran = milestones("erase", "erase.me-42", "--yes")
    assert ran.status == 0, ran.err
    assert ran.out.startswith("erased 'erase.me-42': 1 period, ")
    assert (
        "1 history entry, 1 event, 0 stored idempotent answers, 0 records of the mentor's name, 0 webhook deliveries, "
        "0 credentials' places in the status list removed; history names the mentor hmac-sha256:" in ran.out
    )
    contents = contents_of(stored)
    assert [row for rows in contents.values() for row in rows if "erase.me-42" in row] == []
    assert any("keep.me-7" in row for row in contents["periods"])


def test_not_on_a_terminal_erase_needs_yes(stored: Settings, milestones: Command) -> None:
    before = contents_of(stored)
    ran = milestones("erase", "erase.me-42")
    assert (ran.status, ran.out) == (2, "")
    assert ran.err_lines == ["milestones: erasing cannot be undone: confirm with --yes when not on a terminal"]
    assert contents_of(stored) == before


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "status"), [("y\n", 0), ("yes\n", 0), ("n\n", 1), ("\n", 1)])
def test_on_a_terminal_erase_asks_first(
    stored: Settings, milestones: Command, monkeypatch: pytest.MonkeyPatch, answer: str, status: int
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    ran = milestones("erase", "erase.me-42")
    assert ran.status == status
    assert "Erase everything stored about 'erase.me-42'? This cannot be undone. [y/N]" in ran.out
    remaining = [row for rows in (contents_of(stored)).values() for row in rows if "erase.me-42" in row]
    assert (remaining == []) == (status == 0)
    if status:
        assert ran.err_lines == ["nothing erased"]


def test_an_unknown_mentor_is_one_line(stored: Settings, milestones: Command) -> None:
    ran = milestones("erase", "nobody-here", "--yes")
    assert (ran.status, ran.out) == (1, "")
    assert ran.err_lines == ["milestones: nothing is stored about 'nobody-here'; nothing erased"]


def test_a_malformed_mentor_id_is_one_line(database: Settings, milestones: Command) -> None:
    with pytest.raises(SystemExit) as exit:
        milestones("erase", "a b", "--yes")
    assert exit.value.code == 2
