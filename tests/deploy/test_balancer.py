"""deploy/'s three hosts behind HAProxy: a host stopped, and then another killed, under load lose no
acknowledged write, and the balancer routes around each."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.deployment import Balanced, balanced
from tests.redis_server import RedisServer
from tests.reliability.servers import MILESTONES_PATH, Traffic, Write, run

ACKNOWLEDGED_BEFORE = 25
# Between a stop and what follows: long enough for HAProxy to mark the host down (two failed checks, 1 s apart).
AFTER_EACH_SECONDS = 3.0
MARKED_DOWN_WITHIN = 2.5
# A request cut by the kill was sent before it, or just as it happened.
IN_FLIGHT_WITHIN = 0.5


@dataclass(frozen=True)
class Stops:
    """When the second host was stopped (SIGTERM) and the third killed (SIGKILL), by the monotonic clock."""

    stopped: float
    killed: float


def period_row(write: Write) -> tuple[str, str, str, float, int, int]:
    s = write.summary
    return (*write.key, s["total_hours"], s["unique_contacts_helped"], s["activity_count"])


def stop_then_kill_under_load(cluster: Balanced, traffic: Traffic) -> Stops:
    """Reads and writes through the balancer; once enough writes are acknowledged, stop the second host as a
    rolling deploy does (SIGTERM), later kill the third as a crash does (SIGKILL), and keep the load on
    after each."""

    async def scenario() -> Stops:
        stop = asyncio.Event()
        clients = asyncio.create_task(traffic.run(stop))
        deadline = time.monotonic() + 60
        while len(traffic.acknowledged) < ACKNOWLEDGED_BEFORE and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        stopped = time.monotonic()
        await asyncio.to_thread(cluster.hosts[1].stop)
        await asyncio.sleep(AFTER_EACH_SECONDS)
        killed = time.monotonic()
        await asyncio.to_thread(cluster.hosts[2].kill)
        await asyncio.sleep(AFTER_EACH_SECONDS)
        stop.set()
        await clients
        return Stops(stopped, killed)

    return run(scenario())


@pytest.mark.postgres
def test_hosts_stopped_or_killed_under_load_lose_no_acknowledged_write_and_the_balancer_routes_around_them(
    empty_postgres_database: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    """SIGTERM (a host taken out) lets its requests in flight finish, and HAProxy sends those it refuses to the
    other hosts: no request fails. SIGKILL (a host that dies) cuts its requests in flight: HAProxy answers
    them 502, or closes the client's connection (one it had sent on a kept-alive connection to the host, so
    that the client decides whether to try again); it never sends them again, since a write is decided once.
    Those writes were not acknowledged, and from then on every request is served by the host that is left."""
    with balanced(
        tmp_path, empty_postgres_database, redis_server.url, MILESTONES_RATE_LIMIT_WRITES="100000/minute"
    ) as cluster:
        traffic = Traffic(cluster.base_url, clients=6, prefix="lb", mentors_per_client=2, pause=0.005)
        stops = stop_then_kill_under_load(cluster, traffic)
        (served_by_the_last,) = cluster.requests_served(MILESTONES_PATH, hosts=(0,))
        with httpx.Client(base_url=cluster.base_url, timeout=30) as http:
            mentors = sorted({w.mentor_id for w in traffic.attempted})
            periods = {m: http.get(f"/api/v1/mentors/{m}/periods").json()["data"] for m in mentors}

    failed = [a for a in traffic.answers if not a.is_success]
    # Not one failure from the stop; only requests in flight at the kill failed, and only as said above.
    assert {a.status for a in failed} <= {0, 502}, failed
    assert all(stops.killed <= a.finished and a.started <= stops.killed + IN_FLIGHT_WITHIN for a in failed), [
        (a.started - stops.killed, a.status) for a in failed
    ]
    # The load went on through the other hosts after each (up to the kill, for the first: what it cut failed).
    for since, until in ((stops.stopped, stops.killed), (stops.killed, float("inf"))):
        later = [a for a in traffic.answers if since + MARKED_DOWN_WITHIN < a.started and a.finished < until]
        assert len(later) > 30 and all(a.is_success for a in later)
    assert served_by_the_last > 0

    stored = {(m, p["start_date"], p["end_date"], *p["summary"].values()) for m in mentors for p in periods[m]}
    acknowledged = {period_row(w) for w in traffic.acknowledged}
    # Every acknowledged write is there with the summary it carried; anything else stored was a write cut by
    # the kill (it may have committed), and nothing is invented.
    assert acknowledged <= stored
    assert stored - acknowledged <= {period_row(w) for w in traffic.attempted if w not in traffic.acknowledged}
    assert len(stored - acknowledged) <= len(failed)
