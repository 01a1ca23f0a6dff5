"""deploy/'s three hosts behind HAProxy: a host stopped or killed under load loses no acknowledged write, and the
balancer routes around it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.deployment import Balanced, balanced
from tests.redis_server import RedisServer
from tests.reliability.servers import MILESTONES_PATH, Traffic, Write, run

# Before and after the stop, long enough for HAProxy to mark the host down (two failed checks, 1 s apart).
ACKNOWLEDGED_BEFORE_STOP = 30
AFTER_STOP_SECONDS = 3.5
# Past HAProxy's two checks 1 s apart: from then on it sends the stopped host nothing.
MARKED_DOWN_WITHIN = 2.5


def period_row(write: Write) -> tuple[str, str, str, float, int, int]:
    s = write.summary
    return (*write.key, s["total_hours"], s["unique_contacts_helped"], s["activity_count"])


def load_while_stopping(cluster: Balanced, traffic: Traffic, how: str) -> float:
    """Reads and writes through the balancer; once enough writes are acknowledged, stop (SIGTERM) or kill
    (SIGKILL) the second host, and keep the load on for a while. Returns when the host was stopped."""

    async def scenario() -> float:
        stop = asyncio.Event()
        clients = asyncio.create_task(traffic.run(stop))
        deadline = time.monotonic() + 60
        while len(traffic.acknowledged) < ACKNOWLEDGED_BEFORE_STOP and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        stopped_at = time.monotonic()
        host = cluster.hosts[1]
        await asyncio.to_thread(host.stop if how == "sigterm" else host.kill)
        await asyncio.sleep(AFTER_STOP_SECONDS)
        stop.set()
        await clients
        return stopped_at

    return run(scenario())


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_host_stopped_under_load_loses_no_acknowledged_write_and_the_balancer_routes_around_it(
    empty_postgres_database: str, redis_server: RedisServer, tmp_path: Path, how: str
) -> None:
    """SIGTERM (a host taken out, as in a rolling deploy) lets its requests in flight finish, and HAProxy sends
    the ones it refuses to the other hosts: no request fails. SIGKILL (a host that dies) cuts its requests in
    flight, which HAProxy answers 502 (never sent again: a write is decided once); those writes were not
    acknowledged, and from then on every request is served by the other two."""
    with balanced(
        tmp_path, empty_postgres_database, redis_server.url, MILESTONES_RATE_LIMIT_WRITES="100000/minute"
    ) as cluster:
        traffic = Traffic(cluster.base_url, clients=6, prefix=how, mentors_per_client=2, pause=0.005)
        stopped_at = load_while_stopping(cluster, traffic, how)
        served_after = cluster.requests_served(MILESTONES_PATH, hosts=(0, 2))
        with httpx.Client(base_url=cluster.base_url, timeout=30) as http:
            mentors = sorted({w.mentor_id for w in traffic.attempted})
            periods = {m: http.get(f"/api/v1/mentors/{m}/periods").json()["data"] for m in mentors}

    failed = [a for a in traffic.answers if not a.is_success]
    if how == "sigterm":
        assert failed == []
    else:
        # Only requests in flight at the kill failed: a 502 from the balancer, or, for one it had sent on a
        # kept-alive connection to the host, the client's connection closed (status 0) as the host's was, so
        # that the client decides whether to try again.
        assert {a.status for a in failed} <= {0, 502}
        assert all(a.started <= stopped_at + 0.5 for a in failed), [a.started - stopped_at for a in failed]
    # The load went on through the other two hosts.
    after = [a for a in traffic.answers if a.started > stopped_at + MARKED_DOWN_WITHIN]
    assert len(after) > 50 and all(a.is_success for a in after)
    assert all(count > 0 for count in served_after)

    stored = {(m, p["start_date"], p["end_date"], *p["summary"].values()) for m in mentors for p in periods[m]}
    acknowledged = {period_row(w) for w in traffic.acknowledged}
    # Every acknowledged write is there with the summary it carried; anything else stored was attempted and
    # got no 2xx (a write cut by the kill may have committed), and nothing is invented.
    assert acknowledged <= stored
    assert stored <= {period_row(w) for w in traffic.attempted}
    if how == "sigterm":
        assert stored == acknowledged
