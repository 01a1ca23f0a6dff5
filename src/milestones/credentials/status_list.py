"""The W3C Bitstring Status List (v1.0) of revoked credentials: one bit per issued credential, set when revoked."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable

# The specification's least size (16 KiB of bits), so that one credential's bit does not single out its holder.
MIN_BITS = 131_072


def encoded_list(revoked: Iterable[int], bits: int = MIN_BITS) -> str:
    """The list as `encodedList` holds it: the bitstring (index 0 the first byte's highest bit) GZIP-compressed,
    as multibase base64url without padding (a leading `u`)."""
    indexes = sorted(set(revoked))
    size = max(bits, ((indexes[-1] // 8) + 1) * 8 if indexes else 0)
    raw = bytearray(size // 8)
    for index in indexes:
        raw[index // 8] |= 0x80 >> (index % 8)
    # mtime 0: the same bits give the same bytes, so the document changes only when a bit does.
    packed = gzip.compress(bytes(raw), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


def bit_set(encoded: str, index: int) -> bool:
    """Whether a bit of an `encodedList` is set (what a verifier does)."""
    text = encoded.removeprefix("u")
    raw = gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return bool(raw[index // 8] & (0x80 >> (index % 8)))
