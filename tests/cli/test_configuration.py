"""A bad configuration or catalog stops a command with one line naming what is wrong."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import Command
from tests.served import clean_environment, milestones_command


def test_invalid_configuration_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        milestones_command("migrate"),
        env=clean_environment(MILESTONES_DATABASE_URL="mysql://nope"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    # One line, naming the variable and the rule, not the value given (it may hold a password).
    assert result.stderr.splitlines() == [
        "milestones: invalid configuration: MILESTONES_DATABASE_URL: "
        "must start with sqlite:/// (a file path) or postgresql://"
    ]


@pytest.mark.parametrize("command", ["serve", "detect"])
def test_a_catalog_with_a_fractional_count_is_refused_in_one_line(tmp_path: Path, command: str) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[[milestone]]\nkey = "c"\nname = "Half a contact"\ntype = "contacts_helped"\nthreshold = 0.5\n')
    args = ["serve", "--port", "1"] if command == "serve" else ["detect", "-"]
    result = subprocess.run(
        milestones_command(*args),
        env=clean_environment(
            MILESTONES_DATABASE_URL=f"sqlite:///{tmp_path / 'm.sqlite3'}", MILESTONES_CATALOG_PATH=str(catalog)
        ),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "contacts_helped threshold must be a whole number" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("MILESTONES_POSTGRES_POOL_SIZE", "lots", "must be a whole number from 1 to 200"),
        ("MILESTONES_WORKERS", "1.5", "must be a whole number from 1 to 64"),
        ("MILESTONES_MAX_BODY_BYTES", "5", "must be a whole number of 1,024 or more"),
        ("MILESTONES_BODY_TIMEOUT_SECONDS", "0", "must be a number above 0, at most 300"),
        ("MILESTONES_LOG_LEVEL", "loud", "must be critical, error, warning, info or debug"),
        ("MILESTONES_MIGRATE_ON_START", "maybe", "must be true or false"),
        ("MILESTONES_PAGE_LINK_SECRET", "short", "must be at least 16 characters"),
        ("MILESTONES_DATABASE_REPLICA_URLS", "mysql://replica/db", "must be postgresql:// URLs, separated by commas"),
        ("MILESTONES_REPLICA_MAX_LAG_SECONDS", "0", "must be a number above 0, at most 3,600"),
        (
            "MILESTONES_ROOT_PATH",
            "milestones",
            "must be empty or a path such as /milestones (segments of letters, digits and . _ ~ -)",
        ),
    ],
)
def test_settings_are_refused_in_plain_words(
    milestones: Command, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(variable, value)
    ran = milestones("migrate")
    assert (ran.status, ran.err_lines) == (2, [f"milestones: invalid configuration: {variable}: {reason}"])
