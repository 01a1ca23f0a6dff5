"""The client's address: from forwarding headers only when the peer is a trusted proxy."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest

from milestones.web.front_door import FrontDoor
from milestones.web.proxies import client_address

TRUSTED = [ip_network("10.0.0.0/8"), ip_network("::1/128")]


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [(name.replace("_", "-").encode(), value.encode()) for name, value in values.items()]


@pytest.mark.parametrize(
    ("peer", "given", "expected"),
    [
        # A peer that is not a trusted proxy: its headers are anyone's words.
        ("203.0.113.9", headers(x_forwarded_for="198.51.100.1"), "203.0.113.9"),
        ("203.0.113.9", headers(forwarded="for=198.51.100.1"), "203.0.113.9"),
        # A trusted proxy: the nearest address that is not a trusted proxy.
        ("10.0.0.2", headers(x_forwarded_for="198.51.100.1"), "198.51.100.1"),
        ("10.0.0.2", headers(x_forwarded_for="6.6.6.6, 198.51.100.1, 10.0.0.7"), "198.51.100.1"),
        ("10.0.0.2", headers(forwarded='for="[2001:db8::7]:4711";proto=https'), "2001:db8::7"),
        ("10.0.0.2", headers(forwarded="for=192.0.2.60:8080, for=10.1.1.1"), "192.0.2.60"),
        ("::1", headers(forwarded="For=192.0.2.43"), "192.0.2.43"),
        # Forwarded wins over X-Forwarded-For; no header leaves the peer.
        ("10.0.0.2", headers(forwarded="for=192.0.2.1", x_forwarded_for="198.51.100.1"), "192.0.2.1"),
        ("10.0.0.2", [], "10.0.0.2"),
        # A hop that is not an address stops the walk at the last proxy that named it.
        ("10.0.0.2", headers(x_forwarded_for="198.51.100.1, unknown"), "10.0.0.2"),
        ("10.0.0.2", headers(forwarded="for=_hidden"), "10.0.0.2"),
    ],
)
def test_client_address(peer: str, given: list[tuple[bytes, bytes]], expected: str) -> None:
    assert client_address(peer, given, TRUSTED) == expected


@pytest.mark.anyio
async def test_the_front_door_hands_the_real_client_address_inward() -> None:
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["client"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(_: Any) -> None:
        return None

    def scope(peer: str) -> Any:
        return {
            "type": "http",
            "method": "GET",
            "path": "/healthz",
            "query_string": b"",
            "headers": headers(x_forwarded_for="198.51.100.1"),
            "client": (peer, 5000),
        }

    door = FrontDoor(inner, trusted_proxies=TRUSTED)
    await door(scope("10.0.0.2"), receive, send)
    await door(scope("203.0.113.9"), receive, send)
    await FrontDoor(inner)(scope("10.0.0.2"), receive, send)  # no trusted proxies: nothing is believed
    assert [client[0] for client in seen] == ["198.51.100.1", "203.0.113.9", "10.0.0.2"]


def test_trusted_proxies_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from milestones.settings import Settings

    monkeypatch.setenv("MILESTONES_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    assert [str(n) for n in Settings().trusted_proxies] == ["10.0.0.0/8", "192.0.2.1/32"]
    monkeypatch.setenv("MILESTONES_TRUSTED_PROXIES", "not-an-address")
    with pytest.raises(ValueError, match="must be IP addresses or networks"):
        Settings()
