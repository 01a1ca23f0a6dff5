"""A redis-server of the test's own, on a free port, that a test may stop and start again; the tests never
touch a shared Redis."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import cast

import redis

from tests.served import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """`redis-server` with nothing saved to disk, on 127.0.0.1 and a port of its own."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Starts it (again, on the same port, empty) and waits until it answers."""
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.directory),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((self.directory / "redis.log").read_text(errors="replace")) from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def round_trips(self) -> int:
        """How many scripts it has run since it started (or since `reset_calls`), by INFO commandstats: the
        rate limits ask nothing else of it, and a script is one round trip (the commands a script runs are
        counted apart, and not here)."""
        client = redis.Redis(port=self.port)
        try:
            # The synchronous client's answer: a dict by command ({"calls": n, ...}), typed for both clients.
            stats = cast(dict[str, dict[str, int]], client.info("commandstats"))
        finally:
            client.close()
        return sum(stats.get(name, {}).get("calls", 0) for name in ("cmdstat_evalsha", "cmdstat_eval"))

    def reset_calls(self) -> None:
        client = redis.Redis(port=self.port)
        try:
            client.config_resetstat()
        finally:
            client.close()
