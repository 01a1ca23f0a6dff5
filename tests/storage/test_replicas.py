"""Read replicas on a real streaming replica: reads go to it, a client reads its own writes on any host, and
reads fall back to the primary when it lags past the bound or goes away (one log line, a metric).

One cluster pair for the module (initdb, pg_basebackup), started as the `postgres` user, never the shared server.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from milestones.ops import metrics
from milestones.ops.logs import LOGGER, JsonFormatter
from milestones.ops.read_after import HEADER_NAME, parse_position
from milestones.settings import Settings
from milestones.storage.postgres import IN_USE, replica_label
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.factories import summary_body
from tests.reliability.servers import PostgresCluster, create_cluster_database

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]

Client = AsyncTestClient[FrontDoor]


@dataclass(frozen=True)
class ClusterPair:
    primary: PostgresCluster
    replica: PostgresCluster
    primary_url: str
    replica_url: str


@pytest.fixture(scope="module")
def postgres_pair() -> Iterator[ClusterPair]:
    """A primary with the schema, and its streaming replica, for the whole module."""
    with PostgresCluster() as primary:
        primary.allow_replication()
        primary_url = create_cluster_database(primary)
        replica = primary.replica()
        try:
            yield ClusterPair(primary, replica, primary_url, replica.url("milestones"))
        finally:
            replica.destroy()


async def _value(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(url, timeout=30)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.05)


async def _replayed(pair: ClusterPair) -> int:
    return int(await _value(pair.replica_url, "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"))


async def _caught_up(pair: ClusterPair) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    written = int(await _value(pair.primary_url, "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"))

    async def replayed() -> bool:
        return await _replayed(pair) >= written

    await eventually(replayed)


@asynccontextmanager
async def _replay_paused(pair: ClusterPair) -> AsyncIterator[None]:
    await _value(pair.replica_url, "SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        await _value(pair.replica_url, "SELECT pg_wal_replay_resume()")


class _JsonLines(logging.Handler):
    """The service's log lines as its JSON formatter writes them, decoded."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def events(self, prefix: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["event"].startswith(prefix)]


@asynccontextmanager
async def _hosts(
    pair: ClusterPair, count: int, max_lag: float, logged: _JsonLines | None = None
) -> AsyncIterator[list[Client]]:
    """`count` app instances on the pair (as on separate hosts), each once its replica is in use; their log
    lines go to `logged` too (added once they started: starting sets the service's log handlers)."""
    settings = Settings(
        database_url=pair.primary_url,
        database_replica_urls=[pair.replica_url],
        replica_max_lag_seconds=max_lag,
    )
    # Every instance in this process shares the metric: start from "not in use" to see these ones take it up.
    metrics.REPLICA_IN_USE.labels(replica_label(pair.replica_url)).set(0)
    apps = [create_app(settings) for _ in range(count)]
    clients = [AsyncTestClient(app=app) for app in apps]
    for client in clients:
        await client.__aenter__()
    try:
        for client in clients:
            await client.get("/api/v1/mentors/nobody/periods")  # opens the repository, which starts polling

        async def in_use() -> bool:
            # Each instance's own view (the metric is shared by every instance in this process).
            repositories = [cast(Litestar, app.app).state.service.repository for app in apps]
            return all(
                replica.state == IN_USE for repository in repositories for replica in repository.replicas.replicas
            )

        await eventually(in_use)
        if logged is not None:
            logging.getLogger(LOGGER).addHandler(logged)
        yield clients
    finally:
        logging.getLogger(LOGGER).removeHandler(logged or logging.NullHandler())
        for client in clients:
            await client.__aexit__(None, None, None)


async def _periods(client: Client, mentor: str, read_after: str | None = None) -> int:
    headers = {} if read_after is None else {HEADER_NAME: read_after}
    answer = await client.get(f"/api/v1/mentors/{mentor}/periods", headers=headers)
    assert answer.status_code == 200, answer.text
    return len(answer.json()["data"])


async def _post(client: Client, mentor: str, year: int, read_after: str | None = None) -> str:
    headers = {} if read_after is None else {HEADER_NAME: read_after}
    answer = await client.post("/api/v1/milestones", json=summary_body(mentor, year=year), headers=headers)
    assert answer.status_code in (200, 201), answer.text
    position = answer.headers[HEADER_NAME]
    assert parse_position(position.encode()) is not None
    return position


async def test_reads_go_to_the_replica_and_a_client_reads_its_writes_on_another_host(
    postgres_pair: ClusterPair,
) -> None:
    pair = postgres_pair
    async with _hosts(pair, 2, max_lag=60) as (first, second):
        await _post(first, "mentor_ryw", 2021)
        await _caught_up(pair)
        async with _replay_paused(pair):
            written = await _post(first, "mentor_ryw", 2022)
            # Without the position, the other host reads the replica, which has not replayed the second write
            # (well inside the lag bound): stale, and proof that the read went to the replica.
            assert await _periods(second, "mentor_ryw") == 1
            # With it, the same host reads its client's write: the replica is behind it, so the primary answers.
            assert await _periods(second, "mentor_ryw", read_after=written) == 2
            # A position that is not one is passed over, never refused.
            assert await _periods(second, "mentor_ryw", read_after="not a position") == 1
        await _caught_up(pair)
        # Once the replica has replayed the write, its position no longer keeps reads off it: with replay paused
        # again, a later write by someone else is not seen by a read that sends the old position.
        async with _replay_paused(pair):
            await _post(first, "mentor_other", 2021)

            async def replica_answers() -> bool:
                return await _periods(second, "mentor_other", read_after=written) == 0

            await eventually(replica_answers)


async def test_reads_leave_a_replica_that_lags_past_the_bound(postgres_pair: ClusterPair) -> None:
    pair = postgres_pair
    label = replica_label(pair.replica_url)
    fallbacks = metrics.REPLICA_FALLBACKS.labels(label, "lagging")
    before = fallbacks._value.get()
    logged = _JsonLines()
    async with _hosts(pair, 1, max_lag=2, logged=logged) as (host,):
        await _post(host, "mentor_lag", 2021)
        await _caught_up(pair)
        async with _replay_paused(pair):
            # Written on the primary by someone else: this client holds no position.
            await _post(host, "mentor_lag", 2022)

            async def fell_back() -> bool:
                return bool(metrics.REPLICA_IN_USE.labels(label)._value.get() == 0)

            await eventually(fell_back)
            # Past the bound the replica serves nothing: the primary answers, current.
            assert await _periods(host, "mentor_lag") == 2
            await asyncio.sleep(1.2)  # more polls while it lags: still one line, one count
        await _caught_up(pair)

        async def back() -> bool:
            return bool(metrics.REPLICA_IN_USE.labels(label)._value.get() == 1)

        await eventually(back)
    (line,) = logged.events("read replica lagging")
    assert line["level"] == "warning"
    assert line["replica"] == label
    assert line["reason"] == "lagging"
    assert line["lag_seconds"] >= 2  # past the bound, as logged (rounded)
    assert fallbacks._value.get() == before + 1
    assert len(logged.events("read replica in use")) == 1  # back once it caught up


async def test_reads_fall_back_to_the_primary_when_the_replica_stops(postgres_pair: ClusterPair) -> None:
    pair = postgres_pair
    label = replica_label(pair.replica_url)
    fallbacks = metrics.REPLICA_FALLBACKS.labels(label, "unreachable")
    before = fallbacks._value.get()
    logged = _JsonLines()
    async with _hosts(pair, 1, max_lag=60, logged=logged) as (host,):
        await _post(host, "mentor_gone", 2021)
        await _caught_up(pair)
        assert await _periods(host, "mentor_gone") == 1
        pair.replica.stop("fast")
        try:
            # Every read is answered, by the primary: the one that met the stopped replica was run again there.
            for _ in range(5):
                assert await _periods(host, "mentor_gone") == 1
            await asyncio.sleep(1.2)  # polls keep finding it away: still one line
            assert await _periods(host, "mentor_gone") == 1
            exposed = metrics.exposition().decode()
            assert f'milestones_replica_in_use{{replica="{label}"}} 0.0' in exposed
        finally:
            pair.replica.start()
    (line,) = logged.events("read replica unreachable")
    assert (line["level"], line["replica"], line["reason"]) == ("warning", label, "unreachable")
    assert fallbacks._value.get() == before + 1
