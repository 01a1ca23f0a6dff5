"""A real `milestones serve` process for the tests that need uvicorn and a socket, not the in-process app."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

# Short, so the slow-body tests finish quickly; the service's default is longer.
BODY_TIMEOUT_SECONDS = 2


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`milestones serve` on a fresh SQLite file in an empty directory, as in tests/test_cli.py."""
    directory = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILESTONES_")}
    env["MILESTONES_BODY_TIMEOUT_SECONDS"] = str(BODY_TIMEOUT_SECONDS)
    port = free_port()
    log_path = directory / "serve.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "milestones", "serve", "--port", str(port)],
        cwd=directory,
        env=env,
        stdout=log,
        stderr=log,
    )
    served = Server(host="127.0.0.1", port=port, pid=process.pid, log=log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{served.url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not become ready:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield served
        assert process.poll() is None, f"the server died:\n{log_path.read_text()}"
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
