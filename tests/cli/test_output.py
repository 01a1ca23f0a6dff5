"""What every command shares in what it prints."""

from __future__ import annotations

import pytest

from milestones.cli.output import redacted


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://user:secret@host:5432/db", "postgresql://user:***@host:5432/db"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("sqlite:///milestones.sqlite3", "sqlite:///milestones.sqlite3"),
    ],
)
def test_printed_urls_hide_passwords(url: str, shown: str) -> None:
    assert redacted(url) == shown
