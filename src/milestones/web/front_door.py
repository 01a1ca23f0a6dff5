"""The one outer ASGI layer: every request and every answer passes here, whichever path serves it.

The fast path and the framework both sit behind it, so what is decided here applies to every operation,
success or error: the client's address behind trusted proxies, CORS, the access-key check (and so the actor
that changes record), the language answers are worded in, the security headers, and each request's id, log
line and metrics (RequestObserver). It also answers HEAD wherever GET is answered, and turns a failure that
escaped both paths into a 500 problem.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from functools import cache
from time import perf_counter
from typing import Any, cast
from urllib.parse import unquote_to_bytes

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from milestones.contract import ProblemDetails
from milestones.domain.changes import ANONYMOUS, Actor
from milestones.errors import KeyRequired, MilestonesError, OriginRefused, RateLimited, ScopeRequired
from milestones.languages import ENGLISH, matching, negotiate, tag
from milestones.logs import REQUEST_ID
from milestones.web.access import AccessPolicy
from milestones.web.cors import VARY_ORIGIN, CorsPolicy
from milestones.web.observability import REQUEST_ID_HEADER, DatabaseWatch, RequestObserver
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
# A mentor's card is the one thing other sites may frame, and only those named in MILESTONES_EMBED_ORIGINS:
# for it, frame-ancestors replaces X-Frame-Options DENY (which cannot name origins). Without embed origins
# the card is as unframeable as everything else.
EMBEDDABLE = re.compile(r"/mentors/[^/]+/card")
NO_STORE = (b"cache-control", b"no-store")
# Where the front door leaves the id of the key a request presented, for the routes to record as the actor.
ACTOR = "milestones.actor"
# Where it leaves the language the answer is worded in (a locale id, `pt_BR`), when that is not English.
LANGUAGE = "milestones.language"
# Answers whose words depend on the language: milestones (names, labels), definitions, badges. Their successful
# answers say which language they speak, and that it followed Accept-Language; errors are English only.
WORDED_PATHS = ("/api/v1/milestones", "/api/v1/milestone-definitions", "/assets/badges/", "/mentors/")
WORDED_METHODS = frozenset({"GET", "POST", "PUT"})
_LOCALE = b"locale="
_FAILED = msgspec.json.encode(
    ProblemDetails(
        type="about:blank",
        title="Internal Server Error",
        status=500,
        detail="The server failed to handle this request; it has been logged.",
    )
)
log = logging.getLogger("milestones")


def actor_of(scope: Scope | dict[str, Any]) -> Actor:
    """Who is making this request, as changes record it: the key, or `anonymous` without keys."""
    key_id = cast(dict[str, Any], scope).get(ACTOR)
    return ANONYMOUS if key_id is None else Actor.of_key(key_id)


def language_of(scope: Scope | dict[str, Any]) -> str:
    """The language to word this request's answer in: from `?locale=`, else Accept-Language, else English."""
    return cast(str, cast(dict[str, Any], scope).get(LANGUAGE, ENGLISH))


def chosen_language(headers: Iterable[tuple[bytes, bytes]], query: bytes) -> tuple[str, bytes]:
    """The language a request asks for, and its query string without `locale`. A `locale` that names a
    language the service speaks wins; any other value is passed over for Accept-Language (the answer says
    which language it chose), never refused."""
    language = ENGLISH
    if _LOCALE in query:
        query, asked = take_locale(query)
        if asked is not None:
            return asked, query
    for name, value in headers:
        if name == b"accept-language":
            language = negotiate(value)
            break
    return language, query


def take_locale(query: bytes) -> tuple[bytes, str | None]:
    """The query without its `locale` parameters, and the first of them that names a spoken language."""
    kept: list[bytes] = []
    asked: str | None = None
    for part in query.split(b"&"):
        if part.startswith(_LOCALE):
            if asked is None:
                asked = matching(unquote_to_bytes(part[len(_LOCALE) :]).decode("latin-1"))
        else:
            kept.append(part)
    return b"&".join(kept), asked


@cache
def language_headers(language: str) -> tuple[tuple[bytes, bytes], ...]:
    """What a worded answer says of its language."""
    return ((b"content-language", tag(language).encode()), (b"vary", b"accept-language"))


_SAID_IN_ENGLISH = language_headers(ENGLISH)


def content_security_policy(path: str) -> bytes:
    for prefix, policy in CSP_EXCEPTIONS.items():
        if path.startswith(prefix):
            return policy
    return CONTENT_SECURITY_POLICY


def security_headers(path: str, frame_ancestors: bytes | None = None) -> list[tuple[bytes, bytes]]:
    """The security headers of an answer on this path; `frame_ancestors` lists the origins that may frame
    the card (None: nobody may)."""
    if frame_ancestors is not None and EMBEDDABLE.fullmatch(path):
        policy = CONTENT_SECURITY_POLICY + b"; frame-ancestors " + frame_ancestors
        headers = [h for h in SECURITY_HEADERS if h[0] != b"x-frame-options"]
        return [*headers, (b"content-security-policy", policy)]
    if path.startswith("/api/"):
        return [*SECURITY_HEADERS]  # JSON: no page to protect, so no Content-Security-Policy to spend bytes on
    return [*SECURITY_HEADERS, (b"content-security-policy", content_security_policy(path))]


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
        observer: RequestObserver | None = None,
        database: DatabaseWatch | None = None,
        embed_origins: Sequence[str] = (),
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.app = app
        self.access = access or AccessPolicy([], read_requires_key=False)
        self.cors = cors
        self.trusted_proxies = tuple(trusted_proxies)
        self.observer = observer or RequestObserver()
        self.database = database or DatabaseWatch()
        self.frame_ancestors = " ".join(embed_origins).encode() if embed_origins else None
        self.rate_limits = rate_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started_at = perf_counter()
        http: HTTPScope = scope
        if http.get("root_path"):
            http = _below_root_path(http)
        request_id = self.observer.request_id(http["headers"])
        token = REQUEST_ID.set(request_id.decode("latin-1"))
        outcome = _Outcome()
        try:
            await self._serve(http, receive, send, request_id, outcome)
        finally:
            REQUEST_ID.reset(token)
            served = outcome.scope
            template = None if served is None else served.get("path_template")
            client = http["client"][0] if http["client"] else None
            key_id = None if served is None else served.get(ACTOR)
            status = outcome.status
            self.observer.answered(
                scope["method"], template, status, perf_counter() - started_at, request_id, key_id, client
            )
            if template is not None and template.startswith("/api/"):
                self.database.answered(status)

    async def _serve(self, http: HTTPScope, receive: Receive, send: Send, request_id: bytes, outcome: _Outcome) -> None:
        """Serve the request, noting in `outcome` its status and the scope the inner app got (which names the
        route it matched; None when the front door answered by itself)."""
        method = http["method"]
        head = method == "HEAD"
        if head:
            # Answered as the GET it mirrors, with the GET's headers (Content-Length included) and no body.
            http = cast(HTTPScope, {**http, "method": "GET"})
            method = "GET"
        if self.trusted_proxies and http["client"] is not None:
            address = client_address(http["client"][0], http["headers"], self.trusted_proxies)
            http = cast(HTTPScope, {**http, "client": (address, 0)})
        extra = security_headers(http["path"], self.frame_ancestors)
        extra.append((REQUEST_ID_HEADER, request_id))
        if self.cors is not None:
            extra.append(VARY_ORIGIN)
            origin = next((v for n, v in http["headers"] if n == b"origin"), None)
            if origin is not None and self.cors.allows(origin):
                if method == "OPTIONS" and any(n == b"access-control-request-method" for n, _ in http["headers"]):
                    outcome.status = 204
                    await _answer(send, 204, [*extra, *self.cors.preflight_headers(origin)], b"")
                    return
                extra.extend(self.cors.answer_headers(origin))
            elif origin is not None and method == "OPTIONS":
                named = origin.decode("latin-1")[:200]
                refused = OriginRefused(f"The origin {named!r} may not call this API from a browser.")
                outcome.status = refused.status
                await _answer_problem(send, refused, extra)
                return
        try:
            actor, needed_key = await self.access.check(method, http["path"], http["headers"])
        except KeyRequired as missing:
            challenge = b'Bearer realm="milestones"'
            if missing.presented:
                challenge += b', error="invalid_token"'
            outcome.status = missing.status
            await _answer_problem(send, missing, [*extra, NO_STORE, (b"www-authenticate", challenge)], head=head)
            return
        except ScopeRequired as lacking:
            challenge = b'Bearer realm="milestones", error="insufficient_scope"'
            outcome.status = lacking.status
            await _answer_problem(send, lacking, [*extra, NO_STORE, (b"www-authenticate", challenge)], head=head)
            return
        except MilestonesError as unavailable:  # the stored keys could not be read (a 503)
            self.database.unavailable(unavailable.detail)
            outcome.status = unavailable.status
            await _answer_problem(send, unavailable, [*extra, NO_STORE, (b"retry-after", b"1")], head=head)
            return
        if self.rate_limits is not None:  # None when no limit is configured: nothing else is spent then
            try:
                await self.rate_limits.check(method, http["path"], actor, http["client"])
            except RateLimited as refused:
                outcome.status = refused.status
                await _answer_problem(send, refused, [*extra, NO_STORE, *rate_limit_headers(refused)], head=head)
                return
        if actor is not None:
            http = cast(HTTPScope, {**http, ACTOR: actor})
        # Every request pays for this, so the common case (no `locale`, English) is one scan of the headers.
        query = http["query_string"]
        if _LOCALE in query:
            language, kept = chosen_language(http["headers"], query)
            http = cast(HTTPScope, {**http, "query_string": kept})
        else:
            language = ENGLISH
            for name, value in http["headers"]:
                if name == b"accept-language":
                    language = negotiate(value)
                    break
        if language != ENGLISH:
            http = cast(HTTPScope, {**http, LANGUAGE: language})
        worded: tuple[tuple[bytes, bytes], ...] = ()
        if method in WORDED_METHODS and http["path"].startswith(WORDED_PATHS):
            worded = _SAID_IN_ENGLISH if language == ENGLISH else language_headers(language)
        if needed_key:
            extra.append(NO_STORE)
        started = False

        async def answer(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                outcome.status = message["status"]
                headers = message.get("headers", ())
                if needed_key:  # what needed a key must not be kept by a shared cache
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                if worded and message["status"] < 400:
                    message["headers"] = [*headers, *extra, *worded]
                else:
                    message["headers"] = [*headers, *extra]
            elif head and message["type"] == "http.response.body":
                message = {"type": "http.response.body", "body": b"", "more_body": message.get("more_body", False)}
            await send(message)

        outcome.scope = cast(dict[str, Any], http)
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


class _Outcome:
    """What the front door learns of an answer, for its log line and metrics."""

    __slots__ = ("scope", "status")

    def __init__(self) -> None:
        self.status = 500
        self.scope: dict[str, Any] | None = None


def _below_root_path(http: HTTPScope) -> HTTPScope:
    """The request as the app sees it when the service is mounted under MILESTONES_ROOT_PATH: uvicorn puts the
    prefix in front of the path, and the routes, the key check and the fast path all work below it."""
    root = http["root_path"]
    path = http["path"]
    if not path.startswith(root):
        return http
    raw = http.get("raw_path")
    inner = {**http, "path": path[len(root) :] or "/", "root_path": ""}
    if raw is not None and raw.startswith(root.encode()):
        inner["raw_path"] = raw[len(root) :] or b"/"
    return cast(HTTPScope, inner)


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
