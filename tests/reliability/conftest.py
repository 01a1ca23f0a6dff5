"""A real `milestones serve` process for the tests that need uvicorn and a socket, not the in-process app."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.reliability.servers import FaultyProxy, create_postgres_database, drop_postgres_database, postgres_target
from tests.served import clean_environment, serving

# Short, so the slow-body tests finish quickly; the service's defaults are longer.
BODY_TIMEOUT_SECONDS = 2
BODY_DEADLINE_SECONDS = 3
HEADER_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Server:
    """A running `milestones serve` (one worker, so the process that answers is `pid`)."""

    host: str
    port: int
    pid: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def rss_kib(self) -> int:
        """Resident memory of the server process, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError(f"no VmRSS for process {self.pid}")

    def connect(self, timeout: float) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.settimeout(timeout)
        return sock

    def is_healthy(self) -> bool:
        answer = httpx.get(f"{self.url}/healthz", timeout=5)
        return answer.status_code == 200 and answer.json() == {"status": "ok"}

    def stored_total(self) -> int:
        return int(httpx.get(f"{self.url}/api/v1/milestones", timeout=5).json()["pagination"]["total"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`milestones serve` on a fresh SQLite file in an empty directory, as in tests/cli/test_serve.py."""
    env = clean_environment(
        MILESTONES_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT_SECONDS),
        MILESTONES_BODY_DEADLINE_SECONDS=str(BODY_DEADLINE_SECONDS),
        MILESTONES_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT_SECONDS),
    )
    with serving(cwd=tmp_path_factory.mktemp("served"), env=env) as served:
        yield Server(host="127.0.0.1", port=served.port, pid=served.process.pid, log=served.log)
        assert served.process.poll() is None, f"the server died:\n{served.log_text()}"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A migrated PostgreSQL database of the module's own, reached directly (a service reaches it through
    `proxy`)."""
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="module")
def proxy(database: str) -> Iterator[FaultyProxy]:
    """A proxy in front of `database` that can cut, stall or say goodbye to the service's connections."""
    with FaultyProxy(*postgres_target(database)) as faulty:
        yield faulty
