"""Rate limits: how many reads and writes each access key (or, without one, each client address) may make.

Off unless MILESTONES_RATE_LIMIT_READS or MILESTONES_RATE_LIMIT_WRITES is set; the front door then asks
`RateLimits.check` about every request once its key is known. Counts live in Redis when MILESTONES_REDIS_URL
is set, shared by every worker and host; otherwise in each worker process's memory, so each process allows
the full limit. The strategy is the `limits` package's sliding window counter: the count of the current
window plus the previous window's count weighted by how much of it still overlaps the last `w` seconds. A
fixed window would let a client send twice the limit around a window's edge; a true moving window stores a
timestamp per request. This one keeps two counters per client.

In Redis, a process does not ask about every request: it claims a block of a client's limit (the `limits`
script, `hit(cost=n)`, which adds n to the shared count only if n more fit) and admits the next n-1
requests of that client from it, in memory. A client's first claim in a window is 1 hit, each next one
twice the last, up to the block size `b = clamp(limit // 64, 1, 256)`: limits under 128 are counted one
request at a time, exactly as before. The first claim above 1 in a window reads the window first (its end,
and what is left of the limit), so a block never asks for more than is left and is dropped when its window
ends; once a block does not fit, claims are single hits until the window ends. How exact, with P
processes (workers times hosts) serving one client, taking the `limits` counter as the truth:

- Never more than the limit: every admitted request was added to the shared count before it was admitted,
  in the window it is admitted in.
- A 429 at the limit or before it: a process refuses once its own block is spent and Redis has no room.
  The other processes may then still hold unused blocks, at most b-1 hits each, which they admit before
  they refuse too: a client spread over P processes gets at least limit - (P-1)(b-1) requests a window,
  and after the first 429 at most (P-1)(b-1) more. A client that keeps to one process (a keep-alive
  connection) gets the limit. A block unused when its window ends counts as requests sent would (so it
  weighs on the next window too, at most b-1 hits per process).
- Round trips: a client sending a request or two a window costs one a request, as before; a busy one one
  per b requests, plus log2(b) while the blocks grow and one window read, a window (1,000 reads at b = 256:
  12 round trips). Concurrent requests of a client in a process wait for the claim in flight rather than
  claiming too (so a process holds one block of a client at most). A refused request costs two (the hit,
  and the window for Retry-After), as before.

When Redis does not answer, requests are served without limits (fail open): one log line when it goes, one
when it is back. Its waits are short, and after a failure it is tried again at most once a second (by one
request; the others go straight through meanwhile), so a dead Redis never slows every request down.

Failed attempts (MILESTONES_FAILED_AUTH_LIMIT, 20/minute unless set otherwise) are counted the same way, per
client address, one count per 401 (a limit under 128 claims no blocks: each one is counted in Redis). Past
the limit, the process that counted it bars the address for what is left of the window: wherever a key or a
signed link would be checked, the address is answered 429 before the check, so a right guess is not told
from a wrong one. Another process learns of it at that address's next 401 there (one more guess a process).

Addresses are counted as they are, IPv6 ones by their network (MILESTONES_IPV6_PREFIX, a /64 by default): one
host commonly holds a whole /64, and would otherwise have 2**64 addresses to spread its requests over.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from ipaddress import IPv6Address, IPv6Network, ip_address

import limits
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as SharedLimiter
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter as MemoryLimiter
from litestar.openapi.spec import OpenAPI, OpenAPIHeader, OpenAPIResponse, OpenAPIType, Operation, Schema
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from milestones.errors import RateLimited
from milestones.ops.logs import redacted
from milestones.settings import Settings
from milestones.web.problem_types import PROBLEM_TYPES
from milestones.web.problems import problem_description
from milestones.web.route_table import RouteTable

# Which limit counts a route is its policy's `rate_limit` (web/route_table.py): none for the health checks,
# which load balancers call and which must tell the truth however busy a client is, nor for what describes the
# service (the OpenAPI document, the docs and problem pages), so that a client told 429 can still read what
# it means.
# A Redis that takes longer than this for one counter is as good as down for a request path measured in
# microseconds. One retry, at once: a pooled connection Redis dropped (a restart) is reopened, not failed.
REDIS_TIMEOUT_SECONDS = 0.25
RETRY_SECONDS = 1.0
KEY_PREFIX = "milestones:ratelimit"
# A block is at most this share of the limit and this many hits: the more hits a block holds, the fewer round
# trips, and the more of the limit one process may hold unused while another refuses (see above). With 64 at
# most, GET one in Redis measured 0.69x of limits off on a loaded 2-core machine (a round trip to a Redis that
# has slept costs 1 to 7 ms there); with 256, 0.84x and 0.88x (docs/PERFORMANCE.md).
BLOCK_SHARE = 64
MAX_BLOCK = 256
# How often the blocks of past windows are dropped from memory.
SWEEP_SECONDS = 1.0
log = logging.getLogger("milestones")


@dataclass(frozen=True, slots=True)
class Policy:
    """One kind of request's limit, named as the RateLimit headers name it."""

    name: str  # "reads" or "writes"
    item: limits.RateLimitItem

    @property
    def window_seconds(self) -> int:
        return self.item.get_expiry()

    @property
    def per(self) -> str:
        """The window in words: "minute", "5 minutes"."""
        unit = self.item.GRANULARITY.name
        return unit if self.item.multiples == 1 else f"{self.item.multiples} {unit}s"


def block_cap(limit: limits.RateLimitItem) -> int:
    """The most hits one claim takes from Redis: 1 (every request counted there) for limits under 128."""
    return max(1, min(MAX_BLOCK, limit.amount // BLOCK_SHARE))


@dataclass(slots=True)
class Lease:
    """What one process holds of one client's limit in Redis: hits claimed there and not yet admitted."""

    window: int  # the limit's window, in seconds
    left: int = 0  # hits claimed and not yet used
    ends: float = 0.0  # monotonic time the window they were claimed in ends (0: not read, a single hit)
    block: int = 1  # the last claim's size; the next one is twice that
    tight: bool = False  # a block did not fit: single hits until the window ends
    claimed: float = 0.0  # monotonic time of the last claim
    claiming: asyncio.Future[None] | None = field(default=None, repr=False)  # the claim in flight

    def live(self, now: float) -> bool:
        """Whether the window its block was claimed in still lasts."""
        return now < self.ends

    def stale(self, now: float) -> bool:
        """Whether the window it knows of has ended, or (it knows of none) it has claimed nothing for a window."""
        return not self.live(now) and (self.ends > 0 or now - self.claimed >= self.window)


def policy(name: str, rate: str | None) -> Policy | None:
    return None if rate is None else Policy(name, limits.parse(rate))


FAILED_AUTH = "failed-auth"  # the failed attempts' limit, as its 429's RateLimit headers name it


@lru_cache(maxsize=4096)
def counted_as(address: str, ipv6_prefix: int) -> str:
    """Who a client address is counted as: an IPv4 address (or an IPv4 one mapped into IPv6) as itself, an IPv6
    one as its network of `ipv6_prefix` bits; anything else (a test client's name) as it is."""
    if ":" not in address:
        return address
    try:
        parsed = ip_address(address)
    except ValueError:
        return address
    if not isinstance(parsed, IPv6Address):
        return address
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(IPv6Network((parsed, ipv6_prefix), strict=False))


def storage_uri(redis_url: str) -> str:
    """The `limits` package's name for a Redis URL: redis:// is async+redis://, unix:// async+redis+unix://."""
    if redis_url.startswith("unix://"):
        return "async+redis+" + redis_url
    return "async+" + redis_url


def redis_storage(redis_url: str) -> tuple[RedisStorage, ConnectionPool]:
    """Counts in Redis, through redis-py's asyncio client with short waits, and its connections (none open yet)."""
    pool = ConnectionPool.from_url(
        redis_url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1),
    )
    storage = RedisStorage(
        storage_uri(redis_url),
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix=KEY_PREFIX,
        connection_pool=pool,  # type: ignore[arg-type]  # handed on to redis-py's client, which takes a pool
    )
    return storage, pool


class RateLimits:
    """The configured limits and the counts they are checked against."""

    def __init__(
        self,
        reads: Policy | None,
        writes: Policy | None,
        redis_url: str | None = None,
        *,
        failed_auth: Policy | None = None,
        ipv6_prefix: int = 64,
    ) -> None:
        self.reads = reads
        self.writes = writes
        self.failed_auth = failed_auth
        self.redis_url = redis_url
        self.ipv6_prefix = ipv6_prefix
        # In memory, the synchronous limiter: it never waits, and its storage drops expired counts from a
        # timer thread at most every 10 ms, where the asynchronous one walks every count on each request
        # (0.5 ms a request with 20,000 clients in the window, where this one stays under 10 µs).
        self._memory: MemoryLimiter | None = None
        self._shared: SharedLimiter | None = None
        self._storage: RedisStorage | None = None
        self._pool: ConnectionPool | None = None
        if redis_url is None:
            self._memory = MemoryLimiter(MemoryStorage())
        else:
            self._storage, self._pool = redis_storage(redis_url)
            self._shared = SharedLimiter(self._storage)
        self._leases: dict[tuple[str, str], Lease] = {}  # by policy name and client
        # Addresses past their failed attempts' limit, and when (epoch seconds) the limit lets them try again.
        self._barred: dict[str, float] = {}
        self._sweep_at = 0.0
        self._down = False  # Redis failed, and has not answered since
        self._retry_at = 0.0  # monotonic time before which Redis, having failed, is not tried again

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits | None:
        """The limits the settings configure, or None when there are none (the front door then counts nothing)."""
        failed_auth = policy(FAILED_AUTH, settings.failed_auth_limit)
        if not settings.rate_limited and failed_auth is None:
            return None
        reads = policy("reads", settings.rate_limit_reads)
        writes = policy("writes", settings.rate_limit_writes)
        return cls(reads, writes, settings.redis_url, failed_auth=failed_auth, ipv6_prefix=settings.ipv6_prefix)

    def policy_named(self, name: str | None) -> Policy | None:
        """The configured limit a route's policy names ("reads" or "writes"), if there is one."""
        if name is None:
            return None
        return self.reads if name == "reads" else self.writes

    def address(self, client: tuple[str, int] | None) -> str:
        """What a request without a key is counted as: its client's address, or an IPv6 address's network."""
        return counted_as(client[0], self.ipv6_prefix) if client else "unknown"

    async def check(self, limit: Policy, actor: str | None, client: tuple[str, int] | None) -> None:
        """Count this request against its key's (or address's) `limit`; raises RateLimited when it is over.

        `actor` is the id of the access key the request presented, None without one.
        """
        who = f"key:{actor}" if actor is not None else f"address:{self.address(client)}"
        reset_time = await self._count(limit, who)
        if reset_time is not None:
            sender = "access key" if actor is not None else "address"
            kind = limit.name if limit.item.amount != 1 else limit.name.removesuffix("s")
            raise _refusal(limit, reset_time, f"This {sender} sent more than {limit.item.amount} {kind}")

    def barred(self, client: tuple[str, int] | None) -> RateLimited | None:
        """The 429 for an address past its failed attempts' limit, answered before its key or link is checked;
        None for any other. (Memory only: a dictionary look-up, nothing when no address is barred.)"""
        if not self._barred:
            return None
        who = self.address(client)
        until = self._barred.get(who)
        if until is None:
            return None
        if time.time() >= until:
            del self._barred[who]
            return None
        assert self.failed_auth is not None
        return _refusal(self.failed_auth, until, _FAILED_SENT.format(self.failed_auth.item.amount))

    async def failed(self, client: tuple[str, int] | None) -> RateLimited | None:
        """Count a 401 against the client's address; the 429 to answer (and the address barred) when that one
        was past the limit, else None."""
        limit = self.failed_auth
        if limit is None:
            return None
        who = self.address(client)
        reset_time = await self._count(limit, who)
        if reset_time is None:
            return None
        now = time.time()
        if len(self._barred) > MAX_BARRED:  # many addresses at once: forget those whose window has ended
            self._barred = {address: until for address, until in self._barred.items() if until > now}
        self._barred[who] = reset_time
        return _refusal(limit, reset_time, _FAILED_SENT.format(limit.item.amount))

    async def _count(self, limit: Policy, who: str) -> float | None:
        """Count one request of `who` against `limit`: None when it is allowed, else the time (epoch seconds)
        when the next one will be."""
        if self._memory is not None:
            if self._memory.hit(limit.item, limit.name, who):
                return None
            return self._memory.get_window_stats(limit.item, limit.name, who).reset_time
        return await self._shared_count(limit, who)

    async def _shared_count(self, limit: Policy, who: str) -> float | None:
        """Counts the request in Redis, or against a block claimed there: None when it is allowed (or Redis does
        not answer), else the time (epoch seconds) when the next one will be."""
        if self._down:
            now = time.monotonic()
            if now < self._retry_at:
                return None
            self._retry_at = now + RETRY_SECONDS  # this request tries; the others go through meanwhile
        lease = self._leases.get((limit.name, who))
        while lease is not None:
            if lease.left > 0 and lease.live(time.monotonic()):
                lease.left -= 1
                return None
            if lease.claiming is None:
                break
            # Another request of this client is claiming: its block may hold this one too.
            await asyncio.shield(lease.claiming)
        try:
            allowed = await self._claim(limit, who)
            if allowed:
                self._answered()
                return None
            assert self._shared is not None
            stats = await self._shared.get_window_stats(limit.item, limit.name, who)
        except (StorageError, OSError, TimeoutError) as failure:
            self._failed(failure)
            return None
        self._answered()
        return stats.reset_time

    async def _claim(self, limit: Policy, who: str) -> bool:
        """Claims a block of this client's limit in Redis (1 hit, or twice the last block while the window
        lasts), keeps what this request does not use, and says whether there was room for this request."""
        assert self._shared is not None
        assert self._storage is not None
        now = time.monotonic()
        self._sweep(now)
        key = (limit.name, who)
        lease = self._leases.get(key)
        if lease is None:
            lease = self._leases[key] = Lease(limit.window_seconds)
        elif lease.stale(now):
            lease = self._leases[key] = Lease(limit.window_seconds)  # a new window: start small again
        claiming = lease.claiming = asyncio.get_running_loop().create_future()
        try:
            # A single hit for a client not seen lately (most clients send a few requests a window); more once
            # it comes back, twice the last block each time, but no more than the window has left.
            want = 1 if lease.tight else min(block_cap(limit.item), 2 * lease.block if lease.claimed else 1)
            if want > 1 and not lease.live(now):
                previous, previous_ttl, current, current_ttl = await self._storage.get_sliding_window(
                    limit.item.key_for(limit.name, who), limit.window_seconds
                )
                # Read before the claim, so a block never outlives the window it is counted in (a claim that
                # lands in the next window finds this end passed and keeps nothing). The current count lives
                # two windows from its first hit; with none yet, this claim starts one.
                lease.ends = now + (current_ttl if current_ttl > 0 else 2 * limit.window_seconds) - limit.window_seconds
                room = limit.item.amount - math.floor(previous * previous_ttl / limit.window_seconds) - current
                if room < want:  # near the limit: what is left, then single hits
                    lease.tight = True
                    want = max(1, room)
            lease.claimed = now
            allowed = await self._shared.hit(limit.item, limit.name, who, cost=want)
            if not allowed and want > 1:  # another process took what was left: one hit, as without blocks
                lease.tight = True
                want = 1
                allowed = await self._shared.hit(limit.item, limit.name, who)
            lease.block = want
            if allowed and lease.live(time.monotonic()):
                lease.left += want - 1
            return allowed
        finally:
            lease.claiming = None
            claiming.set_result(None)

    def _sweep(self, now: float) -> None:
        """Forgets the blocks of windows that have ended (and clients not seen for a window)."""
        if now < self._sweep_at:
            return
        self._sweep_at = now + SWEEP_SECONDS
        ended = [key for key, lease in self._leases.items() if lease.claiming is None and lease.stale(now)]
        for key in ended:
            del self._leases[key]

    def _failed(self, failure: Exception) -> None:
        self._retry_at = time.monotonic() + RETRY_SECONDS
        if not self._down:
            self._down = True
            cause = failure.storage_error if isinstance(failure, StorageError) else failure
            log.warning(
                "rate limits are off: Redis at %s does not answer (%s: %s); requests are served without limits "
                "until it is back",
                redacted(self.redis_url or ""),
                type(cause).__name__,
                redacted(str(cause).splitlines()[0]) if str(cause) else "",
            )

    def _answered(self) -> None:
        if self._down:
            self._down = False
            # A warning like the line it ends, so both reach the same log.
            log.warning("rate limits are on again: Redis at %s answers", redacted(self.redis_url or ""))

    async def close(self) -> None:
        """Closes the connections to Redis (at shutdown)."""
        if self._pool is not None:
            await self._pool.disconnect()


_FAILED_SENT = "This address sent more than {} requests without a valid access key or signed link"
# Barred addresses kept before those whose window has ended are swept out.
MAX_BARRED = 10_000


def _refusal(limit: Policy, reset_time: float, sent: str) -> RateLimited:
    """The 429 for a limit: what was sent too much of, and when to retry."""
    retry_after = max(1, math.ceil(reset_time - time.time()))
    return RateLimited(
        f"{sent} per {limit.per}; retry in {retry_after} second{'s' if retry_after != 1 else ''}.",
        policy=limit.name,
        quota=limit.item.amount,
        window_seconds=limit.window_seconds,
        retry_after=retry_after,
    )


def rate_limit_headers(refused: RateLimited) -> list[tuple[bytes, bytes]]:
    """The 429's headers: Retry-After, and the limit and its state as draft-ietf-httpapi-ratelimit-headers-09
    words them (structured fields; `q` requests per `w` seconds, `r` remaining, `t` seconds until there is room)."""
    retry = str(refused.retry_after).encode()
    name = refused.policy.encode()
    return [
        (b"retry-after", retry),
        (b"ratelimit-policy", b'"%s";q=%d;w=%d' % (name, refused.quota, refused.window_seconds)),
        (b"ratelimit", b'"%s";r=0;t=%s' % (name, retry)),
    ]


_HEADERS_429 = {
    "Retry-After": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.INTEGER, minimum=1),
        description="Seconds to wait before a request of this kind is allowed again",
    ),
    "RateLimit-Policy": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING),
        description='The limit (draft-ietf-httpapi-ratelimit-headers-09): `"reads";q=600;w=60` is 600 reads '
        "per 60 seconds (`writes` for POST, PUT and DELETE; `failed-auth` for requests without a valid key)",
    ),
    "RateLimit": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING),
        description='What is left of it: `"reads";r=0;t=17` is none left, room again in 17 seconds',
    ),
}


def declare_429(operation: Operation) -> None:
    """State the 429 answer, with its headers, on an operation."""
    responses = operation.responses
    assert responses is not None  # every operation states its 400, at least
    problem = responses["400"]
    assert isinstance(problem, OpenAPIResponse)
    responses["429"] = OpenAPIResponse(
        description=problem_description(429, [PROBLEM_TYPES[RateLimited.slug].uri]),
        content=problem.content,
        headers=dict(_HEADERS_429),
    )
    operation.responses = dict(sorted(responses.items()))


def declare_rate_limits(document: OpenAPI, rate_limits: RateLimits, routes: RouteTable) -> None:
    """State the 429 answer on every operation a configured limit counts."""
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "delete"):
            operation = getattr(item, method)
            if operation is None:
                continue
            if rate_limits.policy_named(routes.policy_of(method.upper(), path).rate_limit) is not None:
                declare_429(operation)
