"""Rate limits: how many reads and writes each access key (or, without one, each client address) may make.

Off unless MILESTONES_RATE_LIMIT_READS or MILESTONES_RATE_LIMIT_WRITES is set; the front door then asks
`RateLimits.check` about every request once its key is known. Counts live in Redis when MILESTONES_REDIS_URL
is set, shared by every worker and host; otherwise in each worker process's memory, so each process allows
the full limit. The strategy is the `limits` package's sliding window counter: the count of the current
window plus the previous window's count weighted by how much of it still overlaps the last `w` seconds. A
fixed window would let a client send twice the limit around a window's edge; a true moving window stores a
timestamp per request. This one keeps two counters per client and costs one Redis round trip (one Lua
script) per request.

When Redis does not answer, requests are served without limits (fail open): one log line when it goes, one
when it is back. Its waits are short, and after a failure it is tried again at most once a second (by one
request; the others go straight through meanwhile), so a dead Redis never slows every request down.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import limits
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as SharedLimiter
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter as MemoryLimiter
from litestar.openapi.spec import OpenAPI, OpenAPIHeader, OpenAPIResponse, OpenAPIType, Schema
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from milestones.errors import RateLimited
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


def policy(name: str, rate: str | None) -> Policy | None:
    return None if rate is None else Policy(name, limits.parse(rate))


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


def redacted(url: str) -> str:
    """The URL without its password, for the log."""
    scheme, sep, rest = url.partition("://")
    _, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{host}" if at else url


class RateLimits:
    """The configured limits and the counts they are checked against."""

    def __init__(self, reads: Policy | None, writes: Policy | None, redis_url: str | None = None) -> None:
        self.reads = reads
        self.writes = writes
        self.redis_url = redis_url
        # In memory, the synchronous limiter: it never waits, and its storage drops expired counts from a
        # timer thread at most every 10 ms, where the asynchronous one walks every count on each request
        # (0.5 ms a request with 20,000 clients in the window, where this one stays under 10 µs).
        self._memory: MemoryLimiter | None = None
        self._shared: SharedLimiter | None = None
        self._pool: ConnectionPool | None = None
        if redis_url is None:
            self._memory = MemoryLimiter(MemoryStorage())
        else:
            storage, self._pool = redis_storage(redis_url)
            self._shared = SharedLimiter(storage)
        self._down = False  # Redis failed, and has not answered since
        self._retry_at = 0.0  # monotonic time before which Redis, having failed, is not tried again

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits | None:
        """The limits the settings configure, or None when there are none (the front door then checks nothing)."""
        if not settings.rate_limited:
            return None
        reads = policy("reads", settings.rate_limit_reads)
        writes = policy("writes", settings.rate_limit_writes)
        return cls(reads, writes, settings.redis_url)

    def policy_named(self, name: str) -> Policy | None:
        """The configured limit a route's policy names ("reads" or "writes"), if there is one."""
        return self.reads if name == "reads" else self.writes

    async def check(self, name: str, actor: str | None, client: tuple[str, int] | None) -> None:
        """Count this request against its key's (or address's) limit `name`; raises RateLimited when it is over.

        `actor` is the id of the access key the request presented, None without one.
        """
        limit = self.policy_named(name)
        if limit is None:
            return
        who = f"key:{actor}" if actor is not None else f"address:{client[0] if client else 'unknown'}"
        if self._memory is not None:
            if self._memory.hit(limit.item, limit.name, who):
                return
            reset_time = self._memory.get_window_stats(limit.item, limit.name, who).reset_time
        else:
            shared_reset = await self._shared_count(limit, who)
            if shared_reset is None:
                return
            reset_time = shared_reset
        retry_after = max(1, math.ceil(reset_time - time.time()))
        sender = "access key" if actor is not None else "address"
        kind = limit.name if limit.item.amount != 1 else limit.name.removesuffix("s")
        raise RateLimited(
            f"This {sender} sent more than {limit.item.amount} {kind} per {limit.per}; "
            f"retry in {retry_after} second{'s' if retry_after != 1 else ''}.",
            policy=limit.name,
            quota=limit.item.amount,
            window_seconds=limit.window_seconds,
            retry_after=retry_after,
        )

    async def _shared_count(self, limit: Policy, who: str) -> float | None:
        """Counts the request in Redis: None when it is allowed (or Redis does not answer), else the time (epoch
        seconds) when the next one will be."""
        assert self._shared is not None
        if self._down:
            now = time.monotonic()
            if now < self._retry_at:
                return None
            self._retry_at = now + RETRY_SECONDS  # this request tries; the others go through meanwhile
        try:
            if await self._shared.hit(limit.item, limit.name, who):
                self._answered()
                return None
            stats = await self._shared.get_window_stats(limit.item, limit.name, who)
        except (StorageError, OSError, TimeoutError) as failure:
            self._failed(failure)
            return None
        self._answered()
        return stats.reset_time

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
                str(cause).splitlines()[0] if str(cause) else "",
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
        "per 60 seconds (`writes` for POST, PUT and DELETE)",
    ),
    "RateLimit": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING),
        description='What is left of it: `"reads";r=0;t=17` is none left, room again in 17 seconds',
    ),
}


def declare_rate_limits(document: OpenAPI, rate_limits: RateLimits, routes: RouteTable) -> None:
    """State the 429 answer, with its headers, on every operation a configured limit counts."""
    description = problem_description(429, [PROBLEM_TYPES[RateLimited.slug].uri])
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "delete"):
            operation = getattr(item, method)
            if operation is None:
                continue
            name = routes.policy_of(method.upper(), path).rate_limit
            if name is None or rate_limits.policy_named(name) is None:
                continue
            problem = operation.responses["400"]
            assert isinstance(problem, OpenAPIResponse)
            operation.responses["429"] = OpenAPIResponse(
                description=description, content=problem.content, headers=dict(_HEADERS_429)
            )
            operation.responses = dict(sorted(operation.responses.items()))
