"""The one outer ASGI layer: every request and every answer passes here, whichever path serves it.

The fast path and the framework both sit behind it, so what is decided here applies to every operation,
success or error: the client's address behind trusted proxies, CORS, the access-key check (and so the actor
that changes record), and the security headers. It also answers HEAD wherever GET is answered, and turns a
failure that escaped both paths into a 500 problem. Later concerns (language, request ids, metrics) go here too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from milestones.contract import ProblemDetails
from milestones.domain.changes import ANONYMOUS
from milestones.errors import KeyRequired, MilestonesError, OriginRefused, RateLimited, ScopeRequired
from milestones.web.access import AccessPolicy
from milestones.web.cors import VARY_ORIGIN, CorsPolicy
from milestones.web.proxies import Network, client_address
from milestones.web.rate_limits import RateLimits, rate_limit_headers

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# One Content-Security-Policy for every answer: nothing but the service's own origin. Its exceptions are all
# here, by path prefix, each with its reason.
CONTENT_SECURITY_POLICY = b"default-src 'self'"
CSP_EXCEPTIONS: dict[str, bytes] = {
    # The API reference pages run vendored Swagger UI and ReDoc (web/static): both set inline styles, Swagger
    # UI's stylesheet draws its icons from data: URIs, and ReDoc runs its search index in a blob: worker.
    "/docs": b"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    "/redoc": b"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:",
}
NO_STORE = (b"cache-control", b"no-store")
# Where the front door leaves the id of the key a request presented, for the routes to record as the actor.
ACTOR = "milestones.actor"
_FAILED = msgspec.json.encode(
    ProblemDetails(
        type="about:blank",
        title="Internal Server Error",
        status=500,
        detail="The server failed to handle this request; it has been logged.",
    )
)
log = logging.getLogger("milestones")


def actor_of(scope: Scope | dict[str, Any]) -> str:
    """Who is making this request, as changes record it: the key's id, or `anonymous` without keys."""
    return cast(str, cast(dict[str, Any], scope).get(ACTOR, ANONYMOUS))


def content_security_policy(path: str) -> bytes:
    if path.startswith("/api/"):
        return CONTENT_SECURITY_POLICY
    for prefix, policy in CSP_EXCEPTIONS.items():
        if path.startswith(prefix):
            return policy
    return CONTENT_SECURITY_POLICY


def problem_body(error: MilestonesError) -> bytes:
    problem = ProblemDetails(type=error.type, title=error.title, status=error.status, detail=error.detail)
    return msgspec.json.encode(problem)


class FrontDoor:
    """Wraps the whole application (the fast path and the framework behind it)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        access: AccessPolicy | None = None,
        cors: CorsPolicy | None = None,
        trusted_proxies: Sequence[Network] = (),
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.app = app
        self.access = access or AccessPolicy([], read_requires_key=False)
        self.cors = cors
        self.trusted_proxies = tuple(trusted_proxies)
        self.rate_limits = rate_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        http: HTTPScope = scope
        method = http["method"]
        head = method == "HEAD"
        if head:
            # Answered as the GET it mirrors, with the GET's headers (Content-Length included) and no body.
            http = cast(HTTPScope, {**http, "method": "GET"})
            method = "GET"
        if self.trusted_proxies and http["client"] is not None:
            address = client_address(http["client"][0], http["headers"], self.trusted_proxies)
            http = cast(HTTPScope, {**http, "client": (address, 0)})
        extra = [*SECURITY_HEADERS, (b"content-security-policy", content_security_policy(http["path"]))]
        if self.cors is not None:
            extra.append(VARY_ORIGIN)
            origin = next((v for n, v in http["headers"] if n == b"origin"), None)
            if origin is not None and self.cors.allows(origin):
                if method == "OPTIONS" and any(n == b"access-control-request-method" for n, _ in http["headers"]):
                    await _answer(send, 204, [*extra, *self.cors.preflight_headers(origin)], b"")
                    return
                extra.extend(self.cors.answer_headers(origin))
            elif origin is not None and method == "OPTIONS":
                named = origin.decode("latin-1")[:200]
                refused = OriginRefused(f"The origin {named!r} may not call this API from a browser.")
                await _answer_problem(send, refused, extra)
                return
        try:
            actor, needed_key = await self.access.check(method, http["path"], http["headers"])
        except KeyRequired as missing:
            challenge = b'Bearer realm="milestones"'
            if missing.presented:
                challenge += b', error="invalid_token"'
            await _answer_problem(send, missing, [*extra, NO_STORE, (b"www-authenticate", challenge)], head=head)
            return
        except ScopeRequired as lacking:
            challenge = b'Bearer realm="milestones", error="insufficient_scope"'
            await _answer_problem(send, lacking, [*extra, NO_STORE, (b"www-authenticate", challenge)], head=head)
            return
        except MilestonesError as unavailable:  # the stored keys could not be read (a 503)
            await _answer_problem(send, unavailable, [*extra, NO_STORE, (b"retry-after", b"1")], head=head)
            return
        if self.rate_limits is not None:  # None when no limit is configured: nothing else is spent then
            try:
                await self.rate_limits.check(method, http["path"], actor, http["client"])
            except RateLimited as refused:
                await _answer_problem(send, refused, [*extra, NO_STORE, *rate_limit_headers(refused)], head=head)
                return
        if actor is not None:
            http = cast(HTTPScope, {**http, ACTOR: actor})
        if needed_key:
            extra.append(NO_STORE)
        started = False

        async def answer(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = message.get("headers", ())
                if needed_key:  # what needed a key must not be kept by a shared cache
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                message["headers"] = [*headers, *extra]
            elif head and message["type"] == "http.response.body":
                message = {"type": "http.response.body", "body": b"", "more_body": message.get("more_body", False)}
            await send(message)

        try:
            await self.app(http, receive, answer)
        except Exception:
            # Both paths render their own errors; this is the last resort for a bug in between.
            log.exception("unhandled error on %s %s", http["method"], http["path"])
            if started:
                raise
            await answer(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(_FAILED)).encode()),
                    ],
                }
            )
            await answer({"type": "http.response.body", "body": _FAILED, "more_body": False})


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    start = {"type": "http.response.start", "status": status, "headers": headers}
    await send(cast(Message, start))
    await send(cast(Message, {"type": "http.response.body", "body": body, "more_body": False}))


async def _answer_problem(
    send: Send, error: MilestonesError, headers: list[tuple[bytes, bytes]], *, head: bool = False
) -> None:
    body = problem_body(error)
    framing = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    await _answer(send, error.status, [*framing, *headers], b"" if head else body)
