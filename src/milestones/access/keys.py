"""Access keys: their scopes, how they are hashed and named, and the ring of keys a request is checked against.

A key's secret is never kept: only its SHA-256 digest, in memory and in the database. SHA-256 (not a slow
password hash) is right here because the secrets are random and long; nothing can be guessed from a digest.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

DIGEST_PREFIX = "sha256:"
SECRET_PREFIX = "ms_"  # noqa: S105 (a prefix, not a secret)
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
# A secret is what a client can send after "Bearer " (RFC 6750's b64token), without commas or colons,
# which separate MILESTONES_API_KEYS entries and their scopes.
_SECRET = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class Scope(IntEnum):
    """What a key may do. Scopes nest: admin includes write, write includes read."""

    READ = 1
    WRITE = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def named(cls, label: str) -> Scope:
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"unknown scope {label!r}: use read, write or admin") from None


@dataclass(frozen=True, slots=True)
class AccessKey:
    """A key as the service knows it: its id (which changes record as their actor), never its secret."""

    id: str
    name: str
    scope: Scope
    digest: str
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id(source: str, digest: str) -> str:
    """`env:` or `db:` and the digest's first 8 hex digits: enough to tell keys apart, nothing to attack."""
    return f"{source}:{digest[:8]}"


def new_secret() -> str:
    """A new random secret (256 bits); the prefix lets secret scanners recognise a leaked one."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def parse_key_list(value: str) -> list[AccessKey]:
    """MILESTONES_API_KEYS: comma-separated `KEY` or `KEY:scope`; `sha256:<hex>` gives a key by its digest.

    A bare key has every scope. Raises ValueError naming the bad entry (by position, never by its text).
    """
    keys: dict[str, AccessKey] = {}
    for position, entry in enumerate((e.strip() for e in value.split(",")), start=1):
        if not entry:
            continue
        if entry.startswith(DIGEST_PREFIX):
            digest, _, label = entry.removeprefix(DIGEST_PREFIX).partition(":")
            if not _HEX_DIGEST.fullmatch(digest):
                raise ValueError(f"entry {position}: a sha256: digest must be 64 lowercase hex digits")
        else:
            secret, _, label = entry.partition(":")
            if not _SECRET.fullmatch(secret):
                raise ValueError(f"entry {position}: a key may hold letters, digits and -._~+/ only")
            digest = digest_of(secret)
        try:
            scope = Scope.named(label) if label else Scope.ADMIN
        except ValueError as exc:
            raise ValueError(f"entry {position}: {exc}") from None
        keys[digest] = AccessKey(key_id("env", digest), f"MILESTONES_API_KEYS entry {position}", scope, digest)
    return list(keys.values())


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The keys a request may present. `configured` is whether any key was ever set up: from then on,
    writes need a key (revoking every key does not open the service again)."""

    keys: dict[str, AccessKey]
    configured: bool

    @classmethod
    def of(cls, keys: Iterable[AccessKey], *, configured: bool | None = None) -> KeyRing:
        listed: Sequence[AccessKey] = list(keys)
        by_digest = {key.digest: key for key in listed if not key.revoked}
        return cls(by_digest, bool(listed) if configured is None else configured)

    def find(self, secret: str) -> AccessKey | None:
        """The live key with this secret, or None. The secret is hashed before anything is compared, and the
        digests are compared in constant time."""
        digest = digest_of(secret)
        key = self.keys.get(digest)
        if key is None or not hmac.compare_digest(key.digest, digest):
            return None
        return key
