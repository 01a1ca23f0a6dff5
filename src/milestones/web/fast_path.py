"""Serves the hottest requests without the framework's per-request machinery: three reads and POST.

Only plainly well-formed requests are answered here; anything else (unknown ids, odd or invalid query
strings or bodies, errors, other methods and paths) falls through to the Litestar app, which owns
validation and errors. Both paths shape responses with the same presenters, and the tests check they
answer the same bytes.
"""

from __future__ import annotations

import asyncio
from typing import cast
from urllib.parse import parse_qsl

import msgspec
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from milestones.contract import cannot_repeat_a_key, decode_summary, is_mentor_id
from milestones.domain import MetricType, MilestoneQuery, Status
from milestones.errors import MilestonesError
from milestones.service import MilestoneService, Window
from milestones.settings import Settings
from milestones.web.presenters import etag, milestone_out, page_out

MILESTONES_PATH = "/api/v1/milestones"
# The contract's text shows every path with its prefix doubled; generated clients call those literally.
CONTRACT_ALIAS_PATH = MILESTONES_PATH + MILESTONES_PATH
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_LIST_PARAMS = frozenset({"mentor_id", "type", "status", "page", "limit"})
_WINDOW_PARAMS = frozenset({"page", "limit"})
_encode = msgspec.json.Encoder().encode


class FastPath:
    """ASGI app in front of Litestar: GET one, a mentor's list and in-progress, and POST, answered directly."""

    def __init__(self, app: Litestar, settings: Settings) -> None:
        self.litestar = app
        self._max_body_bytes = settings.max_body_bytes
        self._body_timeout = settings.body_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            if scope["method"] == "GET":
                try:
                    handled = await self._answer(scope, send)
                except MilestonesError:
                    handled = False  # the framework renders it (a 503 problem with Retry-After)
                if handled:
                    return
            elif scope["method"] == "POST" and self._plain_post(scope):
                await self._record_summary(scope, receive, send)
                return
        await self.litestar(scope, receive, send)

    def _plain_post(self, scope: HTTPScope) -> bool:
        """A POST of a JSON body of known, acceptable length to the collection, without an Idempotency-Key."""
        if scope["path"] not in (MILESTONES_PATH, CONTRACT_ALIAS_PATH) or scope["query_string"]:
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

        Errors (a period overlap, a database away) write nothing, so the framework can run the request
        again from the start and render the problem.
        """
        service = cast(MilestoneService, self.litestar.state.service)
        try:
            async with asyncio.timeout(self._body_timeout):
                message = await receive()
        except TimeoutError:
            # The framework's body timeout sees the same stall at once and answers 408.
            await self.litestar(scope, _stalled, send)
            return
        body = message.get("body", b"") if message["type"] == "http.request" else b""
        if not message.get("more_body", False) and cannot_repeat_a_key(body):
            try:
                summary = decode_summary(body)
                milestones, changed = await service.record_summary(summary.mentor_id, summary.to_period())
            except (msgspec.ValidationError, msgspec.DecodeError, MilestonesError):
                pass
            else:
                page = page_out(milestones, len(milestones), Window(1, max(20, len(milestones))))
                await _send_json(send, _encode(page), status=201 if changed else 200)
                return
        await self.litestar(scope, _replaying(message, receive), send)

    async def _answer(self, scope: HTTPScope, send: Send) -> bool:
        path: str = scope["path"]
        if path.startswith(CONTRACT_ALIAS_PATH):
            path = path[len(MILESTONES_PATH) :]
        if not path.startswith(MILESTONES_PATH):
            return False
        rest = path[len(MILESTONES_PATH) :]
        query = _simple_query(scope["query_string"])
        if query is None:
            return False
        service = cast(MilestoneService, self.litestar.state.service)

        if rest in ("", "/"):
            return await self._list(service, query, send)
        parts = rest[1:].split("/")
        if len(parts) == 1 and parts[0] and not query:
            milestone = await service.get_if_any(parts[0])
            if milestone is None:
                return False  # the framework answers the 404 problem
            await _send_json(send, _encode(milestone_out(milestone)), etag(milestone))
            return True
        if len(parts) == 2 and parts[1] == "in-progress" and is_mentor_id(parts[0]):
            window = _window(query) if query.keys() <= _WINDOW_PARAMS else None
            if window is None:
                return False
            items, total = await service.in_progress(parts[0], window)
            await _send_json(send, _encode(page_out(items, total, window)))
            return True
        return False

    async def _list(self, service: MilestoneService, query: dict[str, str], send: Send) -> bool:
        mentor_id = query.get("mentor_id")
        window = _window(query)
        if not query.keys() <= _LIST_PARAMS or mentor_id is None or not is_mentor_id(mentor_id) or window is None:
            return False
        try:
            metric = MetricType(query["type"]) if "type" in query else None
            status = Status(query["status"]) if "status" in query else None
        except ValueError:
            return False
        listing = await service.find(
            MilestoneQuery(mentor_id=mentor_id, type=metric, status=status, offset=window.offset, limit=window.limit)
        )
        await _send_json(send, _encode(page_out(listing.items, listing.total, window, listing.next_after)))
        return True


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


async def _send_json(send: Send, body: bytes, entity_tag: str | None = None, status: int = 200) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
    ]
    if entity_tag is not None:
        headers.append((b"etag", entity_tag.encode()))
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)
