"""Process, wrk and database plumbing shared by the benchmark rows."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class BenchError(Exception):
    """A failure the harness can explain; printed without a traceback."""


def milestones_command() -> str:
    # The venv's script, so the harness works without the venv being activated.
    local = BIN / "milestones"
    return str(local) if local.exists() else "milestones"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_checked(argv: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"{what} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


class Server:
    """A server subprocess in its own process group, so stopping it also stops its uvicorn workers."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str, timeout: float = 60.0) -> None:
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise BenchError(f"{self.name} exited with {self.process.returncode}:\n{tail(self.log_path)}")
                try:
                    if client.get(self.base_url + ready_path).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise BenchError(f"{self.name} was not ready within {timeout:.0f} s:\n{tail(self.log_path)}")

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise BenchError(f"{self.name} is not running:\n{tail(self.log_path)}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass

    def problems_logged(self) -> list[str]:
        """Lines of the server's log that look like errors, for the notes under the table."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [line for line in text.splitlines() if "Traceback" in line or "ERROR" in line]


def service_server(database_url: str, workers: int, log_path: Path) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "MILESTONES_DATABASE_URL": database_url,
        # The harness migrates beforehand, so the workers start against a current schema.
        "MILESTONES_MIGRATE_ON_START": "false",
        "MILESTONES_LOG_LEVEL": "warning",
    }
    argv = [milestones_command(), "serve", "--port", str(port), "--workers", str(workers)]
    return Server("milestones serve", argv, env, port, log_path)


def ceiling_server(response_file: Path, workers: int, log_path: Path) -> Server:
    port = free_port()
    env = {**os.environ, "BENCH_CEILING_RESPONSE": str(response_file)}
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.ceiling:app",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        # `milestones serve` turns proxy headers off; left on, the ceiling would pay for a middleware ours skips.
        "--no-proxy-headers",
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    return Server("ceiling", argv, env, port, log_path)


def migrate(database_url: str, command: str | None = None) -> None:
    env = {**os.environ, "MILESTONES_DATABASE_URL": database_url}
    run_checked([command or milestones_command(), "migrate"], env, "milestones migrate")


# --- wrk ---------------------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    output: str


def parse_wrk(output: str) -> WrkResult:
    percentiles = {m[1]: float(m[2]) * _UNITS_MS[m[3]] for m in _PERCENTILE.finditer(output)}
    rps = _RPS.search(output)
    requests = _REQUESTS.search(output)
    if rps is None or requests is None or set(percentiles) != {"50", "99"}:
        raise BenchError(f"could not read wrk's output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket_errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests_per_s=float(rps[1]),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        requests=int(requests[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        output=output,
    )


def wrk(
    url: str,
    duration: int,
    *,
    threads: int = 2,
    connections: int = 64,
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
) -> WrkResult:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=duration + 60)
    if done.returncode != 0:
        raise BenchError(f"wrk failed (exit {done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


# --- PostgreSQL --------------------------------------------------------------------------------------------


def database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path="/" + name))


class PostgresDatabases:
    """Creates fresh milestones_bench_* databases next to the given one and drops them all at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def create(self) -> str:
        name = f"milestones_bench_{secrets.token_hex(4)}"
        asyncio.run(self._execute(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return database_url(self.admin_url, name)

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        if name in self.created:
            self.created.remove(name)
            self._drop(name)

    def drop_all(self) -> None:
        while self.created:
            self._drop(self.created.pop())

    def _drop(self, name: str) -> None:
        try:
            # FORCE ends connections a killed worker may have left behind.
            asyncio.run(self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception as exc:  # cleanup must go on to the other databases
            log(f"could not drop database {name}: {exc}")

    async def _execute(self, statement: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(self.admin_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()
