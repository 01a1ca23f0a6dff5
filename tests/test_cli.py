"""The `milestones` command as a user runs it: migrate, and serve a real uvicorn server."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from milestones.cli import redacted
from tests.factories import summary_body
from tests.served import clean_environment, milestones_command, serving

POSTGRES_URL = os.environ.get("MILESTONES_TEST_POSTGRES_URL")


@pytest.fixture
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """`milestones serve` with the given extra arguments, from an empty directory; yields its base URL."""
    extra: list[str] = getattr(request, "param", [])
    env = clean_environment()
    if "--postgres" in extra:
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL tests need MILESTONES_TEST_POSTGRES_URL")
        env["MILESTONES_DATABASE_URL"] = POSTGRES_URL
        extra = [a for a in extra if a != "--postgres"]
    with serving(*extra, cwd=tmp_path, env=env) as server:
        yield server.url


def test_migrate_creates_the_configured_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'm.sqlite3'}"
    result = subprocess.run(
        milestones_command("migrate"),
        env=clean_environment(MILESTONES_DATABASE_URL=url),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "db" / "m.sqlite3").exists()


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
    "served", [[], ["--workers", "2"], pytest.param(["--postgres"], marks=pytest.mark.postgres)], indirect=True
)
def test_serve_answers_over_real_http(served: str, tmp_path: Path) -> None:
    mentor = f"cli-{time.time_ns()}"
    created = httpx.post(f"{served}/api/v1/milestones", json=summary_body(mentor))
    assert created.status_code == 201
    first = created.json()["data"][0]
    assert httpx.get(f"{served}/api/v1/milestones/{first['id']}").json() == first
    badge = httpx.get(served + first["badge_image_url"])
    assert badge.content.startswith(b"\x89PNG")
    deleted = httpx.delete(f"{served}/api/v1/milestones/{first['id']}")
    assert deleted.json() == {"deleted": True, "id": first["id"]}


def test_serve_with_no_configuration_creates_its_sqlite_file(served: str, tmp_path: Path) -> None:
    assert httpx.get(f"{served}/healthz").json() == {"status": "ok"}
    assert (tmp_path / "milestones.sqlite3").exists()


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
