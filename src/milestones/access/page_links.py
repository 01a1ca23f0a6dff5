"""Signed, expiring links to a mentor's page: made by `milestones page-link`, checked by the page routes.

A link carries `expires` (Unix seconds) and `signature`, an HMAC-SHA256 of the mentor id and that expiry
under MILESTONES_PAGE_LINK_SECRET. One signature opens the page, its card and its card image, until then.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

EXPIRES, SIGNATURE = "expires", "signature"
_TTL = re.compile(r"([1-9][0-9]{0,5})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TTL_UNITS = ", ".join(f"{unit} ({name})" for unit, name in _UNITS.items())
MAX_TTL = timedelta(days=366)


def parse_ttl(text: str) -> timedelta:
    """`90s`, `30m`, `12h`, `7d`, `2w`: how long a link stays valid (a year at most)."""
    match = _TTL.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 90s, 30m, 12h, 7d or 2w")
    ttl = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if ttl > MAX_TTL:
        raise ValueError(f"{text!r} is longer than a year; make a new link when it runs out instead")
    return ttl


def signature(secret: str, mentor_id: str, expires: int) -> str:
    message = f"{mentor_id}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_query(secret: str, mentor_id: str, expires_at: datetime) -> str:
    """The query string (without `?`) that opens the mentor's page until `expires_at`."""
    expires = int(expires_at.timestamp())
    return urlencode({EXPIRES: expires, SIGNATURE: signature(secret, mentor_id, expires)})


def link_opens(secret: str | None, mentor_id: str, expires: str | None, given: str | None, now: datetime) -> bool:
    """Whether a link's `expires` and `signature` open this mentor's page now."""
    if secret is None or expires is None or given is None:
        return False
    # isascii: "¹" is a digit to isdigit() but not to int().
    if not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
        return False
    if int(expires) <= now.timestamp():
        return False
    # Constant time: how much of a guessed signature matched must not show in the answer's timing.
    return hmac.compare_digest(signature(secret, mentor_id, int(expires)).encode(), given.encode("utf-8", "replace"))
