"""Bounds how long a request body may take: each part, and the whole; uvicorn itself waits forever for a client
that stalls, or that sends a byte every few seconds."""

from __future__ import annotations

import asyncio

from litestar.exceptions import HTTPException
from litestar.types import Receive, ReceiveMessage


class BodyTimedOut(HTTPException):
    """The body did not arrive in time: answered 408 (a problem, by whichever path reads the body), and the
    connection closed, since the rest of the body may still come and must not be read as another request."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=408, detail=detail, headers={"Connection": "close"})


class BoundedBody:
    """A request's `receive` for the paths behind the front door: each part of the body must arrive within
    `per_part` seconds, and the whole body within `whole` seconds of the first read, else BodyTimedOut. It also
    notes whether the client went away (uvicorn's `http.disconnect`), for the log and the metrics."""

    __slots__ = ("_deadline", "_per_part", "_receive", "_whole", "complete", "disconnected")

    def __init__(self, receive: Receive, per_part: float, whole: float) -> None:
        self._receive = receive
        self._per_part = per_part
        self._whole = whole
        self._deadline: float | None = None  # loop time by which the whole body must have arrived
        self.complete = False
        self.disconnected = False

    async def __call__(self) -> ReceiveMessage:
        if self.complete:
            message = await self._receive()
        else:
            now = asyncio.get_running_loop().time()
            if self._deadline is None:
                self._deadline = now + self._whole
            try:
                async with asyncio.timeout_at(min(now + self._per_part, self._deadline)):
                    message = await self._receive()
            except TimeoutError:
                raise BodyTimedOut(self._why(now)) from None
            self.complete = message["type"] != "http.request" or not message.get("more_body", False)
        if message["type"] == "http.disconnect":
            self.disconnected = True
        return message

    def _why(self, waited_from: float) -> str:
        assert self._deadline is not None
        if waited_from + self._per_part <= self._deadline:
            return f"The next part of the request body did not arrive within {self._per_part:g} seconds."
        return f"The request body did not arrive whole within {self._whole:g} seconds."
