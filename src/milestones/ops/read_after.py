"""Read-your-writes across hosts: the write position a request's client has seen, and the one it wrote.

With read replicas (MILESTONES_DATABASE_REPLICA_URLS), a write's answer carries the primary's write-ahead log
position after its commit in the `Milestones-Read-After` header; a client sends the last one it got back on its
reads, on any host, and the storage layer serves such a read from a replica only once the replica has replayed
that far (else from the primary). The front door puts a `ReadSession` in the context for each request; the
storage layer reads `after` and sets `written`, and the front door answers with it. The position is
PostgreSQL's `pg_lsn` text (`16/B374D848`), an unsigned 64-bit number written as two hexadecimal halves.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

HEADER = b"milestones-read-after"
HEADER_NAME = "Milestones-Read-After"
_LSN = re.compile(rb"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


class ReadSession:
    """One request's read position: what its client has seen (`after`) and what it wrote (`written`)."""

    __slots__ = ("after", "written")

    def __init__(self, after: int | None = None) -> None:
        self.after = after
        self.written: int | None = None

    def wrote(self, position: int) -> None:
        """A write committed at `position`: later reads in this request wait for it too."""
        self.written = position if self.written is None else max(self.written, position)

    @property
    def at_least(self) -> int | None:
        """The position a replica must have replayed to serve this request's reads; None: any."""
        if self.written is None:
            return self.after
        return self.written if self.after is None else max(self.after, self.written)


READ_SESSION: ContextVar[ReadSession | None] = ContextVar("read_session", default=None)


def parse_position(value: bytes) -> int | None:
    """A `pg_lsn` as the header carries it, or None when it is not one (such a header is passed over: the read
    is then served as any read without one, which a client that mangled its token can only make staler)."""
    match = _LSN.fullmatch(value.strip())
    if match is None:
        return None
    return (int(match[1], 16) << 32) | int(match[2], 16)


def position_text(position: int) -> str:
    """A position as PostgreSQL writes a `pg_lsn`."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"
