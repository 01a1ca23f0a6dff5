"""Where a webhook may be sent: http(s) URLs whose every address is public, unless private ones are allowed."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from urllib.parse import urlsplit

from milestones.errors import WebhookAddressRefused

IPAddress = IPv4Address | IPv6Address


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL taken apart: what to connect to is decided after resolving `host`."""

    url: str
    scheme: str
    host: str
    port: int


def target_of(url: str) -> Target:
    """The parts of a webhook URL; raises ValueError saying what is wrong with it in plain words."""
    if len(url) > 2048:
        raise ValueError("must be at most 2048 characters")
    if any(ord(character) <= 32 or ord(character) == 127 for character in url):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("must be an http or https URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password (deliveries are signed instead)")
    if parts.fragment:
        raise ValueError("must not have a fragment (#...)")
    return Target(url, parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80))


def is_public(address: IPAddress) -> bool:
    """Whether deliveries may reach this address without MILESTONES_WEBHOOK_ALLOW_PRIVATE: globally routable
    unicast (not private, loopback, link-local, shared, reserved or multicast), an IPv4-mapped one judged as IPv4."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(target: Target, allow_private: bool, timeout: float = 5.0) -> list[IPAddress]:
    """The addresses `target`'s host resolves to, every one checked: a name that resolves to a private address is
    refused like the address itself (server-side request forgery), unless `allow_private`. Raises
    WebhookAddressRefused, or OSError when the name does not resolve (within `timeout`: TimeoutError)."""
    try:
        addresses: list[IPAddress] = [ip_address(target.host)]
    except ValueError:
        lookup = asyncio.get_running_loop().getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        try:
            infos = await asyncio.wait_for(lookup, timeout)
        except UnicodeError:  # a name IDNA cannot encode (a label over 63 characters): it cannot resolve
            raise OSError(f"{target.host!r} is not a name that can resolve") from None
        addresses = list(dict.fromkeys(ip_address(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                named = "" if str(address) == target.host else f" ({target.host} resolves to it)"
                raise WebhookAddressRefused(
                    f"Webhooks may not be sent to {address}, a private, loopback or link-local address{named}; "
                    "set MILESTONES_WEBHOOK_ALLOW_PRIVATE=true to allow it."
                )
    return addresses
