"""Refuses a request body that is not declared as JSON (415), before anything else reads it."""

from __future__ import annotations

from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, Scope, Send


def is_json_media_type(content_type: bytes) -> bool:
    """application/json or any +json type, parameters allowed ("application/json; charset=utf-8")."""
    media_type = content_type.split(b";", 1)[0].strip().lower()
    kind, slash, subtype = media_type.partition(b"/")
    return bool(kind and slash) and ((subtype == b"json" and kind == b"application") or subtype.endswith(b"+json"))


def require_json_body(app: ASGIApp) -> ASGIApp:
    """Route middleware for operations that take a JSON body: a body with a missing or other Content-Type is
    a 415 problem. A request without a body is left to the JSON decoding, which says the body is missing."""

    async def checked(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        has_body = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
        if has_body and not is_json_media_type(headers.get(b"content-type", b"")):
            raise HTTPException(
                status_code=415,
                detail="The body must be JSON: send Content-Type: application/json.",
                headers={"Accept-Post": "application/json"} if scope.get("method") == "POST" else None,
            )
        await app(scope, receive, send)

    return checked
