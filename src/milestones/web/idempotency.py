"""Idempotency-Key on POST (IETF httpapi draft): a retried request gets the first request's response.

The first request with a key claims it in the database, so every worker and host sees the claim; its
final response (anything below 500) is stored under the key and replayed for retries with the same
body. The same key with a different body is a 422, and a retry while the first is still running a 409.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any, cast

from litestar import Request
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Message, Receive, Scope, Send

from milestones.contract import FieldError, RequestInvalid, mentor_named_in
from milestones.domain.rows import IdempotencyRecord, Replaceable
from milestones.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from milestones.service import MilestoneService
from milestones.web.request_state import actor_of, language_of
from milestones.wording.languages import ENGLISH

HEADER = "idempotency-key"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# A claim this old without a response belongs to a request that died; a retry may take it over.
ABANDONED_AFTER = timedelta(seconds=30)
# Keys are kept for a day, as retries are only expected shortly after the first attempt.
EXPIRES_AFTER = timedelta(hours=24)


def replaceable_at(now: datetime) -> Replaceable:
    def replaceable(record: IdempotencyRecord) -> bool:
        age = now - record.created_at
        return age > EXPIRES_AFTER or (record.status_code is None and age > ABANDONED_AFTER)

    return replaceable


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    """Route middleware for POST handlers; requests without the header pass straight through."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        request: Request[Any, Any, Any] = Request(scope, receive)
        key = request.headers.get(HEADER)
        # A dry run stores nothing, an Idempotency-Key record included: it runs as if no key was sent.
        if key is None or request.query_params.get("dry_run", "false") not in ("false", "0"):
            await app(scope, receive, send)
            return
        if not _VALID_KEY.fullmatch(key):
            raise RequestInvalid(
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
                [FieldError("Idempotency-Key", "must be 1 to 255 visible ASCII characters")],
            )
        # Each client's keys are its own: the same key from another access key is another claim, so no client
        # can replay (read) another's response.
        key = f"{actor_of(scope)} {key}"
        # Reads (and caches for the handler) the body, enforcing the size limit.
        body = await request.body()
        # The answer's language is part of the request: a replay must speak the language its headers say. English
        # adds nothing, so fingerprints stored before languages existed still match.
        language = language_of(scope)
        spoken = "" if language == ENGLISH else f"{language}\n"
        fingerprint = hashlib.sha256(f"{request.method} {request.url.path}\n{spoken}".encode() + body).hexdigest()
        service = cast(MilestoneService, request.app.state.service)
        now = service.now()
        existing = await service.claim_idempotency_key(
            key, fingerprint, now, replaceable_at(now), now - EXPIRES_AFTER, mentor_named_in(body)
        )
        if existing is not None:
            await _replay(existing, fingerprint, send)
            return

        status = 500
        content_type = "application/json"
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await app(scope, receive, capture)
        except BaseException:
            await service.release_idempotency_key(key, fingerprint)
            raise
        if status < 500:
            await service.finish_idempotency_key(key, fingerprint, status, content_type, b"".join(chunks))
        else:
            await service.release_idempotency_key(key, fingerprint)

    return middleware


async def _replay(record: IdempotencyRecord, fingerprint: str, send: Send) -> None:
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body (or asking for another language)."
        )
    if record.status_code is None:
        raise IdempotencyKeyInUse("The first request with this Idempotency-Key is still being processed.")
    body = record.body or b""
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": record.status_code,
        "headers": [
            (b"content-type", (record.content_type or "application/json").encode("latin-1")),
            (b"content-length", str(len(body)).encode()),
            (b"idempotent-replayed", b"true"),
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)
