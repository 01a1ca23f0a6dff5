"""Rate limits at the front door: per access key or client address, reads and writes apart, a 429 problem with
the RateLimit headers, counts shared through Redis by every process, and no outage when Redis goes away."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from pydantic import ValidationError

from milestones.access.keys import parse_key_list
from milestones.cli.configuration import configuration_errors
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from milestones.web.rate_limits import RETRY_SECONDS, counted_as
from tests.conftest import FakeClock
from tests.deployment import LAYOUTS, ONE_HOST, Balanced, serving_api
from tests.factories import summary_body
from tests.redis_server import RedisServer
from tests.served import clean_environment, milestones_command, serving

BASE = "/api/v1/milestones"
READ = f"{BASE}?mentor_id=alice"
HOUR = 3600
Client = AsyncTestClient[Any]


class FromPeer:
    """Hands the app each request as if its TCP peer were the address in the test's `x-test-peer` header (the
    test client has one peer only); everything else passes through untouched."""

    def __init__(self, app: FrontDoor) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            peer = dict(scope["headers"]).get(b"x-test-peer")
            if peer is not None:
                scope = {**scope, "client": (peer.decode(), 40000)}
        await self.app(scope, receive, send)


def limited(settings: Settings, redis_url: str | None, **changes: Any) -> Settings:
    return settings.model_copy(update={"redis_url": redis_url, **changes})


@pytest.fixture(params=["memory", "redis"])
def counts_in(request: pytest.FixtureRequest) -> str | None:
    """Where the counts live: this process's memory, or a Redis of the test's own (its URL)."""
    if request.param == "memory":
        return None
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


async def statuses(client: Client, count: int, method: str = "GET", path: str = READ, **kwargs: Any) -> list[int]:
    return [(await client.request(method, path, **kwargs)).status_code for _ in range(count)]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.anyio
async def test_limits_are_off_unless_configured(settings: Settings, clock: FakeClock) -> None:
    app = create_app(settings, clock=clock)
    # Failed attempts are limited by default; reads and writes only when configured.
    assert app.rate_limits is not None
    assert (app.rate_limits.reads, app.rate_limits.writes) == (None, None)
    async with AsyncTestClient(app=app) as client:
        assert set(await statuses(client, 50)) == {200}
        document = (await client.get("/openapi.json")).json()
    assert not any("429" in op["responses"] for item in document["paths"].values() for op in item.values())
    # With failed attempts unlimited too, there is nothing to count: the front door checks one attribute.
    assert create_app(settings.model_copy(update={"failed_auth_limit": None}), clock=clock).rate_limits is None


@pytest.mark.anyio
async def test_each_access_key_has_its_own_limit(settings: Settings, clock: FakeClock, counts_in: str | None) -> None:
    keyed = limited(
        settings, counts_in, api_keys=parse_key_list("key-a:write, key-b:write"), rate_limit_writes="2/hour"
    )
    async with AsyncTestClient(app=create_app(keyed, clock=clock)) as client:
        for mentor in ("a1", "a2"):
            assert (await client.post(BASE, json=summary_body(mentor), headers=bearer("key-a"))).status_code == 201
        refused = await client.post(BASE, json=summary_body("a3"), headers=bearer("key-a"))
        assert refused.status_code == 429
        assert "This access key sent more than 2 writes per hour" in refused.json()["detail"]
        # The refused write changed nothing.
        assert (await client.get(BASE, params={"mentor_id": "a3"})).json()["data"] == []
        # The other key, from the same address, has its whole limit.
        for mentor in ("b1", "b2"):
            assert (await client.post(BASE, json=summary_body(mentor), headers=bearer("key-b"))).status_code == 201
        assert (await client.post(BASE, json=summary_body("b3"), headers=bearer("key-b"))).status_code == 429
        # A refused key is still refused: its count is not reset by another key's requests.
        assert (await client.post(BASE, json=summary_body("a4"), headers=bearer("key-a"))).status_code == 429


@pytest.mark.anyio
async def test_without_a_key_each_client_address_has_its_own_limit_behind_trusted_proxies(
    settings: Settings, clock: FakeClock, counts_in: str | None
) -> None:
    proxied = limited(
        settings,
        counts_in,
        rate_limit_reads="3/hour",
        trusted_proxies=[ip_network("10.0.0.0/8")],
        proxy_header="x-forwarded-for",
    )
    async with AsyncTestClient(app=FromPeer(create_app(proxied, clock=clock))) as client:

        def via(proxy: str, client_address: str, **more: str) -> dict[str, str]:
            return {"x-test-peer": proxy, "x-forwarded-for": client_address, **more}

        assert await statuses(client, 4, headers=via("10.0.0.2", "198.51.100.1")) == [200, 200, 200, 429]
        # The proxy appends X-Forwarded-For and passes any Forwarded header on: a client naming itself there
        # is still the address the proxy saw.
        for dodge in ("for=192.0.2.1", "for=192.0.2.2"):
            assert await statuses(client, 1, headers=via("10.0.0.2", "198.51.100.1", forwarded=dodge)) == [429]
        # The same client through another of the proxies is the same client.
        assert await statuses(client, 1, headers=via("10.0.0.3", "198.51.100.1")) == [429]
        # Another client behind the same proxy has its own limit.
        assert await statuses(client, 4, headers=via("10.0.0.2", "198.51.100.2")) == [200, 200, 200, 429]
        # A peer that is not a trusted proxy is counted as itself, whatever address it claims.
        untrusted = via("203.0.113.9", "198.51.100.1")
        assert await statuses(client, 4, headers=untrusted) == [200, 200, 200, 429]


@pytest.mark.anyio
async def test_a_refusal_is_a_429_problem_with_retry_after_and_the_ratelimit_headers(
    settings: Settings, clock: FakeClock, counts_in: str | None
) -> None:
    origin = "https://app.example.org"
    configured = limited(settings, counts_in, rate_limit_reads="2/hour", cors_origins=[origin])
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        allowed = [await client.get(READ, headers={"Origin": origin}) for _ in range(2)]
        # Answers within the limit carry no RateLimit fields (that would cost a second count per request).
        assert [a.status_code for a in allowed] == [200, 200]
        assert not {"ratelimit", "ratelimit-policy", "retry-after"} & set(allowed[0].headers)
        refused = await client.get(READ, headers={"Origin": origin})
        head = await client.head(READ)

    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= HOUR
    problem = refused.json()
    assert problem == {
        "type": "/problems/rate-limited",
        "title": "Too many requests",
        "status": 429,
        "detail": f"This address sent more than 2 reads per hour; retry in {retry_after} seconds.",
    }
    # draft-ietf-httpapi-ratelimit-headers-09: the policy (q per w seconds) and its state (r left, t seconds).
    assert refused.headers["ratelimit-policy"] == '"reads";q=2;w=3600'
    assert refused.headers["ratelimit"] == f'"reads";r=0;t={retry_after}'
    assert refused.headers["cache-control"] == "no-store"
    assert refused.headers["x-content-type-options"] == "nosniff"
    # A browser page may read them.
    exposed = {h.strip().lower() for h in refused.headers["access-control-expose-headers"].split(",")}
    assert {"retry-after", "ratelimit", "ratelimit-policy"} <= exposed
    assert refused.headers["access-control-allow-origin"] == origin
    # HEAD is refused like the GET it mirrors, without a body.
    assert head.status_code == 429
    assert head.content == b""
    assert head.headers["ratelimit-policy"] == '"reads";q=2;w=3600'


@pytest.mark.anyio
async def test_reads_and_writes_are_counted_apart(settings: Settings, clock: FakeClock, counts_in: str | None) -> None:
    configured = limited(settings, counts_in, rate_limit_reads="2/hour", rate_limit_writes="1/hour")
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        assert await statuses(client, 3) == [200, 200, 429]
        # Reads spent, a write still goes through: and HEAD counted as a read.
        assert (await client.head(READ)).status_code == 429
        assert (await client.post(BASE, json=summary_body("alice"))).status_code == 201
        refused = await client.put(f"{BASE}/alice~10h", json={"status": "achieved"})
        assert refused.status_code == 429
        assert refused.headers["ratelimit-policy"] == '"writes";q=1;w=3600'
        assert "This address sent more than 1 write per hour; retry in " in refused.json()["detail"]
        assert (await client.delete(f"{BASE}/alice~10h")).status_code == 429
        assert await statuses(client, 1) == [429]


@pytest.mark.anyio
async def test_only_the_configured_kind_is_limited(settings: Settings, clock: FakeClock) -> None:
    configured = limited(settings, None, rate_limit_writes="1/hour")
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        assert set(await statuses(client, 30)) == {200}
        assert (await client.post(BASE, json=summary_body("alice"))).status_code == 201
        assert (await client.post(BASE, json=summary_body("alice"))).status_code == 429


NEVER_COUNTED = [
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/schema/openapi.json",
    "/docs",
    "/redoc",
    "/problems",
    "/problems/rate-limited",
]


@pytest.mark.anyio
async def test_health_checks_docs_problem_pages_and_preflights_are_never_counted(
    settings: Settings, clock: FakeClock
) -> None:
    origin = "https://app.example.org"
    configured = limited(settings, None, rate_limit_reads="1/hour", rate_limit_writes="1/hour", cors_origins=[origin])
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        for _ in range(3):
            for path in NEVER_COUNTED:
                assert (await client.get(path)).status_code == 200, path
            assert (await client.head("/healthz")).status_code == 200
            assert (await client.options(BASE, headers=preflight)).status_code == 204
            assert (await client.options(BASE)).status_code != 429
        assert await statuses(client, 2) == [200, 429]
        assert (await client.post(BASE, json=summary_body("alice"))).status_code == 201
        # Over both limits, the client can still read what its 429 means; a load balancer still sees health.
        for path in NEVER_COUNTED:
            assert (await client.get(path)).status_code == 200, path
        # What only looks like one of them is counted: whole path segments.
        assert (await client.get("/docsearch")).status_code == 429
        # Badges and definitions are the service's content, and reads like any other.
        assert (await client.get("/api/v1/milestone-definitions")).status_code == 429
        assert (await client.get("/assets/badges/100h.svg")).status_code == 429


@pytest.mark.anyio
async def test_the_document_states_the_429_where_a_limit_applies(settings: Settings, clock: FakeClock) -> None:
    configured = limited(settings, None, rate_limit_reads="600/minute")
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    read = paths[BASE]["get"]["responses"]["429"]
    assert "/problems/rate-limited" in read["description"]
    assert set(read["headers"]) == {"Retry-After", "RateLimit-Policy", "RateLimit"}
    assert read["content"]["application/problem+json"]
    # Writes are not limited here, and health checks never are.
    assert "429" not in paths[BASE]["post"]["responses"]
    assert "429" not in paths["/healthz"]["get"]["responses"]
    assert "429" not in paths["/readyz"]["get"]["responses"]


# --- settings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("600/minute", "600/minute"),
        (" 100 per 5 minutes ", "100 per 5 minutes"),
        ("10/second", "10/second"),
        ("", None),
    ],
)
def test_a_rate_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, given: str, kept: str | None) -> None:
    monkeypatch.setenv("MILESTONES_RATE_LIMIT_READS", given)
    monkeypatch.setenv("MILESTONES_RATE_LIMIT_WRITES", given)
    settings = Settings()
    assert (settings.rate_limit_reads, settings.rate_limit_writes) == (kept, kept)
    assert settings.rate_limited is (kept is not None)


RATE_RULE = (
    "must be one rate such as 600/minute: a whole number of requests of at least 1, per second, minute, hour or "
    "day (or per N of them, as in 100/5 minutes)"
)
REDIS_RULE = "must be a Redis URL: redis://host:6379/0, rediss://host:6380/0 or unix:///path/to/socket"


@pytest.mark.parametrize("bad_rate", ["lots", "600", "0/minute", "600/fortnight", "600/minute;10/second", "-1/hour"])
@pytest.mark.parametrize("bad_redis", ["http://cache:6379", "redis://cache:99999", "cache:6379"])
def test_every_bad_rate_limit_setting_is_named(bad_rate: str, bad_redis: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(rate_limit_reads=bad_rate, rate_limit_writes=bad_rate, redis_url=bad_redis)
    assert configuration_errors(refused.value) == (
        f"MILESTONES_RATE_LIMIT_READS: {RATE_RULE}; MILESTONES_RATE_LIMIT_WRITES: {RATE_RULE}; "
        f"MILESTONES_REDIS_URL: {REDIS_RULE}"
    )


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6380/0", "rediss://user:secret@cache.example.org:6380/1", "unix:///run/redis/redis.sock"]
)
def test_redis_urls_are_accepted(url: str) -> None:
    assert Settings(redis_url=url).redis_url == url


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_a_bad_rate_stops_every_command_in_one_line(tmp_path: Path, command: str) -> None:
    env = clean_environment(
        MILESTONES_DATABASE_URL=f"sqlite:///{tmp_path / 'm.sqlite3'}", MILESTONES_RATE_LIMIT_WRITES="60 a minute"
    )
    result = subprocess.run(milestones_command(command), env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"milestones: invalid configuration: MILESTONES_RATE_LIMIT_WRITES: {RATE_RULE}"
    ]


# --- Redis: shared counts, and failing open --------------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "per-process"])
def test_the_limit_holds_across_two_server_processes_sharing_redis(
    sqlite_settings: Settings, tmp_path: Path, redis_server: RedisServer, shared: bool
) -> None:
    """Two `milestones serve` processes on one database, as two hosts would be, called in turn. With Redis
    they share one count; without it each allows the whole limit (what the README says). The counts never
    touch the database, so one back end is enough for the tests that start servers."""
    limit = 10
    env = clean_environment(
        MILESTONES_DATABASE_URL=sqlite_settings.database_url, MILESTONES_RATE_LIMIT_READS=f"{limit}/hour"
    )
    if shared:
        env["MILESTONES_REDIS_URL"] = redis_server.url
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with serving(cwd=tmp_path / "a", env=env) as first, serving(cwd=tmp_path / "b", env=env) as second:
        answers = [httpx.get(server.url + READ).status_code for _ in range(limit * 3) for server in (first, second)]
    accepted, refused = answers.count(200), answers.count(429)
    assert accepted + refused == len(answers)
    assert accepted == (limit if shared else 2 * limit)
    # Each process refused some: each saw the other's requests counted (or, per process, its own only).
    assert 429 in answers[0::2] and 429 in answers[1::2]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_limit_holds_across_the_worker_processes_of_one_server_and_across_hosts(
    tmp_path: Path, redis_server: RedisServer, layout: str, request: pytest.FixtureRequest
) -> None:
    """`serve --workers 2`, where which worker takes a connection is the kernel's choice; or deploy/'s three
    hosts behind HAProxy, which hands each new request to the next host (its X-Forwarded-For names the
    client the limit counts). Either way the total holds; the test above, with its two servers called in
    turn, shows that each process sees the other's."""
    limit = 10
    if layout == ONE_HOST:
        database_url = request.getfixturevalue("sqlite_settings").database_url
    else:
        database_url = request.getfixturevalue("empty_postgres_database")
    with serving_api(
        layout,
        database_url,
        tmp_path / "api",
        workers=2,
        redis_url=redis_server.url,
        MILESTONES_RATE_LIMIT_READS=f"{limit}/hour",
    ) as server:
        # A new connection for each request, so the operating system hands them to either worker.
        answers = [httpx.get(server.base_url + READ, headers={"Connection": "close"}).status_code for _ in range(60)]
        if isinstance(server, Balanced):
            # Every host answered its share, refusals among them: each host saw the others' counts.
            assert all(count >= 15 for count in server.requests_served(BASE))
    assert answers.count(200) == limit
    assert answers.count(429) == 60 - limit


class RateLimitLog(logging.Handler):
    """The rate limits' lines of the service's log, kept as they are logged."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("rate limits"):
            self.messages.append(record.getMessage())

    @property
    def lines(self) -> list[str]:
        """What each line says, up to its colon."""
        return [message.split(":")[0] for message in self.messages]


@contextmanager
def rate_limit_log() -> Iterator[RateLimitLog]:
    """Attached once the app has started (its logging set up), detached afterwards."""
    handler = RateLimitLog()
    logger = logging.getLogger("milestones")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.mark.anyio
async def test_when_redis_goes_away_requests_are_served_and_limiting_resumes_when_it_is_back(
    settings: Settings, clock: FakeClock, redis_server: RedisServer
) -> None:
    configured = limited(settings, redis_server.url, rate_limit_reads="3/hour")
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        with rate_limit_log() as log:
            assert await statuses(client, 4) == [200, 200, 200, 429]
            redis_server.stop()
            # Served without limits, past the once-a-second retry, and said once.
            assert set(await statuses(client, 20)) == {200}
            time.sleep(RETRY_SECONDS + 0.1)
            assert set(await statuses(client, 20)) == {200}
            assert log.lines == ["rate limits are off"]
            assert redis_server.url in log.messages[0] and "ConnectionError" in log.messages[0]

            redis_server.start()  # empty: the counts start again
            time.sleep(RETRY_SECONDS + 0.1)
            assert await statuses(client, 4) == [200, 200, 200, 429]
            assert log.lines == ["rate limits are off", "rate limits are on again"]


@pytest.fixture(params=["user part", "query"])
def silent_redis(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Redis URL whose server accepts connections and never answers, like a host that hangs; its password in
    the URL's user part or in its query string (redis-py takes both)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        if request.param == "user part":
            yield f"redis://:hunter2@127.0.0.1:{port}/0"
        else:
            yield f"redis://127.0.0.1:{port}/0?password=hunter2"


@pytest.mark.anyio
async def test_a_redis_that_hangs_costs_one_short_wait_a_second_not_one_per_request(
    settings: Settings, clock: FakeClock, silent_redis: str
) -> None:
    configured = limited(settings, silent_redis, rate_limit_reads="3/hour")
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        with rate_limit_log() as log:
            started = time.monotonic()
            answers = await statuses(client, 50)
            elapsed = time.monotonic() - started
    assert set(answers) == {200}
    # One request waited (a short timeout, tried twice: 0.5 s); the other 49 went straight through.
    assert elapsed < 2.0
    assert log.lines == ["rate limits are off"]
    assert "TimeoutError" in log.messages[0]
    assert "hunter2" not in log.messages[0]  # the log never shows Redis's password


def test_a_server_logs_once_when_redis_goes_and_once_when_it_is_back(
    sqlite_settings: Settings, tmp_path: Path, redis_server: RedisServer
) -> None:
    env = clean_environment(
        MILESTONES_DATABASE_URL=sqlite_settings.database_url,
        MILESTONES_RATE_LIMIT_WRITES="2/hour",
        MILESTONES_REDIS_URL=redis_server.url,
    )
    with serving(cwd=tmp_path, env=env) as server, httpx.Client(base_url=server.url) as client:

        def writes(count: int) -> list[int]:
            return [client.delete(f"{BASE}/nobody~10h").status_code for _ in range(count)]

        assert writes(3) == [404, 404, 429]
        redis_server.stop()
        assert set(writes(10)) == {404}
        time.sleep(RETRY_SECONDS + 0.1)
        assert set(writes(10)) == {404}
        redis_server.start()
        time.sleep(RETRY_SECONDS + 0.1)
        assert writes(3) == [404, 404, 429]
        lines = [line for line in server.log_text().splitlines() if "rate limits" in line]
    assert len(lines) == 2, lines
    assert "rate limits are off: Redis at " in lines[0] and "served without limits" in lines[0]
    assert "rate limits are on again" in lines[1]


# --- Redis: blocks claimed by each process ---------------------------------------------------------------------

BLOCKED_LIMIT = 640  # per hour: blocks of up to 640 // 64 = 10 hits
BLOCK = 10


@pytest.mark.anyio
async def test_limits_under_128_are_counted_in_redis_one_request_at_a_time(
    sqlite_settings: Settings, clock: FakeClock, redis_server: RedisServer
) -> None:
    configured = limited(sqlite_settings, redis_server.url, rate_limit_reads="127/hour")
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        await statuses(client, 1)  # the connection is opened, the scripts are loaded
        redis_server.reset_calls()
        assert set(await statuses(client, 40)) == {200}
        assert redis_server.round_trips() == 40


@pytest.mark.anyio
async def test_most_requests_make_no_redis_round_trip(
    sqlite_settings: Settings, clock: FakeClock, redis_server: RedisServer
) -> None:
    """256 is the largest block: 1,000 requests cost 8 claims while the blocks grow (1, 2, ... 128: 255 hits)
    and one a block of 256 after that, plus one read of the window, not 1,000 round trips."""
    configured = limited(sqlite_settings, redis_server.url, rate_limit_reads="100000/hour")
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        redis_server.reset_calls()
        assert set(await statuses(client, 1000)) == {200}
        sequential = redis_server.round_trips()
        # Concurrent requests of one client wait for the claim in flight instead of each claiming.
        redis_server.reset_calls()
        for _ in range(10):
            answers = await asyncio.gather(*(client.get(READ) for _ in range(100)))
            assert {answer.status_code for answer in answers} == {200}
        concurrent = redis_server.round_trips()
    assert sequential <= 8 + math.ceil((1000 - 255) / 256) + 1 + 2  # 12, and two for the scripts' first load
    assert concurrent <= math.ceil(1000 / 256) + 2


async def count_until_refused(clients: list[Client], rounds: int) -> list[int]:
    """Reads sent to each client in turn, `rounds` times: a client spread over processes by a load balancer."""
    return [(await client.get(READ)).status_code for _ in range(rounds) for client in clients]


@pytest.mark.anyio
async def test_two_apps_sharing_redis_never_admit_more_than_the_limit_and_refuse_within_the_bound(
    sqlite_settings: Settings, clock: FakeClock, redis_server: RedisServer
) -> None:
    """P = 2 processes, blocks of b = 10: at most the limit, at least limit - (P-1)(b-1); once one of them
    refuses, the other admits at most the b-1 hits it holds, and then both refuse."""
    configured = limited(sqlite_settings, redis_server.url, rate_limit_reads=f"{BLOCKED_LIMIT}/hour")
    async with (
        AsyncTestClient(app=create_app(configured, clock=clock)) as first,
        AsyncTestClient(app=create_app(configured, clock=clock)) as second,
    ):
        answers = await count_until_refused([first, second], BLOCKED_LIMIT)
    accepted = answers.count(200)
    assert BLOCKED_LIMIT - (BLOCK - 1) <= accepted <= BLOCKED_LIMIT
    first_refusal = answers.index(429)
    assert answers[first_refusal:].count(200) <= BLOCK - 1
    assert set(answers[first_refusal + 2 * BLOCK :]) == {429}


@pytest.mark.anyio
async def test_a_client_that_moves_between_apps_still_gets_no_more_than_the_limit(
    sqlite_settings: Settings, clock: FakeClock, redis_server: RedisServer
) -> None:
    """The worst case: one process holds a block the client then leaves unused while it is served by another,
    which refuses up to b-1 requests early; the held hits are still the client's, admitted when it comes back."""
    configured = limited(sqlite_settings, redis_server.url, rate_limit_reads=f"{BLOCKED_LIMIT}/hour")
    async with (
        AsyncTestClient(app=create_app(configured, clock=clock)) as first,
        AsyncTestClient(app=create_app(configured, clock=clock)) as second,
    ):
        # 1 + 2 + 4 + 8 + 10: the first app holds a full block, of which it has used one.
        assert set(await statuses(first, 16)) == {200}
        on_second = await statuses(second, BLOCKED_LIMIT)
        back_on_first = await statuses(first, BLOCK)
    assert on_second.count(200) == BLOCKED_LIMIT - 16 - (BLOCK - 1)
    assert set(on_second[on_second.index(429) :]) == {429}
    assert back_on_first == [200] * (BLOCK - 1) + [429]
    assert 16 + on_second.count(200) + back_on_first.count(200) == BLOCKED_LIMIT


@pytest.mark.anyio
async def test_blocks_do_not_outlive_their_window(
    sqlite_settings: Settings, clock: FakeClock, redis_server: RedisServer
) -> None:
    """With a 2-second window, a block claimed in one window is dropped when it ends: a full window later the
    client has its whole limit again (and no more: the held hits of the old window are gone)."""
    configured = limited(sqlite_settings, redis_server.url, rate_limit_reads="640/2 seconds")
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        assert set(await statuses(client, 16)) == {200}  # holds 9 of a block of 10
        time.sleep(4.1)  # past the window and the next one: nothing of either is counted any more
        redis_server.reset_calls()
        assert await statuses(client, 1) == [200]
        assert redis_server.round_trips() == 1  # a new claim of one hit, not one of the old block's


# --- whom an address counts as ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "prefix", "counted"),
    [
        ("198.51.100.7", 64, "198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", 64, "2001:db8:1:3::/64"),
        ("2001:db8:1:2:aaaa::1", 48, "2001:db8:1::/48"),
        ("2001:db8:1:2:aaaa::1", 128, "2001:db8:1:2:aaaa::1/128"),
        # An IPv4 client on a dual-stack socket is still counted as its own IPv4 address, never as ::ffff:0:0/64.
        ("::ffff:198.51.100.7", 64, "198.51.100.7"),
        ("testclient", 64, "testclient"),
    ],
)
def test_ipv6_addresses_are_counted_per_network(address: str, prefix: int, counted: str) -> None:
    assert counted_as(address, prefix) == counted


@pytest.mark.anyio
async def test_clients_of_one_ipv6_network_share_a_limit(settings: Settings, clock: FakeClock) -> None:
    configured = limited(settings, None, rate_limit_reads="2/hour")
    async with AsyncTestClient(app=FromPeer(create_app(configured, clock=clock))) as client:

        def peer(address: str) -> dict[str, str]:
            return {"x-test-peer": address}

        assert await statuses(client, 1, headers=peer("2001:db8:1:2::1")) == [200]
        # Another address of the same /64 (one host holds all of them) is the same client.
        assert await statuses(client, 2, headers=peer("2001:db8:1:2:dead:beef:0:7")) == [200, 429]
        assert await statuses(client, 2, headers=peer("2001:db8:1:3::1")) == [200, 200]


@pytest.mark.parametrize(("given", "kept"), [(None, 64), ("48", 48), ("128", 128)])
def test_the_ipv6_prefix_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, given: str | None, kept: int
) -> None:
    if given is None:
        monkeypatch.delenv("MILESTONES_IPV6_PREFIX", raising=False)
    else:
        monkeypatch.setenv("MILESTONES_IPV6_PREFIX", given)
    assert Settings().ipv6_prefix == kept


@pytest.mark.anyio
async def test_the_request_log_names_the_address_the_limits_count(settings: Settings, clock: FakeClock) -> None:
    """Behind a trusted proxy, the client's address, never the proxy's (nor one a client wrote itself)."""
    stream = io.BytesIO()
    proxied = limited(
        settings,
        None,
        rate_limit_reads="1/hour",
        trusted_proxies=[ip_network("10.0.0.0/8")],
        proxy_header="x-forwarded-for",
    )
    app = create_app(proxied, clock=clock, request_log=stream)
    proxy = {"x-test-peer": "10.0.0.2", "x-forwarded-for": "198.51.100.1", "forwarded": "for=192.0.2.9"}
    async with AsyncTestClient(app=FromPeer(app)) as client:
        assert await statuses(client, 2, headers=proxy) == [200, 429]
    app.observer.flush()
    logged = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["status"], line["client"]) for line in logged] == [(200, "198.51.100.1"), (429, "198.51.100.1")]


# --- failed attempts -------------------------------------------------------------------------------------------


def keyed(settings: Settings, counts_in: str | None, **changes: Any) -> Settings:
    return limited(
        settings,
        counts_in,
        **{
            "api_keys": parse_key_list("good-key:write"),
            "failed_auth_limit": "3/hour",
            "page_link_secret": "a-page-link-secret-long-enough",
            **changes,
        },
    )


@pytest.mark.anyio
async def test_failed_key_attempts_are_counted_per_address_and_answered_429_past_the_limit(
    settings: Settings, clock: FakeClock, counts_in: str | None
) -> None:
    async with AsyncTestClient(app=FromPeer(create_app(keyed(settings, counts_in), clock=clock))) as client:

        def write(key: str | None, address: str = "198.51.100.1") -> Any:
            headers = {"x-test-peer": address, **({} if key is None else bearer(key))}
            return client.delete(f"{BASE}/nobody~10h", headers=headers)

        # Wrong keys and no key alike: each 401 counts.
        assert [(await write(key)).status_code for key in ("guess-1", None, "guess-2")] == [401, 401, 401]
        refused = await write("guess-3")
        assert refused.status_code == 429
        assert refused.headers["ratelimit-policy"] == '"failed-auth";q=3;w=3600'
        assert refused.headers["cache-control"] == "no-store"
        assert 1 <= int(refused.headers["retry-after"]) <= HOUR
        assert refused.json()["detail"].startswith(
            "This address sent more than 3 requests without a valid access key or signed link per hour; retry in "
        )
        # Past the limit even the right key is refused, before it is checked: a right guess looks like a wrong one.
        assert (await write("good-key")).status_code == 429
        # Another address is not barred, and what needs no key is not refused to the barred one.
        assert (await write("good-key", "198.51.100.2")).status_code == 404
        assert (await client.get(READ, headers={"x-test-peer": "198.51.100.1"})).status_code == 200
        assert (await client.get("/healthz", headers={"x-test-peer": "198.51.100.1"})).status_code == 200


@pytest.mark.anyio
async def test_a_refused_signed_link_is_a_failed_attempt_too(settings: Settings, clock: FakeClock) -> None:
    configured = keyed(settings, None, read_requires_key=True)
    async with AsyncTestClient(app=create_app(configured, clock=clock)) as client:
        page = "/mentors/mentor_001?expires=4102444800&signature=" + "0" * 64
        assert await statuses(client, 5, path=page) == [401, 401, 401, 429, 429]
        browser = await client.get(page, headers={"Accept": "text/html"})
        assert (browser.status_code, browser.headers["content-type"]) == (429, "text/html; charset=utf-8")
        # Keys are then refused to that address as well.
        assert await statuses(client, 1, path=READ, headers=bearer("good-key")) == [429]


@pytest.mark.anyio
async def test_failed_attempts_are_counted_in_redis_by_every_process(
    settings: Settings, clock: FakeClock, redis_server: RedisServer
) -> None:
    configured = keyed(settings, redis_server.url)
    async with (
        AsyncTestClient(app=create_app(configured, clock=clock)) as first,
        AsyncTestClient(app=create_app(configured, clock=clock)) as second,
    ):
        path = f"{BASE}/nobody~10h"
        wrong = bearer("guess")
        assert await statuses(first, 2, "DELETE", path, headers=wrong) == [401, 401]
        assert await statuses(second, 2, "DELETE", path, headers=wrong) == [401, 429]
        # The first process learns of it at that address's next failure there (one more guess, at most).
        assert await statuses(first, 1, "DELETE", path, headers=wrong) == [429]
        assert await statuses(first, 1, "DELETE", path, headers=bearer("good-key")) == [429]


@pytest.mark.anyio
@pytest.mark.parametrize("limit", ["3/hour", None])
async def test_the_document_states_the_429_of_failed_attempts_where_a_key_is_checked(
    settings: Settings, clock: FakeClock, limit: str | None
) -> None:
    async with AsyncTestClient(app=create_app(keyed(settings, None, failed_auth_limit=limit), clock=clock)) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    write = paths[BASE]["post"]["responses"]
    assert ("429" in write) is (limit is not None)
    if limit is not None:
        assert set(write["429"]["headers"]) == {"Retry-After", "RateLimit-Policy", "RateLimit"}
    assert "429" not in paths[BASE]["get"]["responses"]  # reads need no key here, and have no limit


@pytest.mark.parametrize(("given", "kept"), [(None, "20/minute"), ("5/second", "5/second"), ("", None)])
def test_the_failed_attempts_limit_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, given: str | None, kept: str | None
) -> None:
    if given is None:
        monkeypatch.delenv("MILESTONES_FAILED_AUTH_LIMIT", raising=False)
    else:
        monkeypatch.setenv("MILESTONES_FAILED_AUTH_LIMIT", given)
    assert Settings().failed_auth_limit == kept
    monkeypatch.setenv("MILESTONES_FAILED_AUTH_LIMIT", "twenty")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert configuration_errors(refused.value) == f"MILESTONES_FAILED_AUTH_LIMIT: {RATE_RULE}"
