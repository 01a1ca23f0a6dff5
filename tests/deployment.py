"""deploy/ as processes on this machine: `milestones serve` hosts on loopback addresses of their own behind
HAProxy, started with deploy/'s own haproxy.cfg and env files, so that what the tests prove is what
compose.yaml runs (tests/deploy/test_compose.py checks compose.yaml mounts and sets those very files)."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from tests.reliability.servers import Service
from tests.served import clean_environment, free_port

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
HAPROXY_CFG = DEPLOY / "haproxy.cfg"
HAPROXY_ENV = DEPLOY / "haproxy.env"
API_ENV = DEPLOY / "api.env"
POSTGRES_ENV = DEPLOY / "postgres.env"
COMPOSE = DEPLOY / "compose.yaml"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
# Three hosts, as three machines would be: distinct addresses, each of its own (all of 127/8 is this host's).
HOST_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
# The settings of api.env that say where things are: on this machine they differ from compose's network.
# Everything else in api.env reaches the hosts as it is, unless a test names it (`overrides`).
WHERE = (
    "MILESTONES_DATABASE_URL",
    "MILESTONES_REDIS_URL",
    "MILESTONES_HOST",
    "MILESTONES_PORT",
    "MILESTONES_TRUSTED_PROXIES",
)
# HAProxy's addresses, all of haproxy.env: where it listens and the three hosts.
BALANCER_BIND = "MILESTONES_BALANCER_BIND"
API_SERVERS = ("MILESTONES_API_1", "MILESTONES_API_2", "MILESTONES_API_3")
# One worker a host here (api.env says 2): three hosts are what these tests are about, and the machine that
# runs them has few cores.
TEST_OVERRIDES = {"MILESTONES_WORKERS": "1"}
# The layouts a test of a guarantee that must hold across processes runs in (`serving_api`).
ONE_HOST = "one host"
BEHIND_HAPROXY = "three hosts behind haproxy"
LAYOUTS = [ONE_HOST, pytest.param(BEHIND_HAPROXY, marks=pytest.mark.postgres)]
# For a test on the `settings` fixture (indirectly parametrized): each back end on one host, and PostgreSQL
# behind the balancer (several hosts share a PostgreSQL database; a SQLite file is one machine's).
BACKENDS_AND_LAYOUTS = [
    pytest.param("sqlite", ONE_HOST, id="sqlite-one-host"),
    pytest.param("postgres", ONE_HOST, marks=pytest.mark.postgres, id="postgres-one-host"),
    pytest.param("postgres", BEHIND_HAPROXY, marks=pytest.mark.postgres, id="postgres-behind-haproxy"),
]
SERVED_BY = re.compile(r'^milestones_http_requests_total\{[^}]*route="([^"]*)"[^}]*\} ([0-9.e+]+)$', re.MULTILINE)


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as compose reads an env_file (comments and blank lines skipped, no quoting used)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def host_environment(redis_url: str, **overrides: str) -> dict[str, str]:
    """api.env with this machine's addresses: its Redis, and HAProxy (which connects from 127.0.0.1) as the one
    trusted proxy. The database, address and port are each host's (`Service`)."""
    settings = {name: value for name, value in env_file(API_ENV).items() if name not in WHERE}
    settings.update(TEST_OVERRIDES)
    settings.update(MILESTONES_REDIS_URL=redis_url, MILESTONES_TRUSTED_PROXIES="127.0.0.1")
    settings.update(overrides)
    return settings


class Balanced:
    """Three `milestones serve` hosts (127.0.0.2 to .4) on one database and one Redis, behind HAProxy on
    127.0.0.1, configured as deploy/ configures them. `base_url` is the balancer's."""

    def __init__(self, workdir: Path, database_url: str, redis_url: str, **overrides: str) -> None:
        environment = host_environment(redis_url, **overrides)
        migrate_on_start = environment.pop("MILESTONES_MIGRATE_ON_START", "true").lower() == "true"
        self.workdir = workdir
        self.hosts = [
            Service(
                database_url,
                workdir / f"api{number}",
                host=address,
                migrate_on_start=migrate_on_start,
                environment=environment,
            )
            for number, address in enumerate(HOST_ADDRESSES, start=1)
        ]
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "haproxy.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 120) -> Balanced:
        """The hosts side by side (each migrating on start, under the migration lock), then HAProxy once they
        are ready; returns when the balancer answers /readyz."""
        for host in self.hosts:
            host.launch()
        for host in self.hosts:
            host.wait_ready(ready_timeout)
        self.port = free_port()
        addresses = {BALANCER_BIND: f"127.0.0.1:{self.port}"}
        addresses.update({name: f"{h.host}:{h.port}" for name, h in zip(API_SERVERS, self.hosts, strict=True)})
        assert set(addresses) == set(env_file(HAPROXY_ENV)), "haproxy.env holds addresses only, each set here"
        with self.log_path.open("ab") as log:
            # -db: in the foreground, as in its container; -W would add a master process, which needs nothing here.
            self.process = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(HAPROXY_CFG)],
                env=clean_environment(**addresses),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/readyz", timeout=5).status_code == 200:
                    return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start:\n{self.log_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        for host in self.hosts:
            host.stop()

    def log_text(self) -> str:
        """HAProxy's log, then each host's."""
        parts = [self.log_path.read_text(errors="replace") if self.log_path.exists() else ""]
        parts.extend(host.log_text() for host in self.hosts)
        return "\n".join(parts)

    def requests_served(self, route: str, hosts: Sequence[int] = (0, 1, 2)) -> list[int]:
        """How many requests of a route (its template, "/api/v1/milestones") each of the `hosts` (indexes)
        answered, from its own /metrics (asked of the host directly, and not counted itself)."""
        counts = []
        for host in (self.hosts[index] for index in hosts):
            exposition = httpx.get(f"{host.base_url}/metrics", timeout=10).text
            counts.append(int(sum(float(n) for r, n in SERVED_BY.findall(exposition) if r == route)))
        return counts

    def __enter__(self) -> Balanced:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def balanced(workdir: Path, database_url: str, redis_url: str, **overrides: str) -> Iterator[Balanced]:
    with Balanced(workdir, database_url, redis_url, **overrides) as cluster:
        yield cluster


@contextlib.contextmanager
def serving_api(
    layout: str,
    database_url: str,
    workdir: Path,
    *,
    workers: int = 1,
    redis_url: str | None = None,
    **env: str,
) -> Iterator[Service | Balanced]:
    """The API on `database_url`, ready: ONE_HOST, one `milestones serve` of `workers` worker processes
    configured by `env` alone; or BEHIND_HAPROXY, deploy/'s three hosts (configured by api.env, then `env`)
    and its balancer, counting rate limits in the Redis at `redis_url`. Either has `base_url` and `log_text`."""
    if layout == ONE_HOST:
        extra = {"MILESTONES_REDIS_URL": redis_url} if redis_url else {}
        with Service(database_url, workdir, workers=workers, environment={**extra, **env}) as service:
            yield service
        return
    assert layout == BEHIND_HAPROXY and redis_url, "the balanced hosts share one Redis, as deploy/ has them"
    with balanced(workdir, database_url, redis_url, **env) as cluster:
        yield cluster
