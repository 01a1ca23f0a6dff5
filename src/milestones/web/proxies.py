"""The client's address behind reverse proxies: believed from the forwarding header the operator names
(MILESTONES_PROXY_HEADER: Forwarded or X-Forwarded-For, never both) only when the peer that sent it is a trusted
proxy (MILESTONES_TRUSTED_PROXIES); anyone else could write any address there.

Only the named header is read: a proxy that appends to X-Forwarded-For (nginx's usual setup) passes a client's
own Forwarded header on untouched, and reading that one would let the client choose its address (and so its
rate limits and its log lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Network = IPv4Network | IPv6Network
# The headers MILESTONES_PROXY_HEADER may name, as the ASGI scope spells them.
FORWARDED = b"forwarded"
X_FORWARDED_FOR = b"x-forwarded-for"


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


def _forwarded_for(value: str) -> list[str]:
    """The `for=` addresses of a Forwarded header (RFC 7239), in order, without ports or brackets."""
    found: list[str] = []
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, node = pair.strip().partition("=")
            if name.strip().lower() != "for":
                continue
            node = node.strip().strip('"')
            if node.startswith("["):  # "[2001:db8::1]:4711"
                node = node[1:].partition("]")[0]
            elif node.count(":") == 1:  # "192.0.2.43:47011"
                node = node.partition(":")[0]
            found.append(node)
    return found


def _hops(headers: Iterable[tuple[bytes, bytes]], header: bytes) -> list[str]:
    """The addresses the named header gives, nearest last (every occurrence of it, in order)."""
    given = ",".join(v.decode("latin-1") for n, v in headers if n == header)
    if header == FORWARDED:
        return _forwarded_for(given)
    return [part.strip() for part in given.split(",") if part.strip()]


def client_address(peer: str, headers: Iterable[tuple[bytes, bytes]], trusted: Sequence[Network], header: bytes) -> str:
    """The address of the client: walking the chain `header` (FORWARDED or X_FORWARDED_FOR) gives from the
    nearest hop, the first address that is not a trusted proxy. A hop that is not an address ("unknown", an
    obfuscated name) ends the walk there."""
    if not _trusted(peer, trusted):
        return peer
    client = peer
    for hop in reversed(_hops(headers, header)):
        try:
            address: IPv4Address | IPv6Address = ip_address(hop)
        except ValueError:
            break
        client = str(address)
        if not _trusted(client, trusted):
            break
    return client
