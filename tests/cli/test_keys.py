"""`milestones keys` and the access-key behaviour of `milestones serve`, as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from milestones.access.keys import digest_of
from milestones.settings import Settings
from tests.cli.conftest import in_a_process, run_cli
from tests.deployment import BACKENDS_AND_LAYOUTS, BEHIND_HAPROXY, Balanced, serving_api
from tests.factories import summary_body
from tests.served import clean_environment, milestones_command, serving

BASE = "/api/v1/milestones"


def created_id(stderr: str) -> str:
    found = re.search(r"Created (db:[0-9a-f]{8})", stderr)
    assert found, stderr
    return found.group(1)


def test_create_prints_the_key_once_and_stores_only_its_digest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    assert run_cli(monkeypatch, settings, "keys", "create", "--name", "importer", "--scope", "write") == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    assert secret.startswith("ms_") and "\n" not in secret
    key_id = created_id(err)
    assert key_id == "db:" + digest_of(secret)[:8]
    assert "only time" in err

    assert run_cli(monkeypatch, settings, "keys", "list") == 0
    listed, _ = capsys.readouterr()
    header, line = listed.splitlines()
    assert header.split("\t") == ["id", "scope", "created", "state", "name"]
    assert line.split("\t")[:2] == [key_id, "write"]
    assert "live" in listed and "importer" in listed
    assert secret not in listed


def test_revoke_marks_the_key_and_list_shows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    run_cli(monkeypatch, settings, "keys", "create", "--name", "old", "--scope", "admin")
    key_id = created_id(capsys.readouterr().err)
    assert run_cli(monkeypatch, settings, "keys", "revoke", key_id) == 0
    assert "Revoked" in capsys.readouterr().out
    run_cli(monkeypatch, settings, "keys", "list")
    assert "\trevoked 20" in capsys.readouterr().out
    assert run_cli(monkeypatch, settings, "keys", "revoke", key_id) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert re.fullmatch(rf"milestones: {key_id} \('old'\) was already revoked at 20\S+\n", err)


def test_env_keys_are_listed_but_revoked_only_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    env = {"MILESTONES_API_KEYS": "the-env-secret:read"}
    env_id = "env:" + digest_of("the-env-secret")[:8]
    assert run_cli(monkeypatch, settings, "keys", "list", **env) == 0
    listed = capsys.readouterr().out
    assert listed.splitlines()[1].startswith(f"{env_id}\tread\t")
    assert "the-env-secret" not in listed
    assert run_cli(monkeypatch, settings, "keys", "revoke", env_id, **env) == 1
    assert capsys.readouterr().err.strip() == f"milestones: {env_id} comes from MILESTONES_API_KEYS; remove it there"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["keys", "revoke", "db:nothing"], 1, "milestones: no stored key has the id 'db:nothing'"),
        (["keys", "create", "--name", " ", "--scope", "read"], 2, "milestones: --name must be 1 to 200 characters"),
        (["keys", "create", "--name", "x", "--scope", "owner"], 2, "invalid choice: 'owner'"),
    ],
)
def test_mistakes_are_one_line_and_a_non_zero_exit(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    args: list[str],
    code: int,
    message: str,
) -> None:
    assert run_cli(monkeypatch, settings, *args) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_bad_key_list_is_one_line_that_never_repeats_the_key(settings: Settings) -> None:
    env = clean_environment(MILESTONES_DATABASE_URL=settings.database_url, MILESTONES_API_KEYS="good,with space")
    result = subprocess.run(milestones_command("keys", "list"), env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "milestones: invalid configuration: MILESTONES_API_KEYS: entry 2: a key may hold letters, digits and "
        "-._~+/ only"
    )
    assert "with space" not in result.stderr


@pytest.mark.parametrize(("settings", "layout"), BACKENDS_AND_LAYOUTS, indirect=["settings"])
def test_a_revoked_key_stops_working_in_another_process_within_a_second(
    settings: Settings, layout: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The server runs in its own process (or three hosts behind HAProxy do); the key is created and revoked
    by commands, as an operator would. Every host has accepted the key before it is revoked, and none does
    after."""
    env = clean_environment(MILESTONES_DATABASE_URL=settings.database_url)

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(milestones_command(*args), env=env, capture_output=True, text=True, check=True)

    created = command("keys", "create", "--name", "importer", "--scope", "write")
    secret, key_id = created.stdout.strip(), created_id(created.stderr)
    headers = {"Authorization": f"Bearer {secret}"}
    redis_url = request.getfixturevalue("redis_server").url if layout == BEHIND_HAPROXY else None
    with serving_api(layout, settings.database_url, tmp_path, redis_url=redis_url) as server:
        for n in range(3):  # through the balancer, one on each host in turn
            accepted = httpx.post(server.base_url + BASE, json=summary_body(f"before-{n}"), headers=headers)
            assert accepted.status_code == 201, accepted.text
        command("keys", "revoke", key_id)
        time.sleep(1.0)
        for n in range(3):
            refused = httpx.post(server.base_url + BASE, json=summary_body(f"after-{n}"), headers=headers)
            assert refused.status_code == 401, refused.text
        for n in range(3):
            assert httpx.get(server.base_url + BASE, params={"mentor_id": f"after-{n}"}).json()["data"] == []
        if isinstance(server, Balanced):
            assert server.requests_served(BASE) == [3, 3, 3]  # on each host: a POST before, one after, a GET
        assert "no access keys are configured" not in server.log_text()


def test_serve_warns_in_one_line_when_writes_are_open_to_anyone(settings: Settings, tmp_path: Path) -> None:
    env = clean_environment(MILESTONES_DATABASE_URL=settings.database_url)
    with serving(cwd=tmp_path, env=env) as server:
        warnings = [line for line in server.log_text().splitlines() if "warning" in line]
    assert [json.loads(line) for line in warnings] == [
        {
            "time": json.loads(warnings[0])["time"],
            "level": "warning",
            "event": "WARNING: no access keys are configured, so anyone who can reach this port can write; "
            "set MILESTONES_API_KEYS or run `milestones keys create` before exposing it",
        }
    ]
    with serving(cwd=tmp_path, env={**env, "MILESTONES_API_KEYS": "some-key"}) as server:
        assert "no access keys are configured" not in server.log_text()


@pytest.mark.parametrize("args", [["keys", "list"], ["keys", "revoke", "db:12345678"]])
def test_listing_or_revoking_in_a_database_that_is_not_there_says_so(tmp_path: Path, args: list[str]) -> None:
    ran = in_a_process(*args, cwd=tmp_path)
    assert ran.status == 2
    assert ran.err_lines[0].startswith("milestones: no database at sqlite:///milestones.sqlite3: ")
    assert len(ran.err_lines) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_first_key_creates_the_database(tmp_path: Path) -> None:
    ran = in_a_process("keys", "create", "--name", "first", "--scope", "admin", cwd=tmp_path)
    assert ran.status == 0, ran.err
    assert (tmp_path / "milestones.sqlite3").exists()
