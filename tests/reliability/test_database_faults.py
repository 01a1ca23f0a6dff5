"""PostgreSQL goes away under a real `milestones serve`: answers stay 503 problems, and service resumes alone."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from milestones.domain import milestone_id
from tests.reliability.servers import (
    MILESTONES_PATH,
    POSTGRES_SKIP_REASON,
    POSTGRES_URL,
    PROBLEM_JSON,
    Answer,
    FaultyProxy,
    Service,
    Traffic,
    postgres_rows,
    run,
    send,
    summary_for,
    via_proxy,
)

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP_REASON)]

# The service's PostgreSQL timeouts here, shorter than the defaults (5 s and 10 s): the bounds below then
# also show that the settings are honoured, since a wait on the defaults would exceed them.
CONNECT_TIMEOUT = 2.0
TIMEOUT = 3.0
# No request may take longer than this, whatever the database does: the pool's timeouts bound every wait
# (for a pooled connection, then for a new connection or a statement), with some slack for a busy machine.
ANSWER_BOUND = TIMEOUT + max(CONNECT_TIMEOUT, TIMEOUT) + 4
DATABASE_UNAVAILABLE = "/problems/database-unavailable"


@pytest.fixture(scope="module")
def service(database: str, proxy: FaultyProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One `milestones serve` on the proxied URL for the module; the schema was migrated directly."""
    workdir = tmp_path_factory.mktemp("faults")
    served = Service(
        via_proxy(database, proxy),
        workdir,
        migrate_on_start=False,
        MILESTONES_POSTGRES_POOL_SIZE="4",
        MILESTONES_POSTGRES_CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT),
        MILESTONES_POSTGRES_TIMEOUT_SECONDS=str(TIMEOUT),
    )
    with served:
        yield served


@pytest.fixture(autouse=True)
def healthy_again(proxy: FaultyProxy, service: Service) -> Iterator[None]:
    """Each test starts and leaves the database reachable and the service ready."""
    proxy.resume()
    service.wait_ready(60)
    yield
    proxy.resume()
    service.wait_ready(60)


def unacceptable(answers: list[Answer]) -> dict[tuple[str, int, str], int]:
    """Answers that are neither a success nor an actionable 503 (500s, hangs, dropped requests, bare 503s),
    counted by operation, status and content type."""
    return dict(Counter((a.kind, a.status, a.content_type) for a in answers if not (a.is_success or a.well_formed_503)))


async def stored_periods(url: str, prefix: str) -> set[tuple[str, str, str, int, int, int]]:
    rows = await postgres_rows(
        url,
        "SELECT mentor_id, start_date::text, end_date::text, total_hours_centi, unique_contacts_helped, "
        "activity_count FROM periods WHERE mentor_id LIKE $1",
        prefix + "%",
    )
    return {tuple(r) for r in rows}


def as_row(mentor: str, start: str, end: str, summary: dict[str, Any]) -> tuple[str, str, str, int, int, int]:
    hours = round(summary["total_hours"] * 100)
    return (mentor, start, end, hours, summary["unique_contacts_helped"], summary["activity_count"])


def test_outage_mid_traffic_is_503_and_service_resumes_by_itself(
    service: Service, proxy: FaultyProxy, database: str
) -> None:
    assert service.process is not None
    pid = service.process.pid
    traffic = Traffic(service.base_url, clients=4, prefix="outage")
    during: list[Answer] = []
    health: list[Answer] = []
    marks: dict[str, float] = {}
    recovered: list[Answer] = []

    async def scenario() -> int:
        stop = asyncio.Event()
        clients = asyncio.create_task(traffic.run(stop))
        async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
            await asyncio.sleep(1.5)
            cut = await asyncio.to_thread(proxy.outage)
            marks["down"] = time.monotonic()
            await asyncio.sleep(0.5)
            # Every kind of operation, once each, while the database is away.
            some_id = milestone_id("outage-0-0", "10h")
            body = summary_for("outage-probe", 0, hours=1, contacts=1, activities=1)
            for kind, method, url, extra in [
                ("post", "POST", MILESTONES_PATH, {"json": body}),
                ("get", "GET", f"{MILESTONES_PATH}/{some_id}", {}),
                ("list", "GET", MILESTONES_PATH, {"params": {"mentor_id": "outage-0-0"}}),
                ("list_all", "GET", MILESTONES_PATH, {}),
                ("in_progress", "GET", f"{MILESTONES_PATH}/outage-0-0/in-progress", {}),
                ("new", "GET", f"{MILESTONES_PATH}/outage-0-0/new", {"params": {"year": 2000}}),
                ("put", "PUT", f"{MILESTONES_PATH}/{some_id}", {"json": {"status": "achieved"}}),
                ("delete", "DELETE", f"{MILESTONES_PATH}/{some_id}", {}),
                ("periods", "GET", "/api/v1/mentors/outage-0-0/periods", {}),
                ("delete_period", "DELETE", "/api/v1/mentors/outage-0-0/periods/2000-01-01/2000-01-31", {}),
            ]:
                during.append((await send(http, kind, method, url, **extra))[0])
            for _ in range(3):
                during.append((await send(http, "readyz", "GET", "/readyz"))[0])
                health.append((await send(http, "healthz", "GET", "/healthz"))[0])
                await asyncio.sleep(0.3)
            marks["up"] = time.monotonic()
            await asyncio.to_thread(proxy.resume)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                answer, _ = await send(http, "readyz", "GET", "/readyz")
                recovered.append(answer)
                if answer.status == 200:
                    break
                await asyncio.sleep(0.2)
            marks["ready"] = time.monotonic()
            await asyncio.sleep(2.0)
        stop.set()
        await clients
        return cut

    cut = run(scenario())

    # The outage really cut the service's open database connections.
    assert cut >= 1
    # Nothing but successes and actionable 503s, from the background clients and the probes alike.
    assert unacceptable(traffic.answers + during + recovered) == {}
    problem_types = {(a.kind == "readyz", a.problem_type) for a in traffic.answers + during if a.status == 503}
    assert problem_types == {(False, DATABASE_UNAVAILABLE), (True, "/problems/not-ready")}
    assert max(a.finished - a.started for a in traffic.answers + during) < ANSWER_BOUND
    # While the database was away, everything that needs it was 503, and liveness was not affected.
    assert [(a.kind, a.status) for a in during if a.status != 503] == []
    away = [a for a in traffic.answers if a.started > marks["down"] and a.finished < marks["up"]]
    assert {a.kind for a in away} >= {"post", "list", "in_progress", "periods"}
    assert all(a.status == 503 for a in away)
    assert [a.status for a in health] == [200, 200, 200]
    assert all(a.finished - a.started < 2 for a in health)
    # Once the database is back, the same process serves again, without a restart.
    assert recovered[-1].status == 200, "readiness did not come back within 30 s of the database"
    assert service.process is not None and service.process.poll() is None and service.process.pid == pid
    assert service.starts == 1
    after = [a for a in traffic.answers if a.started > marks["ready"]]
    assert after and all(a.is_success for a in after)
    assert sum(a.kind == "post" for a in after) >= traffic.clients
    # Every acknowledged write is stored in full; nothing is stored that was not sent.
    stored = run(stored_periods(database, "outage-"))
    acknowledged = {as_row(w.mentor_id, w.start_date, w.end_date, w.summary) for w in traffic.acknowledged}
    attempted = {as_row(w.mentor_id, w.start_date, w.end_date, w.summary) for w in traffic.attempted}
    assert acknowledged <= stored <= attempted
    assert len(acknowledged) > 0


async def _wait_for_lock_waiter(conn: asyncpg.Connection) -> None:
    """Until a service connection is blocked on a mentor's advisory lock."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%'"
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the service never waited on the mentor's lock")


@pytest.mark.parametrize("fault", ["connection_reset", "server_ends_session"])
def test_a_write_cut_mid_transaction_is_503_and_leaves_nothing_behind(
    service: Service, proxy: FaultyProxy, database: str, fault: str
) -> None:
    """The connection dies while a POST is inside its transaction (held on the mentor's lock, on purpose).

    `connection_reset` is a network failure; `server_ends_session` is what a PostgreSQL restart or an
    administrator does (pg_terminate_backend: SQLSTATE 57P01 on the live statement).
    """
    mentor = f"cut-{fault}"
    body = summary_for(mentor, 0, hours=120, contacts=12, activities=60)

    async def scenario() -> tuple[httpx.Response, int, list[httpx.Response]]:
        holder = await asyncpg.connect(database)
        try:
            await holder.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", mentor)
            async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
                pending = asyncio.create_task(http.post(MILESTONES_PATH, json=body))
                await _wait_for_lock_waiter(holder)
                if fault == "connection_reset":
                    await asyncio.to_thread(proxy.drop_connections)
                else:
                    await holder.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                cut = await pending
                await holder.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", mentor)
                left = await holder.fetchval("SELECT count(*) FROM periods WHERE mentor_id = $1", mentor)
                # The client retries, as Retry-After invites it to; the service has reconnected by itself.
                retries = [await http.post(MILESTONES_PATH, json=body)]
                while retries[-1].status_code == 503 and len(retries) < 3:
                    await asyncio.sleep(1)
                    retries.append(await http.post(MILESTONES_PATH, json=body))
                return cut, int(left), retries
        finally:
            await holder.close()

    cut, left, retries = run(scenario())

    assert cut.status_code == 503, cut.text
    assert cut.headers["content-type"] == PROBLEM_JSON
    assert cut.headers["retry-after"] == "1"
    assert cut.json()["type"] == DATABASE_UNAVAILABLE
    assert left == 0, "a transaction the service lost must not be committed"
    assert all(r.status_code == 503 for r in retries[:-1])
    assert retries[-1].status_code == 201
    stored = run(stored_periods(database, mentor))
    assert stored == {as_row(mentor, body["period"]["start_date"], body["period"]["end_date"], body["summary"])}


def test_a_silent_database_is_answered_503_in_bounded_time(service: Service, proxy: FaultyProxy, database: str) -> None:
    """A network partition: connections open but no byte ever comes back. Requests must not hang."""
    mentor = "partition"
    first = summary_for(mentor, 0, hours=20, contacts=3, activities=5)

    async def scenario() -> tuple[list[Answer], list[Answer], list[Answer]]:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=120) as http:
            before, page = await send(http, "post", "POST", MILESTONES_PATH, json=first)
            assert before.status == 201
            some_id = page["data"][0]["id"]
            await asyncio.to_thread(proxy.stall)
            second = summary_for(mentor, 1, hours=20, contacts=3, activities=5)
            stalled = await asyncio.gather(
                send(http, "post", "POST", MILESTONES_PATH, json=second),
                send(http, "get", "GET", f"{MILESTONES_PATH}/{some_id}"),
                send(http, "list_all", "GET", MILESTONES_PATH),
                send(http, "periods", "GET", f"/api/v1/mentors/{mentor}/periods"),
                send(http, "readyz", "GET", "/readyz"),
            )
            health = [(await send(http, "healthz", "GET", "/healthz"))[0]]
            await asyncio.to_thread(proxy.resume)
            after: list[Answer] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                after.append((await send(http, "readyz", "GET", "/readyz"))[0])
                if after[-1].status == 200:
                    break
                await asyncio.sleep(0.2)
            after.append((await send(http, "post", "POST", MILESTONES_PATH, json=second))[0])
            return [a for a, _ in stalled], health, after

    stalled, health, after = run(scenario())

    assert [a.status for a in stalled] == [503] * len(stalled)
    assert all(a.well_formed_503 for a in stalled)
    slowest = max(a.finished - a.started for a in stalled)
    assert slowest < ANSWER_BOUND, f"a request waited {slowest:.1f}s on a silent database"
    assert health[0].status == 200 and health[0].finished - health[0].started < 2
    assert [a.status for a in after[-2:]] == [200, 201]
    assert len(run(stored_periods(database, mentor))) == 2
