"""`milestones prune`: history older than the retention goes, and without a retention it says why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from milestones.settings import Settings
from tests.cli.conftest import Command


def test_prune_needs_a_retention(database: Settings, milestones: Command) -> None:
    ran = milestones("prune")
    assert ran.status == 2
    assert ran.err_lines == [
        "milestones: set MILESTONES_HISTORY_RETENTION_DAYS or give --days: without either, history is kept"
    ]


def test_prune_keeps_recent_history(
    database: Settings, milestones: Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = tmp_path / "summaries.jsonl"
    lines.write_text(
        '{"mentor_id":"m1","period":{"year":2025,"start_date":"2025-01-01","end_date":"2025-12-31"},'
        '"summary":{"total_hours":20,"unique_contacts_helped":3,"activity_count":4}}\n'
    )
    assert milestones("detect", str(lines)).status == 0
    monkeypatch.setenv("MILESTONES_HISTORY_RETENTION_DAYS", "30")
    ran = milestones("prune")
    assert (ran.status, ran.out) == (0, "removed 0 history entries older than 30 days\n")
    assert milestones("prune", "--days", "1").out == "removed 0 history entries older than 1 days\n"
