"""The one outer ASGI layer: every request and every answer passes here, whichever path serves it.

The fast path and the framework both sit behind it, so what is decided here applies to every operation,
success or error: the client's address behind trusted proxies, CORS, the access-key check (and so the actor
that changes record) with its count of failed attempts, rate limits, the language answers are worded in, the
bounds on a request body's time, the security headers, and each request's id, log line and metrics
(RequestObserver). It also answers HEAD wherever GET is answered, and turns a failure that escaped both paths
into a 500 problem. (A request head's size and time are bounded before any of this, by the server's protocol:
web/request_head.py.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from time import perf_counter
from typing import Any, cast
from urllib.parse import unquote_to_bytes

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from milestones.catalog import CatalogVersions
from milestones.errors import DatabaseUnavailable, MilestonesError, OriginRefused, RateLimited
from milestones.ops import traces
from milestones.ops.freshness import Fresh
from milestones.ops.logs import REQUEST_ID
from milestones.ops.read_after import HEADER as READ_AFTER_HEADER
from milestones.ops.read_after import READ_SESSION, ReadSession, parse_position, position_text
from milestones.web.access import AccessPolicy
from milestones.web.body_timeout import BoundedBody
from milestones.web.cors import VARY_ORIGIN, CorsPolicy
from milestones.web.fast_path import FastPath
from milestones.web.observability import REQUEST_ID_HEADER, DatabaseWatch, RequestObserver
from milestones.web.problems import (
    NO_STORE,
    UNEXPECTED,
    accept_of,
    error_document,
    problem_document,
    problem_headers,
    render_problem,
)
from milestones.web.proxies import Network, client_address
from milestones.web.rate_limits import Policy, RateLimits, rate_limit_headers
from milestones.web.request_state import ACTOR, LANGUAGE
from milestones.web.route_table import MATCHED, UNMATCHED_READS, Access, Framing, RoutePolicy, RouteTable
from milestones.wording.languages import ENGLISH, matching, negotiate, tag

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
# Nothing but the service's own origin, on everything but JSON (no page to protect there); a route's framing
# (web/route_table.py) says which policy its answers carry, and the exceptions are here with their reasons.
CONTENT_SECURITY_POLICY = b"default-src 'self'"
_DOCS_POLICY = b"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
CSP: dict[Framing, bytes] = {
    Framing.PAGE: CONTENT_SECURITY_POLICY,
    Framing.IMAGE: CONTENT_SECURITY_POLICY,
    # The API reference pages run vendored Swagger UI and ReDoc (web/static): both set inline styles, Swagger
    # UI's stylesheet draws its icons from data: URIs, and ReDoc runs its search index in a blob: worker.
    Framing.DOCS: _DOCS_POLICY,
    Framing.REDOC: _DOCS_POLICY + b"; worker-src 'self' blob:",
}
_LOCALE = b"locale="
# The methods whose requests may carry a body the paths behind the front door read.
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Logged (and counted) for a request whose client went away before its answer: nginx's "client closed request".
CLIENT_CLOSED = 499
log = logging.getLogger("milestones")


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


def security_headers(policy: RoutePolicy, frame_ancestors: bytes | None = None) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers of a route's answers; `frame_ancestors` lists the origins that may frame an
    embeddable route (None: nobody may)."""
    if frame_ancestors is not None and policy.embeddable:
        # frame-ancestors replaces X-Frame-Options DENY, which cannot name origins.
        framed = CONTENT_SECURITY_POLICY + b"; frame-ancestors " + frame_ancestors
        kept = tuple(h for h in SECURITY_HEADERS if h[0] != b"x-frame-options")
        return (*kept, (b"content-security-policy", framed))
    content_policy = CSP.get(policy.framing)
    if content_policy is None:
        return SECURITY_HEADERS
    return (*SECURITY_HEADERS, (b"content-security-policy", content_policy))


class FrontDoor:
    """Wraps the whole application (the fast path and the framework behind it)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        fast: FastPath | None = None,
        routes: RouteTable | None = None,
        access: AccessPolicy | None = None,
        cors: CorsPolicy | None = None,
        trusted_proxies: Sequence[Network] = (),
        proxy_header: str | None = None,
        body_bounds: tuple[float, float] = (10, 60),
        observer: RequestObserver | None = None,
        database: DatabaseWatch | None = None,
        embed_origins: Sequence[str] = (),
        rate_limits: RateLimits | None = None,
        catalog: Fresh[CatalogVersions] | None = None,
        read_after: bool = False,
    ) -> None:
        self.app = app
        # With read replicas: each request gets a read session (ops.read_after), from its Milestones-Read-After
        # header, and a write's answer carries the position it wrote at.
        self.read_after = read_after
        # The catalog versions the service serves, read again at most every half second (as the keys are), so
        # that a version published by any process is served by every worker within a second.
        self.catalog = catalog
        self.fast = fast
        self.routes = routes or RouteTable()
        self.access = access or AccessPolicy([], read_requires_key=False)
        self.cors = cors
        self.trusted_proxies = tuple(trusted_proxies)
        if self.trusted_proxies and proxy_header is None:
            raise ValueError("trusted proxies need the header they set (forwarded or x-forwarded-for)")
        self.proxy_header = (proxy_header or "").encode()
        self.body_bounds = body_bounds  # seconds for each part of a body, and for the whole of it
        self.observer = observer or RequestObserver()
        self.database = database or DatabaseWatch()
        self.frame_ancestors = " ".join(embed_origins).encode() if embed_origins else None
        self.rate_limits = rate_limits
        # What the front door applies of each policy in each language, worked out once.
        self._edges: dict[tuple[RoutePolicy, str], _Edge] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            if self.fast is not None and cast(str, scope["type"]) == "lifespan":
                self.fast.restarted()
            await self.app(scope, receive, send)
            return
        started_at = perf_counter()
        # What became of the request (status, route, actor), left in the server's own scope for
        # TracedFrontDoor, before a root path makes the copy the rest works on.
        outcome = cast(dict[str, Any], scope)[OUTCOME] = _Outcome()
        http: HTTPScope = scope
        if http.get("root_path"):
            http = _below_root_path(http)
        method = http["method"]
        # One pass over the headers for what every request needs of them.
        given_id = accept_language = read_after = None
        for name, value in http["headers"]:
            if name == REQUEST_ID_HEADER:
                given_id = value
            elif name == b"accept-language":
                accept_language = value
            elif name == READ_AFTER_HEADER:
                read_after = value
        request_id = self.observer.request_id(given_id)
        token = REQUEST_ID.set(request_id.decode("latin-1"))
        session = None
        if self.read_after:
            session = READ_SESSION.set(ReadSession(None if read_after is None else parse_position(read_after)))
        body = None
        if method in _WITH_BODY:
            receive = body = BoundedBody(receive, *self.body_bounds)
        try:
            await self._serve(http, receive, send, request_id, accept_language, outcome)
        finally:
            REQUEST_ID.reset(token)
            if session is not None:
                READ_SESSION.reset(session)
            # The address the rate limits count (the client's, behind trusted proxies), not the peer's.
            client = http["client"][0] if http["client"] else None
            template = outcome.match.template
            if body is not None and body.disconnected:
                outcome.status = CLIENT_CLOSED  # whatever the paths made of the missing body, nobody got it
            status = outcome.status
            self.observer.answered(
                method, template, status, perf_counter() - started_at, request_id, outcome.actor, client
            )
            if template is not None and template.startswith("/api/"):
                self.database.answered(status)

    async def _serve(
        self,
        http: HTTPScope,
        receive: Receive,
        send: Send,
        request_id: bytes,
        accept_language: bytes | None,
        outcome: _Outcome,
    ) -> None:
        """Serve the request, noting in `outcome` its status, route and actor. The scope is this request's own
        (the server makes one per request), so what the front door decides is written into it."""
        method = http["method"]
        head = method == "HEAD"
        if head:
            # Answered as the GET it mirrors, with the GET's headers (Content-Length included) and no body.
            http["method"] = method = "GET"
        if self.trusted_proxies and http["client"] is not None:
            peer = http["client"][0]
            http["client"] = (client_address(peer, http["headers"], self.trusted_proxies, self.proxy_header), 0)
        path = http["path"]
        match = outcome.match = self.routes.match(method, path)
        policy = match.policy
        state = cast(dict[str, Any], http)
        state[MATCHED] = match
        query = http["query_string"]
        if _LOCALE in query:
            language, http["query_string"] = chosen_language(http["headers"], query)
        else:
            language = ENGLISH if accept_language is None else negotiate(accept_language)
        if language != ENGLISH:
            state[LANGUAGE] = language
        edge = self._edges.get((policy, language))
        if edge is None:
            edge = self._edges[(policy, language)] = self._edge_of(policy, language)
        extra = [*edge.refused, (REQUEST_ID_HEADER, request_id)]
        if match.trailing_slash and policy.html and method == "GET":
            # A page's relative links resolve against its path: /docs/ would load a blank page.
            location = (http.get("root_path", "") + path[:-1]).encode()
            if query:  # as the client gave it, `locale` and a signed link's parameters included
                location += b"?" + query
            outcome.status = 308
            await _answer(send, 308, [*extra, (b"location", location), (b"content-length", b"0")], b"")
            return
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
                await _answer_problem(send, http, refused, extra)
                return
        actor: str | None = None
        needed_key = False
        rate_limits = self.rate_limits
        if edge.credentials and rate_limits is not None:
            barred = rate_limits.barred(http["client"])  # too many failed attempts from this address lately
            if barred is not None:
                outcome.status = barred.status
                await _answer_problem(send, http, barred, _limited(barred, extra), head=head)
                return
        if not edge.open_to_all:
            try:
                actor, needed_key = await self.access.check(policy.access, http["headers"])
            except MilestonesError as refused:  # no key, the wrong one, or the stored keys could not be read
                if isinstance(refused, DatabaseUnavailable):
                    self.database.unavailable(refused.detail)
                if refused.status == 401 and rate_limits is not None:
                    refused = await rate_limits.failed(http["client"]) or refused
                outcome.status = refused.status
                await _answer_problem(send, http, refused, _limited(refused, extra), head=head)
                return
            except Exception:
                # The storage layer names every way the database can fail as DatabaseUnavailable; anything else
                # is a bug, answered here like one on either path, rather than left to the server.
                log.exception("unhandled error on %s %s", http["method"], http["path"])
                await _answer_unexpected(send, http, extra, head=head)
                return
            outcome.actor = actor
        if edge.limit is not None:
            assert rate_limits is not None
            try:
                with traces.span("rate limit check", {"milestones.limit": edge.limit.name}):
                    await rate_limits.check(edge.limit, actor, http["client"])
            except RateLimited as refused:
                outcome.status = refused.status
                await _answer_problem(send, http, refused, _limited(refused, extra), head=head)
                return
        if actor is not None:
            state[ACTOR] = actor
        succeeding = edge.succeeded
        if needed_key:  # what needed a key must not be kept by a shared cache
            extra.append(NO_STORE)
            succeeding = tuple(h for h in succeeding if h[0] != b"cache-control")
        # A successful answer's block, then what this request added to the error block (its id, CORS, no-store).
        succeeded = [*succeeding, *extra[len(edge.refused) :]]
        catalog = self.catalog
        if catalog is not None and policy.catalog and catalog.due:  # a clock reading; twice a second a short read
            await catalog.current()
        if self.fast is not None and policy.fast:
            fast, receive = await self.fast.answer(http, match, receive)
            if fast is not None:
                outcome.status = fast.status
                await fast.send(send, [*(succeeded if fast.status < 400 else extra), *_written()], head=head)
                return
        started = replaced = False

        async def answer(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the rest of an answer the 429 below replaced
            if message["type"] == "http.response.start":
                started = True
                outcome.status = status = message["status"]
                if status == 401 and rate_limits is not None:  # a signed link refused (web/pages.py)
                    barred = await rate_limits.failed(http["client"])
                    if barred is not None:
                        replaced = True
                        outcome.status = barred.status
                        await _answer_problem(send, http, barred, _limited(barred, extra), head=head)
                        return
                headers = message.get("headers", ())
                if needed_key:  # what needed a key must not be kept by a shared cache
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                message["headers"] = [*headers, *(succeeded if status < 400 else extra), *_written()]
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
            await _answer_unexpected(answer, http, [])

    def _edge_of(self, policy: RoutePolicy, language: str) -> _Edge:
        """What the front door applies of a policy, in a language."""
        security = security_headers(policy, self.frame_ancestors)
        succeeded = security
        if policy.worded:
            succeeded = (*succeeded, *language_headers(language))
        if policy.cache_control is not None:
            succeeded = (*succeeded, (b"cache-control", policy.cache_control))
        open_to_all = policy.access in self.access.open_to_all
        limit = None if self.rate_limits is None else self.rate_limits.policy_named(policy.rate_limit)
        credentials = not open_to_all or policy.access is Access.SIGNED_LINK
        return _Edge(succeeded, security, open_to_all, limit, credentials)


class TracedFrontDoor(FrontDoor):
    """The front door when traces are on (create_app picks it): each request's server span is current while
    it is served and logged, so its children (database, rate limit, badges) hang under it and its log line
    carries the trace id. Off, the plain FrontDoor runs no tracing code at all."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await super().__call__(scope, receive, send)
            return
        method = scope["method"]
        with traces.server_span(method, scope["headers"]) as span:
            await super().__call__(scope, receive, send)
            outcome: _Outcome = cast(dict[str, Any], scope)[OUTCOME]
            traces.describe_request(span, method, outcome.match.template, outcome.status, outcome.actor)


_Headers = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class _Edge:
    """What the front door applies of one policy in one language, worked out once."""

    succeeded: _Headers  # a success's headers: security, language and caching
    refused: _Headers  # an error's: security only (errors are worded in English only, and never cached)
    open_to_all: bool  # anyone may call its routes whatever keys exist, so the key check is skipped
    limit: Policy | None  # the configured rate limit that counts its requests
    credentials: bool  # a key or a signed link is checked, so an address barred for failed attempts is refused


OUTCOME = "milestones.outcome"


class _Outcome:
    """What the front door learns of an answer, for its log line and metrics."""

    __slots__ = ("actor", "match", "status")

    def __init__(self) -> None:
        self.status = 500
        self.match = UNMATCHED_READS
        self.actor: str | None = None


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


def _written() -> list[tuple[bytes, bytes]]:
    """The Milestones-Read-After header of an answer to a request that wrote, with read replicas."""
    session = READ_SESSION.get()
    if session is None or session.written is None:
        return []
    return [(READ_AFTER_HEADER, position_text(session.written).encode())]


def _limited(refused: MilestonesError, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A refusal's headers, with a 429's own (its limit, and when to retry; never cached)."""
    if isinstance(refused, RateLimited):
        return [*headers, NO_STORE, *rate_limit_headers(refused)]
    return headers


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    start = {"type": "http.response.start", "status": status, "headers": headers}
    await send(cast(Message, start))
    await send(cast(Message, {"type": "http.response.body", "body": body, "more_body": False}))


async def _answer_unexpected(
    send: Send, scope: HTTPScope, headers: list[tuple[bytes, bytes]], *, head: bool = False
) -> None:
    """The last resort: a 500 problem, saying nothing of what failed (the log has it)."""
    media_type, body = render_problem(problem_document(500, UNEXPECTED), scope, accept_of(scope["headers"]))
    framing = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    await _answer(send, 500, [*framing, *headers], b"" if head else body)


async def _answer_problem(
    send: Send, scope: HTTPScope, error: MilestonesError, headers: list[tuple[bytes, bytes]], *, head: bool = False
) -> None:
    media_type, body = render_problem(error_document(error), scope, accept_of(scope["headers"]))
    framing = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    await _answer(send, error.status, [*framing, *headers, *problem_headers(error)], b"" if head else body)
