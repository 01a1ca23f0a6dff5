"""Real moving parts for reliability runs: `milestones serve` processes, a faulty TCP proxy, scratch databases."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx

from milestones.settings import Settings
from milestones.storage import migrate
from tests.served import clean_environment, free_port, milestones_command

POSTGRES_URL = os.environ.get("MILESTONES_TEST_POSTGRES_URL")
POSTGRES_SKIP_REASON = "PostgreSQL reliability tests need MILESTONES_TEST_POSTGRES_URL (CI sets it; see README)"
MILESTONES_PATH = "/api/v1/milestones"
PROBLEM_JSON = "application/problem+json"

T = TypeVar("T")


# --- request bodies ----------------------------------------------------------------------------------


def month_period(index: int) -> tuple[date, date]:
    """The index-th calendar month from January 2000: distinct indexes give periods that never overlap."""
    year, month = divmod(index, 12)
    start = date(2000 + year, month + 1, 1)
    following = date(start.year + (month == 11), (month + 1) % 12 + 1, 1)
    return start, following - timedelta(days=1)


def summary_for(mentor_id: str, index: int, *, hours: float, contacts: int, activities: int) -> dict[str, Any]:
    """A POST /api/v1/milestones body for the index-th month."""
    start, end = month_period(index)
    return {
        "mentor_id": mentor_id,
        "period": {"year": start.year, "start_date": start.isoformat(), "end_date": end.isoformat()},
        "summary": {"total_hours": hours, "unique_contacts_helped": contacts, "activity_count": activities},
    }


# --- traffic that records every answer ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """One request's outcome; status 0 means no HTTP answer at all (refused, reset, timed out)."""

    kind: str
    status: int
    started: float
    finished: float
    content_type: str = ""
    retry_after: str | None = None
    problem_type: str | None = None

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def well_formed_503(self) -> bool:
        """A 503 a client can act on: problem details saying so, and a whole-seconds Retry-After."""
        return (
            self.status == 503
            and self.content_type == PROBLEM_JSON
            and self.retry_after is not None
            and self.retry_after.isdigit()
            and int(self.retry_after) >= 1
        )


async def send(http: httpx.AsyncClient, kind: str, method: str, url: str, **kwargs: Any) -> tuple[Answer, Any]:
    """Send one request; returns its Answer and the decoded body of a 2xx answer (else None)."""
    started = time.monotonic()
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.TransportError:
        return Answer(kind, 0, started, time.monotonic()), None
    content_type = response.headers.get("content-type", "")
    problem_type = response.json().get("type") if content_type == PROBLEM_JSON else None
    answer = Answer(
        kind,
        response.status_code,
        started,
        time.monotonic(),
        content_type,
        response.headers.get("retry-after"),
        problem_type,
    )
    return answer, response.json() if response.is_success else None


@dataclass(frozen=True, slots=True)
class Write:
    """A POST: the period its body carried and, once answered 2xx, the milestones it answered with."""

    mentor_id: str
    start_date: str
    end_date: str
    summary: dict[str, Any]
    milestones: list[dict[str, Any]] | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.mentor_id, self.start_date, self.end_date)


@dataclass
class Traffic:
    """A few clients that keep writing and reading until stopped, recording every answer.

    Each client owns its mentors and posts them one new month after another, so every write is a distinct
    period and its acknowledgement can be checked against the database later.
    """

    base_url: str
    clients: int = 4
    prefix: str = "t"
    mentors_per_client: int = 1
    first_month: int = 0
    reads: bool = True
    pause: float = 0.02
    request_timeout: float = 60.0
    answers: list[Answer] = field(default_factory=list)
    acknowledged: list[Write] = field(default_factory=list)
    attempted: list[Write] = field(default_factory=list)
    # Of the writes that got no answer (status 0): a killed server may or may not have committed them.
    unanswered: list[Write] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        limits = httpx.Limits(max_connections=self.clients * 2)
        timeout = httpx.Timeout(self.request_timeout, connect=10.0)
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=timeout) as http:
            await asyncio.gather(*(self._client(http, n, stop) for n in range(self.clients)))

    async def request(
        self, http: httpx.AsyncClient, kind: str, method: str, url: str, **kwargs: Any
    ) -> tuple[Answer, Any]:
        answer, body = await send(http, kind, method, url, **kwargs)
        self.answers.append(answer)
        return answer, body

    async def _client(self, http: httpx.AsyncClient, number: int, stop: asyncio.Event) -> None:
        mentors = [f"{self.prefix}-{number}-{m}" for m in range(self.mentors_per_client)]
        months = 0
        milestone_ids: dict[str, str] = {}
        while not stop.is_set():
            mentor = mentors[months % len(mentors)]
            index = self.first_month + months // len(mentors)
            months += 1
            body = summary_for(
                mentor, index, hours=round(0.25 + (index % 9) * 1.5, 2), contacts=index % 4, activities=3
            )
            write = Write(mentor, body["period"]["start_date"], body["period"]["end_date"], body["summary"])
            self.attempted.append(write)
            answer, page = await self.request(http, "post", "POST", MILESTONES_PATH, json=body)
            if page is not None:
                self.acknowledged.append(replace(write, milestones=page["data"]))
                if page["data"]:
                    milestone_ids[mentor] = page["data"][-1]["id"]
            elif answer.status == 0:
                self.unanswered.append(write)
            if self.reads and not stop.is_set():
                await self.request(http, "list", "GET", MILESTONES_PATH, params={"mentor_id": mentor})
                await self.request(http, "in_progress", "GET", f"{MILESTONES_PATH}/{mentor}/in-progress")
                await self.request(http, "periods", "GET", f"/api/v1/mentors/{mentor}/periods")
                if mentor in milestone_ids:
                    await self.request(http, "get", "GET", f"{MILESTONES_PATH}/{milestone_ids[mentor]}")
                    if index % 5 == 4:
                        await self.request(
                            http,
                            "put",
                            "PUT",
                            f"{MILESTONES_PATH}/{milestone_ids[mentor]}",
                            json={"status": "achieved"},
                        )
            await asyncio.sleep(self.pause)


# --- a TCP proxy that can fail ------------------------------------------------------------------------


class FaultyProxy:
    """Forwards 127.0.0.1:`port` to a target, and on demand drops, refuses or stalls connections.

    It runs its own event loop on a daemon thread, so synchronous tests and scripts can drive it.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.accepted = 0
        self.dropped = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faulty-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._sockets: set[asyncio.StreamWriter] = set()
        self._clients: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        self._call(self._listen())
        self._call(self._set_flowing(True))
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._drop())
        self._call(self._stop_listening())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    # The faults, each callable from any thread.

    def drop_connections(self) -> int:
        """Reset every open connection, both sides; returns how many client connections were cut."""
        return self._call(self._drop())

    def refuse_new(self) -> None:
        """Stop listening: new connections are refused, as by a stopped server."""
        self._call(self._stop_listening())

    def outage(self) -> int:
        """The database goes away: refuse new connections and reset the open ones."""
        self.refuse_new()
        return self.drop_connections()

    def say_goodbye(self) -> int:
        """Send each client the server's parting message (FATAL 57P01, as a fast shutdown sends every session),
        but keep its socket open: the instant between a server's goodbye and its closing the connection,
        held for as long as the test needs. Returns how many clients were told."""
        return self._call(self._say_goodbye())

    def stall(self) -> None:
        """A network partition: connections are accepted and kept, but no byte goes through either way."""
        self._call(self._set_flowing(False))

    def resume(self) -> None:
        """Listen again (on the same port) and forward everything, including bytes held while stalled."""
        self._call(self._listen())
        self._call(self._set_flowing(True))

    @property
    def open_connections(self) -> int:
        return len(self._sockets) // 2

    # Loop side.

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    async def _set_flowing(self, flowing: bool) -> None:
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _drop(self) -> int:
        writers = list(self._sockets)
        for writer in writers:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                # Linger 0: the peer gets a RST, as when a server host crashes or a firewall cuts in.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self._sockets.clear()
        self._clients.clear()
        cut = len(writers) // 2
        self.dropped += cut
        return cut

    async def _say_goodbye(self) -> int:
        told = 0
        for writer in list(self._clients):
            if writer in self._sockets:
                writer.write(_ADMIN_SHUTDOWN)
                told += 1
        return told

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._sockets.add(client_writer)
        self._clients.add(client_writer)
        try:
            await self._flowing.wait()
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._sockets.discard(client_writer)
            client_writer.transport.abort()
            return
        if client_writer not in self._sockets:  # dropped while connecting
            upstream_writer.transport.abort()
            return
        self._sockets.add(upstream_writer)
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer, client_writer),
            self._pipe(upstream_reader, client_writer, upstream_writer),
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, other: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for side in (writer, other):
                self._sockets.discard(side)
                self._clients.discard(side)
                side.transport.close()


def _error_response(*fields: tuple[bytes, str]) -> bytes:
    """A PostgreSQL ErrorResponse message (protocol 3.0): 'E', its length, then each field's code and text."""
    body = b"".join(code + text.encode() + b"\0" for code, text in fields) + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


_ADMIN_SHUTDOWN = _error_response(
    (b"S", "FATAL"), (b"V", "FATAL"), (b"C", "57P01"), (b"M", "terminating connection due to administrator command")
)


# --- `milestones serve` as a child process -------------------------------------------------------------


class Service:
    """`milestones serve` in its own process group, so a crash can take down its workers with it."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        workers: int = 1,
        migrate_on_start: bool = True,
        host: str = "127.0.0.1",
        environment: dict[str, str] | None = None,
        **env: str,
    ) -> None:
        self.database_url = database_url
        self.host = host
        self.workdir = workdir
        self.workers = workers
        self.migrate_on_start = migrate_on_start
        self.extra_env = {**(environment or {}), **env}
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "serve.log"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, *, ready_timeout: float = 90.0) -> Service:
        """Launch and wait until ready."""
        self.launch()
        self.wait_ready(ready_timeout)
        return self

    def launch(self) -> Service:
        """Start the process without waiting, so several services can boot side by side."""
        self.port = free_port(self.host)
        env = clean_environment(
            **{
                "MILESTONES_DATABASE_URL": self.database_url,
                "MILESTONES_MIGRATE_ON_START": str(self.migrate_on_start).lower(),
                "MILESTONES_LOG_LEVEL": "warning",
                **self.extra_env,  # may say otherwise, as a log level
            }
        )
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts} on port {self.port}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                milestones_command(
                    "serve", "--host", self.host, "--port", str(self.port), "--workers", str(self.workers)
                ),
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float) -> None:
        """Until /readyz answers 200 on every one of `workers` consecutive tries."""
        deadline = time.monotonic() + timeout
        streak = 0
        while streak < self.workers:
            try:
                streak = streak + 1 if httpx.get(f"{self.base_url}/readyz", timeout=5).status_code == 200 else 0
            except httpx.TransportError:
                streak = 0
            if self.process is None or self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"milestones serve did not become ready:\n{self.log_text()}")
            if streak < self.workers:
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hook, no flush, as in a power cut or OOM kill."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM, timeout=30)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _signal(self, signum: int, timeout: float = 15) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        # Workers of a killed parent can outlive it for a moment; wait until the group is empty.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.process = None

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def crash_while_writing(service: Service, traffic: Traffic, acknowledged_before_kill: int, seed: int) -> float:
    """Stream writes until enough are acknowledged, then SIGKILL the server at a random moment; returns when."""

    async def scenario() -> float:
        stop = asyncio.Event()
        clients = asyncio.create_task(traffic.run(stop))
        deadline = time.monotonic() + 60
        while len(traffic.acknowledged) < acknowledged_before_kill and time.monotonic() < deadline:
            if any(not a.is_success for a in traffic.answers):
                break  # the checks after the crash report it
            await asyncio.sleep(0.005)
        await asyncio.sleep(random.Random(seed).uniform(0, 0.05))
        # No new request from here on; those already sent are cut by the kill.
        stop.set()
        killed_at = time.monotonic()
        await asyncio.to_thread(service.kill)
        await clients
        return killed_at

    return run(scenario())


@contextlib.contextmanager
def running(*services: Service, ready_timeout: float = 120.0) -> Iterator[None]:
    """Boot the services side by side, and stop them all afterwards."""
    try:
        for service in services:
            service.launch()
        for service in services:
            service.wait_ready(ready_timeout)
        yield
    finally:
        for service in services:
            service.stop()


# --- scratch PostgreSQL databases ---------------------------------------------------------------------


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def _admin(sql: str) -> None:
    assert POSTGRES_URL
    conn = await asyncpg.connect(POSTGRES_URL, timeout=30)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_postgres_database(*, migrated: bool = True) -> str:
    """A new database named milestones_rel_*, migrated unless asked not to be (then without any schema);
    returns its URL."""
    assert POSTGRES_URL, POSTGRES_SKIP_REASON
    name = f"milestones_rel_{uuid.uuid4().hex[:12]}"
    run(_admin(f'CREATE DATABASE "{name}"'))
    url = f"{POSTGRES_URL.rpartition('/')[0]}/{name}"
    try:
        if migrated:
            migrate(Settings(database_url=url))
    except BaseException:
        drop_postgres_database(url)
        raise
    return url


def drop_postgres_database(url: str) -> None:
    name = url.rpartition("/")[2]
    assert name.startswith("milestones_rel_")
    run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def via_proxy(url: str, proxy: FaultyProxy) -> str:
    """The same database URL, but through the proxy."""
    scheme, _, rest = url.partition("://")
    credentials, _, location = rest.rpartition("@")
    database = location.partition("/")[2]
    user = f"{credentials}@" if credentials else ""
    return f"{scheme}://{user}127.0.0.1:{proxy.port}/{database}"


async def postgres_rows(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url, timeout=30)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def postgres_target(url: str) -> tuple[str, int]:
    location = url.partition("://")[2].rpartition("@")[2].partition("/")[0]
    host, _, port = location.partition(":")
    return host or "127.0.0.1", int(port or 5432)


# --- a PostgreSQL cluster of one's own ----------------------------------------------------------------


def postgres_bin() -> Path:
    """The directory of the PostgreSQL server programs (initdb, pg_ctl): on PATH, else Debian's newest."""
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        return Path(on_path).resolve().parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("no PostgreSQL server programs (pg_ctl, initdb): install postgresql")
    return found[-1].parent


class PostgresCluster:
    """A PostgreSQL cluster of its own (initdb in a scratch directory, a free port), never the shared server,
    so that it can be stopped and started at will. As root it runs as the `postgres` user (`runuser`), since the
    server refuses to run as root; otherwise as the current user."""

    def __init__(self) -> None:
        # A directory of its own in the shared temporary directory: the `postgres` user must reach it, which
        # it could not below a scratch directory private to root.
        self.directory = Path(tempfile.mkdtemp(prefix="milestones-postgres-"))
        self.data = self.directory / "data"
        self.log_path = self.directory / "postgres.log"
        self.port = free_port()
        self.bin = postgres_bin()
        self.restarts = 0

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed: {done.stderr.strip()}")

    def create(self) -> PostgresCluster:
        """initdb and start; the cluster trusts local connections as `postgres` (it listens on 127.0.0.1 only)."""
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.configure()
        self.start()
        return self

    def replica(self) -> PostgresCluster:
        """A streaming replica of this running cluster, started on a port of its own: pg_basebackup of its data
        (streaming the write-ahead log it needs, `-R` writing standby.signal and primary_conninfo), so that it
        replays every change this cluster makes. This cluster must allow replication (`allow_replication`)."""
        replica = PostgresCluster()
        try:
            if os.geteuid() == 0:
                shutil.chown(replica.directory, "postgres", "postgres")
            replica._run(
                "pg_basebackup", "-D", str(replica.data), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                "-X", "stream", "-R", "--no-sync", "--checkpoint=fast",
            )  # fmt: skip
            replica.configure()
            replica.start()
        except BaseException:
            replica.destroy()
            raise
        return replica

    def allow_replication(self) -> None:
        """Streaming replication from 127.0.0.1: a replica's WAL sender connection (pg_hba's `replication`
        database) and the WAL level it needs; PostgreSQL's defaults say the same, written out here so that the
        test does not lean on them. Takes effect at the restart."""
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n")
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        self.restart("fast", down_seconds=0)

    def configure(self) -> None:
        """Its own port and socket directory, last in postgresql.conf so that they win."""
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.directory}'\n"
                "max_connections = 60\nshared_buffers = 32MB\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "120", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends every session (FATAL 57P01) and checkpoints; `immediate` quits at once,
        as in a crash, and the next start recovers from the write-ahead log."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop")

    def restart(self, mode: str, down_seconds: float = 1.0) -> None:
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        try:
            return self.create()
        except BaseException:
            self.destroy()
            raise

    def __exit__(self, *exc: object) -> None:
        self.destroy()


def create_cluster_database(cluster: PostgresCluster, name: str = "milestones") -> str:
    """A migrated database in the cluster; returns its URL."""

    async def create() -> None:
        conn = await asyncpg.connect(cluster.admin_url, timeout=30)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    run(create())
    url = cluster.url(name)
    migrate(Settings(database_url=url))
    return url
