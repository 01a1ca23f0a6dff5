"""`milestones page-link` prints a link the service opens, and `serve` will not start when reads need a key
but links cannot be signed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from milestones.access.page_links import _UNITS, link_opens, parse_ttl
from milestones.settings import Settings
from tests.cli.conftest import in_a_process, run_cli

SECRET = "a-page-link-secret-of-some-length"


def test_page_link_prints_a_link_that_opens_the_page_for_the_ttl(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_settings: Settings
) -> None:
    before = datetime.now(UTC)
    status = run_cli(
        monkeypatch,
        sqlite_settings,
        "page-link",
        "mentor_001",
        "--ttl",
        "7d",
        "--base-url",
        "https://ms.example.org/",
        MILESTONES_PAGE_LINK_SECRET=SECRET,
    )
    out, err = capsys.readouterr()
    assert status == 0
    link = urlsplit(out.strip())
    assert (link.scheme, link.netloc, link.path) == ("https", "ms.example.org", "/mentors/mentor_001")
    query = {name: values[0] for name, values in parse_qs(link.query).items()}
    expires = datetime.fromtimestamp(int(query["expires"]), UTC)
    assert timedelta(days=7) - timedelta(seconds=5) < expires - before <= timedelta(days=7) + timedelta(seconds=5)
    assert link_opens(SECRET, "mentor_001", query["expires"], query["signature"], before)
    assert not link_opens(SECRET, "mentor_001", query["expires"], query["signature"], before + timedelta(days=8))
    assert "valid until" in err


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["mentor_001", "--ttl", "7x"], {"MILESTONES_PAGE_LINK_SECRET": SECRET}, "is not a duration"),
        (["mentor_001", "--ttl", "400d"], {"MILESTONES_PAGE_LINK_SECRET": SECRET}, "longer than a year"),
        (["not an id"], {"MILESTONES_PAGE_LINK_SECRET": SECRET}, "mentor"),
        (["mentor_001"], {}, "set MILESTONES_PAGE_LINK_SECRET"),
        (["mentor_001"], {"MILESTONES_PAGE_LINK_SECRET": "short"}, "MILESTONES_PAGE_LINK_SECRET"),
        (["mentor_001", "--base-url", "ms.example.org"], {"MILESTONES_PAGE_LINK_SECRET": SECRET}, "--base-url"),
    ],
)
def test_page_link_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sqlite_settings: Settings,
    args: list[str],
    env: dict[str, str],
    says: str,
) -> None:
    assert run_cli(monkeypatch, sqlite_settings, "page-link", *args, **env) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert says in err and err.count("\n") == 1 and "Traceback" not in err


def test_serve_refuses_to_start_when_reads_need_a_key_and_links_cannot_be_signed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_settings: Settings
) -> None:
    status = run_cli(monkeypatch, sqlite_settings, "serve", MILESTONES_READ_REQUIRES_KEY="true")
    _, err = capsys.readouterr()
    assert status == 2
    assert err.count("\n") == 1 and "MILESTONES_PAGE_LINK_SECRET" in err


def test_ttl_help_names_every_unit_it_takes(tmp_path: Path) -> None:
    shown = " ".join(in_a_process("page-link", "--help", cwd=tmp_path).out.split())
    for unit, name in _UNITS.items():
        assert f"{unit} ({name})" in shown
        assert parse_ttl(f"2{unit}") == timedelta(**{name: 2})
