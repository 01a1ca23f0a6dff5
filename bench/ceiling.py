"""The ceiling: a raw ASGI app answering every request with one recorded response, read from BENCH_CEILING_RESPONSE."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENV_VAR = "BENCH_CEILING_RESPONSE"


def load_response(path: Path) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Read a recorded response: `name: value` header lines, a blank line, then the exact body bytes."""
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = [_header(line) for line in head.split(b"\r\n") if line]
    # The server adds date and server itself, exactly as it does for the service, so only the length is ours.
    headers.append((b"content-length", str(len(body)).encode()))
    return headers, body


def _header(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name.strip().lower(), value.strip()


def save_response(path: Path, headers: list[tuple[str, str]], body: bytes) -> None:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    path.write_bytes(head.encode("latin-1") + b"\r\n" + body)


_HEADERS, _BODY = load_response(Path(os.environ[ENV_VAR])) if ENV_VAR in os.environ else ([], b"")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})
