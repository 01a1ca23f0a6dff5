"""Bounds the wait for each part of a request body; uvicorn itself waits forever for a client that stalls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send


def body_timeout(seconds: float) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware: when the next part of a body takes longer than `seconds`, answer 408 and close."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def bounded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            body_complete = False

            async def receive_in_time() -> ReceiveMessage:
                nonlocal body_complete
                if body_complete:
                    return await receive()
                try:
                    async with asyncio.timeout(seconds):
                        message = await receive()
                except TimeoutError:
                    raise HTTPException(
                        status_code=408,
                        detail=f"The request body did not arrive within {seconds:g} seconds.",
                        headers={"Connection": "close"},
                    ) from None
                body_complete = message["type"] != "http.request" or not message.get("more_body", False)
                return message

            await app(scope, receive_in_time, send)

        return bounded

    return middleware
