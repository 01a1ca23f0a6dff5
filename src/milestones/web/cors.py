"""Cross-origin requests from browsers: off unless MILESTONES_CORS_ORIGINS lists origins, then allowed for
exactly those, with the methods and headers this API uses and the response headers a client needs to read."""

from __future__ import annotations

from collections.abc import Sequence

ALLOWED_METHODS = b"GET, HEAD, POST, PUT, DELETE"
ALLOWED_HEADERS = b"Authorization, Content-Type, If-Match, Idempotency-Key, Accept-Language, Milestones-Read-After"
EXPOSED_HEADERS = (
    b"ETag, Retry-After, WWW-Authenticate, Idempotent-Replayed, RateLimit, RateLimit-Policy, Milestones-Read-After"
)
MAX_AGE_SECONDS = b"600"
VARY_ORIGIN = (b"vary", b"Origin")


class CorsPolicy:
    """The origins allowed to call the API from a browser."""

    def __init__(self, origins: Sequence[str]) -> None:
        self._origins = frozenset(origin.encode() for origin in origins)

    def allows(self, origin: bytes) -> bool:
        return origin in self._origins

    @staticmethod
    def answer_headers(origin: bytes) -> list[tuple[bytes, bytes]]:
        """Added to an answer to an allowed origin's request."""
        return [(b"access-control-allow-origin", origin), (b"access-control-expose-headers", EXPOSED_HEADERS)]

    @staticmethod
    def preflight_headers(origin: bytes) -> list[tuple[bytes, bytes]]:
        """The answer to an allowed origin's preflight (OPTIONS with Access-Control-Request-Method)."""
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", ALLOWED_METHODS),
            (b"access-control-allow-headers", ALLOWED_HEADERS),
            (b"access-control-max-age", MAX_AGE_SECONDS),
        ]
