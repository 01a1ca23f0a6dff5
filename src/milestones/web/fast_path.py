"""Serves the hottest requests without the framework's per-request machinery: three reads and POST.

Requests are routed from one table, `FAST_ROUTES`, whose templates must be routes of the framework app too
(checked when the app is built). Only plainly well-formed requests are answered here; anything else
(unknown ids, odd or invalid query strings or bodies, and every error, expected or not) falls through to
the Litestar app, which owns validation and renders errors. Both paths shape responses with the same
presenters, and the tests check they answer the same bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import parse_qsl

import msgspec
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from milestones.contract import cannot_repeat_a_key, decode_summary
from milestones.domain import MetricType, MilestoneQuery, Status, is_mentor_id
from milestones.domain.changes import Actor
from milestones.service import MilestoneService, Window
from milestones.settings import Settings
from milestones.web.front_door import actor_of, language_of
from milestones.web.observability import untyped
from milestones.web.presenters import etag, milestone_out, page_out

MILESTONES_PATH = "/api/v1/milestones"
# The contract's text shows every path with its prefix doubled; generated clients call those literally.
CONTRACT_ALIAS_PATH = MILESTONES_PATH + MILESTONES_PATH
_LIST_PARAMS = frozenset({"mentor_id", "type", "status", "page", "limit"})
_WINDOW_PARAMS = frozenset({"page", "limit"})
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class FastAnswer:
    """A response the fast path has ready to send."""

    body: bytes
    status: int = 200
    entity_tag: str | None = None


@dataclass(frozen=True, slots=True)
class FastRoute:
    """A route the fast path may answer: a method and a path template in the framework's own terms."""

    method: str
    template: str
    name: str

    def aliases(self) -> tuple[FastRoute, ...]:
        """This route, and under the contract's doubled prefix."""
        alias = FastRoute(self.method, self.template.replace(MILESTONES_PATH, CONTRACT_ALIAS_PATH, 1), self.name)
        return (self, alias)


FAST_ROUTES = tuple(
    alias
    for route in (
        FastRoute("GET", MILESTONES_PATH, "list"),
        FastRoute("GET", MILESTONES_PATH + "/{milestone_id}", "one"),
        FastRoute("GET", MILESTONES_PATH + "/{mentor_id}/in-progress", "in_progress"),
        FastRoute("POST", MILESTONES_PATH, "record_summary"),
    )
    for alias in route.aliases()
)


class RouteTable:
    """Matches a method and path to a fast route on whole segments: a literal part must be equal, a
    {parameter} takes one non-empty segment. A trailing slash is ignored, as the framework ignores it.

    Each template has at most one parameter, so a route is a literal path, or a literal prefix and suffix
    around one segment: a dictionary lookup, or two string comparisons, per request.
    """

    def __init__(self, routes: tuple[FastRoute, ...]) -> None:
        self._literal: dict[tuple[str, str], FastRoute] = {}
        self._around: dict[str, list[tuple[str, str, FastRoute]]] = {}
        for route in routes:
            prefix, brace, rest = route.template.partition("{")
            if not brace:
                self._literal[(route.method, route.template)] = route
                continue
            _, _, suffix = rest.partition("}")
            if "{" in suffix or not prefix.endswith("/") or (suffix and not suffix.startswith("/")):
                raise ValueError(f"a fast route takes one whole segment as its parameter: {route.template}")
            self._around.setdefault(route.method, []).append((prefix, suffix, route))

    def match(self, method: str, path: str) -> tuple[FastRoute, list[str]] | None:
        if len(path) > 1 and path[-1] == "/":
            path = path[:-1]
        route = self._literal.get((method, path))
        if route is not None:
            return route, []
        for prefix, suffix, route in self._around.get(method, ()):
            if path.startswith(prefix) and path.endswith(suffix):
                segment = path[len(prefix) : len(path) - len(suffix)]
                if segment and "/" not in segment:
                    return route, [segment]
        return None


def template_of(route: HTTPRoute) -> str:
    """A framework route's path template as the ASGI scope and FAST_ROUTES write it: {name}, not {name:str}."""
    return untyped(route.path)


def framework_routes(app: Litestar) -> set[tuple[str, str]]:
    """Every (method, path template) the framework app answers."""
    return {
        (method, template_of(route)) for route in app.routes if isinstance(route, HTTPRoute) for method in route.methods
    }


class FastPath:
    """ASGI app in front of Litestar: GET one, a mentor's list and in-progress, and POST, answered directly."""

    def __init__(self, app: Litestar, settings: Settings) -> None:
        missing = {(r.method, r.template) for r in FAST_ROUTES} - framework_routes(app)
        if missing:
            raise RuntimeError(f"fast routes the framework does not serve: {sorted(missing)}")
        self.litestar = app
        self._routes = RouteTable(FAST_ROUTES)
        # The service opened at start-up, looked up once: the framework's State costs a microsecond a request.
        self._opened: MilestoneService | None = None
        self._max_body_bytes = settings.max_body_bytes
        self._body_timeout = settings.body_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            found = self._routes.match(scope["method"], scope["path"])
            if found is not None:
                route, params = found
                if route.name == "record_summary":
                    if self._plain_post(scope):
                        # The route's template, as the framework sets it, for the front door's log and metrics.
                        scope["path_template"] = route.template
                        await self._record_summary(scope, receive, send)
                        return
                elif (answer := await self._read(route.name, params, scope)) is not None:
                    scope["path_template"] = route.template
                    await _send_json(send, answer)
                    return
        elif cast(str, scope["type"]) == "lifespan":
            self._opened = None  # a new start-up opens a new service
        await self.litestar(scope, receive, send)

    async def _record(self, body: bytes, actor: Actor, language: str) -> FastAnswer | None:
        try:
            summary = decode_summary(body)
            service = self._service
            milestones, changed = await service.record_summary(summary.mentor_id, summary.to_period(), actor)
        except Exception:
            return None  # invalid, refused or unexpected: the framework runs it again and renders it
        window = Window(1, max(20, len(milestones)))
        page = page_out(milestones, len(milestones), window, None, language, service.definitions)
        return FastAnswer(_encode(page), status=201 if changed else 200)

    async def _read(self, name: str, params: list[str], scope: HTTPScope) -> FastAnswer | None:
        query = _simple_query(scope["query_string"])
        if query is None:
            return None
        try:
            return await _READS[name](self._service, params, query, language_of(scope))
        except Exception:
            return None

    @property
    def _service(self) -> MilestoneService:
        if self._opened is None:
            self._opened = cast(MilestoneService, self.litestar.state.service)
        return self._opened

    def _plain_post(self, scope: HTTPScope) -> bool:
        """A POST of a JSON body of known, acceptable length, without a query or an Idempotency-Key."""
        if scope["query_string"]:
            return False
        length = content_type = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"idempotency-key":
                return False
        return (
            content_type is not None
            and content_type.lower() == b"application/json"
            and length is not None
            and length.isdigit()
            and int(length) <= self._max_body_bytes
        )

    async def _record_summary(self, scope: HTTPScope, receive: Receive, send: Send) -> None:
        """Store a summary whose body arrives in one piece and decodes strictly; otherwise the framework does.

        A failure writes nothing (the change is one transaction), so the framework can run the request again
        from the start and render the problem.
        """
        try:
            async with asyncio.timeout(self._body_timeout):
                message = await receive()
        except TimeoutError:
            # The framework's body timeout sees the same stall at once and answers 408.
            await self.litestar(scope, _stalled, send)
            return
        body = message.get("body", b"") if message["type"] == "http.request" else b""
        if not message.get("more_body", False) and cannot_repeat_a_key(body):
            answer = await self._record(body, actor_of(scope), language_of(scope))
            if answer is not None:
                await _send_json(send, answer)
                return
        await self.litestar(scope, _replaying(message, receive), send)


async def _one(service: MilestoneService, params: list[str], query: dict[str, str], language: str) -> FastAnswer | None:
    if query:
        return None
    milestone = await service.get_if_any(params[0])
    if milestone is None:
        return None  # the framework answers the 404 problem
    body = _encode(milestone_out(milestone, language, service.definitions))
    return FastAnswer(body, entity_tag=etag(milestone, language))


async def _in_progress(
    service: MilestoneService, params: list[str], query: dict[str, str], language: str
) -> FastAnswer | None:
    mentor_id = params[0]
    window = _window(query) if query.keys() <= _WINDOW_PARAMS else None
    if window is None or not is_mentor_id(mentor_id):
        return None
    items, total = await service.in_progress(mentor_id, window)
    return FastAnswer(_encode(page_out(items, total, window, None, language, service.definitions)))


async def _list(
    service: MilestoneService, params: list[str], query: dict[str, str], language: str
) -> FastAnswer | None:
    mentor_id = query.get("mentor_id")
    window = _window(query)
    if not query.keys() <= _LIST_PARAMS or mentor_id is None or not is_mentor_id(mentor_id) or window is None:
        return None
    try:
        metric = MetricType(query["type"]) if "type" in query else None
        status = Status(query["status"]) if "status" in query else None
    except ValueError:
        return None
    listing = await service.find(
        MilestoneQuery(mentor_id=mentor_id, type=metric, status=status, offset=window.offset, limit=window.limit)
    )
    page = page_out(listing.items, listing.total, window, listing.next_after, language, service.definitions)
    return FastAnswer(_encode(page))


_READS: dict[str, Callable[[MilestoneService, list[str], dict[str, str], str], Awaitable[FastAnswer | None]]] = {
    "list": _list,
    "one": _one,
    "in_progress": _in_progress,
}


def _simple_query(raw: bytes) -> dict[str, str] | None:
    """The query as a dict, or None when it repeats a key or is not plain ASCII."""
    if not raw:
        return {}
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    query = dict(pairs)
    return query if len(query) == len(pairs) else None


def _window(query: dict[str, str]) -> Window | None:
    page, limit = query.get("page", "1"), query.get("limit", "20")
    if not (page.isdigit() and limit.isdigit() and len(page) <= 7 and len(limit) <= 3):
        return None
    window = Window(int(page), int(limit))
    return window if 1 <= window.page <= 1_000_000 and 1 <= window.limit <= 100 else None


def _replaying(first: ReceiveMessage, receive: Receive) -> Receive:
    """A receive that gives `first` again, then goes on with the connection's own."""
    pending: list[ReceiveMessage] = [first]

    async def replay() -> ReceiveMessage:
        return pending.pop() if pending else await receive()

    return replay


async def _stalled() -> ReceiveMessage:
    raise TimeoutError


async def _send_json(send: Send, answer: FastAnswer) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(answer.body)).encode()),
    ]
    if answer.entity_tag is not None:
        headers.append((b"etag", answer.entity_tag.encode()))
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": answer.status, "headers": headers}
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": answer.body, "more_body": False}
    await send(end)
