"""Serves the hottest requests without the framework's per-request machinery: three reads and POST.

The routes it may answer say so in their policy (`fast=True`, web/route_table.py), and the front door's match
(in the scope) says which one a request is. Only plainly well-formed requests are answered here; anything else
(unknown ids, odd or invalid query strings or bodies) falls through to the Litestar app, which owns validation.
A POST whose summary decoded is this path's to the end: a refused or failed write is answered here, through
the one problem renderer, never run a second time by the framework. Both paths shape responses with the same
presenters, and the tests check they answer the same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import parse_qsl

import msgspec
from litestar import Litestar
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Receive,
    ReceiveMessage,
    Send,
)

from milestones.contract import SUMMARY_MAX_BODY_BYTES, ProblemDetails, cannot_repeat_a_key, decode_summary
from milestones.domain import MetricType, MilestoneQuery, Status, is_mentor_id
from milestones.errors import DatabaseUnavailable, MilestonesError
from milestones.service import MilestoneService, Window
from milestones.settings import Settings
from milestones.web.body_timeout import BodyTimedOut
from milestones.web.presenters import etag, in_progress_page, milestone_out, page_out, recorded_out
from milestones.web.problems import (
    UNEXPECTED,
    accept_of,
    error_document,
    problem_document,
    problem_headers,
    render_problem,
)
from milestones.web.request_state import actor_of, language_of
from milestones.web.route_table import RouteMatch, RouteTable

MILESTONES_PATH = "/api/v1/milestones"
# The contract's text shows every path with its prefix doubled; generated clients call those literally.
CONTRACT_ALIAS_PATH = MILESTONES_PATH + MILESTONES_PATH
_LIST_PARAMS = frozenset({"mentor_id", "type", "status", "page", "limit"})
_WINDOW_PARAMS = frozenset({"page", "limit"})
_encode = msgspec.json.Encoder().encode
RECORD_SUMMARY = "recordSummary"
log = logging.getLogger("milestones")


@dataclass(frozen=True, slots=True)
class FastAnswer:
    """A response the fast path has ready, for the front door to send with the headers it adds to every answer."""

    body: bytes
    status: int = 200
    entity_tag: str | None = None
    headers: tuple[tuple[bytes, bytes], ...] = ()
    media_type: bytes = b"application/json"

    async def send(self, send: Send, edge: list[tuple[bytes, bytes]], *, head: bool = False) -> None:
        headers = [(b"content-type", self.media_type), (b"content-length", str(len(self.body)).encode())]
        if self.entity_tag is not None:
            headers.append((b"etag", self.entity_tag.encode()))
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": self.status,
            "headers": [*headers, *self.headers, *edge],
        }
        await send(start)
        end: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": b"" if head else self.body,
            "more_body": False,
        }
        await send(end)


class FastPath:
    """Answers GET one, a mentor's list and in-progress, and POST without the framework, when it can."""

    def __init__(self, app: Litestar, settings: Settings, routes: RouteTable) -> None:
        fast = {match.operation for match in routes.routes.values() if match.policy.fast}
        missing = fast - {*_READS, RECORD_SUMMARY}
        if missing:
            raise RuntimeError(f"routes declared fast that the fast path cannot answer: {sorted(missing)}")
        self.litestar = app
        # The service opened at start-up, looked up once: the framework's State costs a microsecond a request.
        self._opened: MilestoneService | None = None
        # The route's own limit (it answers only POST of a summary): room for 10,000 identifiers and activities.
        self._max_body_bytes = SUMMARY_MAX_BODY_BYTES

    def restarted(self) -> None:
        """A new start-up opens a new service (the front door tells the fast path of each lifespan)."""
        self._opened = None

    async def answer(self, scope: HTTPScope, match: RouteMatch, receive: Receive) -> tuple[FastAnswer | None, Receive]:
        """The answer to a request on a fast route, or None for the framework to answer it, with the receive the
        framework must read the body from (the body this path read, replayed)."""
        if match.operation != RECORD_SUMMARY:
            return await self._read(match.operation, match.params, scope), receive
        if not self._plain_post(scope):
            return None, receive
        return await self._record_summary(scope, receive)

    async def _record(self, body: bytes, scope: HTTPScope) -> FastAnswer | None:
        """The answer to a summary that decodes strictly; None (the framework's turn) only for one that does not.

        A body with contacts, activities or a name is this path's too, when it plainly repeats no key. Once the
        write was tried, the answer is this path's, success or problem: handing it on would run the write again
        (a second transaction for a 409, a second wait for a busy database).
        """
        try:
            summary = decode_summary(body)
        except Exception:
            return None  # the framework decodes it again and names every bad field
        if not cannot_repeat_a_key(body, summary):
            return None  # only the strict decoding can tell, and refuse a repeated key
        service, language = self._service, language_of(scope)
        try:
            recorded = await service.record_summary(
                summary.mentor_id, summary.to_period(), actor_of(scope), summary.display_name
            )
        except MilestonesError as error:
            if isinstance(error, DatabaseUnavailable):
                self.litestar.state.database_watch.unavailable(error.detail)
            return _problem(error_document(error), scope, tuple(problem_headers(error)))
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            return _problem(problem_document(500, UNEXPECTED), scope)
        page = recorded_out(recorded, language, service.catalogs)
        return FastAnswer(_encode(page), status=201 if recorded.changed else 200)

    async def _read(self, name: str, params: tuple[str, ...], scope: HTTPScope) -> FastAnswer | None:
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

    async def _record_summary(self, scope: HTTPScope, receive: Receive) -> tuple[FastAnswer | None, Receive]:
        """Store a summary whose body arrives in one piece and decodes strictly; otherwise the framework does."""
        try:
            message = await receive()  # bounded by the front door (web/body_timeout.py)
        except BodyTimedOut as stalled:
            return None, _raising(stalled)  # the framework answers the 408 as it reads the body
        body = message.get("body", b"") if message["type"] == "http.request" else b""
        if not message.get("more_body", False):
            answer = await self._record(body, scope)
            if answer is not None:
                return answer, receive
        return None, _replaying(message, receive)


async def _one(
    service: MilestoneService, params: tuple[str, ...], query: dict[str, str], language: str
) -> FastAnswer | None:
    if query:
        return None
    milestone = await service.get_if_any(params[0])
    if milestone is None:
        return None  # the framework answers the 404 problem
    body = _encode(milestone_out(milestone, language, service.catalogs))
    return FastAnswer(body, entity_tag=etag(milestone, language))


async def _in_progress(
    service: MilestoneService, params: tuple[str, ...], query: dict[str, str], language: str
) -> FastAnswer | None:
    mentor_id = params[0]
    window = _window(query) if query.keys() <= _WINDOW_PARAMS else None
    if window is None or not is_mentor_id(mentor_id):
        return None
    found = await service.in_progress(mentor_id, window)
    return FastAnswer(_encode(in_progress_page(found, window, language, service.catalogs)))


async def _list(
    service: MilestoneService, params: tuple[str, ...], query: dict[str, str], language: str
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
    page = page_out(listing.items, listing.total, window, listing.next_after, language, service.catalogs)
    return FastAnswer(_encode(page))


# The reads the fast path answers, by operation id (the routes declare `fast=True` in their policy).
_READS: dict[str, Callable[[MilestoneService, tuple[str, ...], dict[str, str], str], Awaitable[FastAnswer | None]]] = {
    "listMilestones": _list,
    "getMilestone": _one,
    "listInProgress": _in_progress,
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
    if not (page.isascii() and limit.isascii() and page.isdigit() and limit.isdigit()):
        return None
    if len(page) > 7 or len(limit) > 3:
        return None
    window = Window(int(page), int(limit))
    return window if 1 <= window.page <= 1_000_000 and 1 <= window.limit <= 100 else None


def _replaying(first: ReceiveMessage, receive: Receive) -> Receive:
    """A receive that gives `first` again, then goes on with the connection's own."""
    pending: list[ReceiveMessage] = [first]

    async def replay() -> ReceiveMessage:
        return pending.pop() if pending else await receive()

    return replay


def _raising(error: BodyTimedOut) -> Receive:
    """A receive that raises what the connection's own raised."""

    async def stalled() -> ReceiveMessage:
        raise error

    return stalled


def _problem(document: ProblemDetails, scope: HTTPScope, headers: tuple[tuple[bytes, bytes], ...] = ()) -> FastAnswer:
    media_type, body = render_problem(document, scope, accept_of(scope["headers"]))
    return FastAnswer(body, document.status, headers=headers, media_type=media_type.encode())
