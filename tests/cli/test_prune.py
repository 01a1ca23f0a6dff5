"""`milestones prune`: events and history older than their retentions go; without a history retention it says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from milestones.settings import Settings
from tests.cli.conftest import Command


def test_prune_prunes_events_and_keeps_history_without_a_retention(database: Settings, milestones: Command) -> None:
    ran = milestones("prune")
    assert (ran.status, ran.out) == (
        0,
        "removed 0 events older than 30 days\n"
        "history is kept: set MILESTONES_HISTORY_RETENTION_DAYS or give --days to prune it\n",
    )


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
    assert (ran.status, ran.out) == (
        0,
        "removed 0 events older than 30 days\nremoved 0 history entries older than 30 days\n",
    )
    monkeypatch.setenv("MILESTONES_EVENT_RETENTION_DAYS", "7")
    assert milestones("prune", "--days", "1").out == (
        "removed 0 events older than 7 days\nremoved 0 history entries older than 1 days\n"
    )
