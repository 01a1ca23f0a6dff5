"""The one outer ASGI layer: every request and every answer passes here, whichever path serves it.

The fast path and the framework both sit behind it, so a concern added here (security headers today; keys,
language, request ids and metrics next) applies to every operation, success or error. It also answers
HEAD wherever GET is answered, and turns a failure that escaped both paths into a 500 problem.
"""

from __future__ import annotations

import logging
from typing import cast

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from milestones.contract import ProblemDetails

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_FAILED = msgspec.json.encode(
    ProblemDetails(
        type="about:blank",
        title="Internal Server Error",
        status=500,
        detail="The server failed to handle this request; it has been logged.",
    )
)
log = logging.getLogger("milestones")


class FrontDoor:
    """Wraps the whole application (the fast path and the framework behind it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        http: HTTPScope = scope
        head = http["method"] == "HEAD"
        if head:
            # Answered as the GET it mirrors, with the GET's headers (Content-Length included) and no body.
            http = cast(HTTPScope, {**http, "method": "GET"})
        started = False

        async def answer(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
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
