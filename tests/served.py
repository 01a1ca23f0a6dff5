"""`milestones serve` as a child process, for the tests that need uvicorn and a real socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without any MILESTONES_ setting, plus `overrides`: a server configured only
    by what the test says."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILESTONES_")}
    env.update(overrides)
    return env


def milestones_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "milestones", *args]


@dataclass(frozen=True)
class Served:
    """A running `milestones serve`; with one worker, `process` is the one that answers."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serving(*args: str, cwd: Path, env: dict[str, str], ready_timeout: float = 30) -> Iterator[Served]:
    """`milestones serve --port P *args` run from `cwd`, until `/readyz` answers 200; stopped afterwards."""
    log_path = cwd / "serve.log"
    with log_path.open("w") as log:
        port = free_port()
        process = subprocess.Popen(
            milestones_command("serve", "--port", str(port), *args), cwd=cwd, env=env, stdout=log, stderr=log
        )
        served = Served(port, process, log_path)
        try:
            deadline = time.monotonic() + ready_timeout
            while True:
                try:
                    if httpx.get(f"{served.url}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not become ready:\n{served.log_text()}")
                time.sleep(0.1)
            yield served
        finally:
            process.terminate()
            process.wait(timeout=15)
