"""`milestones serve` as an operator meets it: its start-up line, a database that is not there, metrics
across workers, a path prefix, and a graceful stop with a request in flight."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from milestones import __version__
from milestones.settings import Settings
from milestones.storage import head_revision
from tests.factories import summary_body
from tests.served import clean_environment, free_port, milestones_command, serving

BASE = "/api/v1/milestones"
UNREACHABLE = "postgresql://postgres@127.0.0.1:{port}/nothing"


def events(log: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def test_version() -> None:
    result = subprocess.run(milestones_command("--version"), capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout.strip()) == (0, f"milestones {__version__}")


@pytest.fixture
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """`milestones serve` with the given extra arguments, from an empty directory; yields its base URL."""
    extra: list[str] = getattr(request, "param", [])
    env = clean_environment()
    if "--postgres" in extra:
        # The session's own migrated database, never the server's shared one: other checkouts may have migrated
        # that to a different head.
        env["MILESTONES_DATABASE_URL"] = request.getfixturevalue("postgres_database")
        extra = [a for a in extra if a != "--postgres"]
    with serving(*extra, cwd=tmp_path, env=env) as server:
        yield server.url


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


def test_start_up_names_version_address_database_and_schema(settings: Settings, tmp_path: Path) -> None:
    env = clean_environment(MILESTONES_DATABASE_URL=settings.database_url)
    with serving(cwd=tmp_path, env=env) as server:
        logged = events(server.log_text())
    started = next(e for e in logged if str(e["event"]).startswith("milestones "))
    assert started["version"] == __version__
    assert started["address"] == f"http://127.0.0.1:{server.port}"
    assert started["schema"] == head_revision()
    assert started["database"] == settings.database_url.replace("postgres@", "postgres@")  # no password to hide
    assert any(e["event"] == "worker started" for e in logged)


@pytest.mark.postgres
def test_start_up_hides_a_password_given_in_the_query_string(postgres_database: str, tmp_path: Path) -> None:
    """libpq takes `?password=` as well as `user:password@`; neither is ever printed."""
    env = clean_environment(MILESTONES_DATABASE_URL=f"{postgres_database}?password=hunter2")
    with serving(cwd=tmp_path, env=env) as server:
        text = server.log_text()
    started = next(e for e in events(text) if str(e["event"]).startswith("milestones "))
    assert started["database"] == f"{postgres_database}?password=***"
    assert "hunter2" not in text


@pytest.mark.parametrize("secret_in", ["user part", "query"])
def test_a_database_that_cannot_be_reached_is_named_without_its_password(tmp_path: Path, secret_in: str) -> None:
    url = UNREACHABLE.format(port=free_port())
    if secret_in == "user part":
        url = url.replace("postgres@", "postgres:hunter2@")
    else:
        url += "?password=hunter2&sslmode=disable"
    result = subprocess.run(
        milestones_command("serve", "--port", str(free_port()), "--wait-for-database", "0.5"),
        env=clean_environment(MILESTONES_DATABASE_URL=url, MILESTONES_LOG_FORMAT="json"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "hunter2" not in result.stderr, result.stderr
    assert url.replace("hunter2", "***") in result.stderr


def test_a_busy_port_is_one_line_and_exit_2_before_anything_is_announced(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            milestones_command("serve", "--port", str(port)),
            env=clean_environment(MILESTONES_LOG_FORMAT="json"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"milestones: cannot listen on 127.0.0.1:{port}: the port is in use (another `milestones serve`?); stop "
        "that, or choose another with --port"
    ]
    assert list(tmp_path.iterdir()) == []  # nor was a database created for it


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        (
            "192.0.2.1",
            "192.0.2.1 is not an address of this host; use 127.0.0.1, 0.0.0.0 (every address) or one of its own",
        ),
        ("no-such-host.invalid", "no-such-host.invalid is not an address, nor a name this host can look up"),
    ],
)
def test_an_address_not_on_this_host_is_one_line_and_exit_2(tmp_path: Path, host: str, reason: str) -> None:
    port = free_port()
    result = subprocess.run(
        milestones_command("serve", "--host", host, "--port", str(port)),
        env=clean_environment(MILESTONES_LOG_FORMAT="json"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [f"milestones: cannot listen on {host}:{port}: {reason}"],
    )


def test_serve_says_database_migrated_only_when_it_migrated(tmp_path: Path) -> None:
    env = clean_environment(MILESTONES_LOG_FORMAT="json")
    with serving(cwd=tmp_path, env=env) as server:
        first = [e["event"] for e in events(server.log_text())]
    with serving(cwd=tmp_path, env=env) as server:
        second = [e["event"] for e in events(server.log_text())]
    assert f"database migrated from no schema to schema {head_revision()}" in first
    assert not [e for e in second if "migrated" in str(e)]
    # Announced once bound, and before the workers start.
    assert str(second[0]).startswith(f"milestones {__version__} serving http://127.0.0.1:")


def test_a_database_that_cannot_be_reached_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    url = UNREACHABLE.format(port=free_port())
    result = subprocess.run(
        milestones_command("serve", "--port", str(free_port())),
        env=clean_environment(MILESTONES_DATABASE_URL=url, MILESTONES_LOG_FORMAT="json"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"milestones: the database {url} cannot be migrated: ")
    assert "Traceback" not in result.stderr


def test_wait_for_database_keeps_trying_then_says_why_in_one_line(tmp_path: Path) -> None:
    url = UNREACHABLE.format(port=free_port())
    started = time.monotonic()
    result = subprocess.run(
        milestones_command("serve", "--port", str(free_port()), "--wait-for-database", "2"),
        env=clean_environment(MILESTONES_DATABASE_URL=url, MILESTONES_LOG_FORMAT="json"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert time.monotonic() - started >= 2
    assert result.returncode == 2
    waiting, failed = result.stderr.splitlines()
    assert json.loads(waiting)["event"] == "waiting up to 2 s for the database"
    assert failed.startswith("milestones: the database ")


@pytest.mark.postgres
def test_wait_for_database_starts_once_the_database_is_there(postgres_database: str, tmp_path: Path) -> None:
    """A PostgreSQL database created a second and a half after serve starts: serve waits, then starts."""
    name = f"milestones_later_{uuid.uuid4().hex[:8]}"
    url = f"{postgres_database.rpartition('/')[0]}/{name}"
    port = free_port()
    process = subprocess.Popen(
        milestones_command("serve", "--port", str(port), "--wait-for-database", "30"),
        env=clean_environment(MILESTONES_DATABASE_URL=url),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.5)
        assert process.poll() is None, "serve gave up instead of waiting"
        admin(f'CREATE DATABASE "{name}"')
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("serve did not start once the database was there")
    finally:
        process.terminate()
        process.wait(timeout=30)
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(os.environ["MILESTONES_TEST_POSTGRES_URL"])
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def test_metrics_add_up_the_requests_of_every_worker(settings: Settings, tmp_path: Path) -> None:
    env = clean_environment(MILESTONES_DATABASE_URL=settings.database_url)
    with serving("--workers", "2", cwd=tmp_path, env=env) as server:
        answered_by: set[str] = set()
        for _ in range(40):
            # A new connection each time, so that both workers get some.
            with httpx.Client() as client:
                client.get(f"{server.url}{BASE}/nobody/in-progress")
        time.sleep(0.2)  # each worker hands its counts over at most 50 ms after a request
        exposition = httpx.get(f"{server.url}/metrics").text
        for line in server.log_text().splitlines():
            if line.startswith("{") and json.loads(line)["event"] == "request":
                answered_by.add(json.loads(line)["request_id"].split("-")[0])
    families = {family.name: family for family in text_string_to_metric_families(exposition)}
    counted = sum(
        s.value
        for s in families["milestones_http_requests"].samples
        if s.name == "milestones_http_requests_total" and s.labels["route"] == f"{BASE}/{{mentor_id}}/in-progress"
    )
    assert counted == 40
    assert len(answered_by) == 2, "both workers should have answered (ids start with the worker's prefix)"


def test_a_root_path_prefix_is_served_below(settings: Settings, tmp_path: Path) -> None:
    env = clean_environment(MILESTONES_DATABASE_URL=settings.database_url, MILESTONES_ROOT_PATH="/milestones")
    with serving(cwd=tmp_path, env=env) as server:
        # A proxy that strips the prefix sends the path below it.
        answered = httpx.get(f"{server.url}{BASE}/nobody/in-progress")
        document = httpx.get(f"{server.url}/openapi.json").json()
        docs = httpx.get(f"{server.url}/docs")
    assert answered.status_code == 200
    assert document["servers"] == [{"url": "/milestones"}]
    assert docs.status_code == 200 and 'src="docs/assets/' in docs.text  # relative: works under the prefix


def test_sigterm_lets_a_request_in_flight_finish(settings: Settings, tmp_path: Path) -> None:
    env = clean_environment(MILESTONES_DATABASE_URL=settings.database_url)
    body = json.dumps(summary_body("in-flight")).encode()
    with serving(cwd=tmp_path, env=env) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
            head = (
                f"POST {BASE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            connection.sendall(head + body[:20])  # the request is in flight: its body is still arriving
            time.sleep(0.5)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.process.poll() is None, "the server stopped before the request finished"
            connection.sendall(body[20:])
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 201 "), answer[:200]
        # uvicorn ends by re-raising the signal it caught, so the process reports SIGTERM, after a clean stop.
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert any(e["event"] == "worker stopped" for e in events(server.log_text()))
