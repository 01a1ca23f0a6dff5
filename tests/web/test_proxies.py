"""The client's address: from forwarding headers only when the peer is a trusted proxy."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest
from pydantic import ValidationError

from milestones.cli.configuration import configuration_errors
from milestones.settings import Settings
from milestones.web.front_door import FrontDoor
from milestones.web.proxies import FORWARDED, X_FORWARDED_FOR, client_address

TRUSTED = [ip_network("10.0.0.0/8"), ip_network("::1/128")]


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [(name.replace("_", "-").encode(), value.encode()) for name, value in values.items()]


@pytest.mark.parametrize(
    ("peer", "given", "header", "expected"),
    [
        # A peer that is not a trusted proxy: its headers are anyone's words.
        ("203.0.113.9", headers(x_forwarded_for="198.51.100.1"), X_FORWARDED_FOR, "203.0.113.9"),
        ("203.0.113.9", headers(forwarded="for=198.51.100.1"), FORWARDED, "203.0.113.9"),
        # A trusted proxy: the nearest address that is not a trusted proxy.
        ("10.0.0.2", headers(x_forwarded_for="198.51.100.1"), X_FORWARDED_FOR, "198.51.100.1"),
        ("10.0.0.2", headers(x_forwarded_for="6.6.6.6, 198.51.100.1, 10.0.0.7"), X_FORWARDED_FOR, "198.51.100.1"),
        ("10.0.0.2", headers(forwarded='for="[2001:db8::7]:4711";proto=https'), FORWARDED, "2001:db8::7"),
        ("10.0.0.2", headers(forwarded="for=192.0.2.60:8080, for=10.1.1.1"), FORWARDED, "192.0.2.60"),
        ("::1", headers(forwarded="For=192.0.2.43"), FORWARDED, "192.0.2.43"),
        # Only the header the operator names is read, never the other: behind nginx appending X-Forwarded-For,
        # a client's own Forwarded header is the client's word, and the other way round.
        (
            "10.0.0.2",
            headers(forwarded="for=192.0.2.1", x_forwarded_for="198.51.100.1"),
            X_FORWARDED_FOR,
            "198.51.100.1",
        ),
        ("10.0.0.2", headers(forwarded="for=192.0.2.1", x_forwarded_for="198.51.100.1"), FORWARDED, "192.0.2.1"),
        ("10.0.0.2", headers(forwarded="for=192.0.2.1"), X_FORWARDED_FOR, "10.0.0.2"),
        ("10.0.0.2", headers(x_forwarded_for="198.51.100.1"), FORWARDED, "10.0.0.2"),
        ("10.0.0.2", [], FORWARDED, "10.0.0.2"),
        # A hop that is not an address stops the walk at the last proxy that named it.
        ("10.0.0.2", headers(x_forwarded_for="198.51.100.1, unknown"), X_FORWARDED_FOR, "10.0.0.2"),
        ("10.0.0.2", headers(forwarded="for=_hidden"), FORWARDED, "10.0.0.2"),
    ],
)
def test_client_address(peer: str, given: list[tuple[bytes, bytes]], header: bytes, expected: str) -> None:
    assert client_address(peer, given, TRUSTED, header) == expected


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

    door = FrontDoor(inner, trusted_proxies=TRUSTED, proxy_header="x-forwarded-for")
    await door(scope("10.0.0.2"), receive, send)
    await door(scope("203.0.113.9"), receive, send)
    await FrontDoor(inner)(scope("10.0.0.2"), receive, send)  # no trusted proxies: nothing is believed
    assert [client[0] for client in seen] == ["198.51.100.1", "203.0.113.9", "10.0.0.2"]


def test_trusted_proxies_are_read_from_the_environment_with_the_header_they_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MILESTONES_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    monkeypatch.setenv("MILESTONES_PROXY_HEADER", "X-Forwarded-For")
    settings = Settings()
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "192.0.2.1/32"]
    assert settings.proxy_header == "x-forwarded-for"
    monkeypatch.setenv("MILESTONES_TRUSTED_PROXIES", "not-an-address")
    with pytest.raises(ValueError, match="must be IP addresses or networks"):
        Settings()


@pytest.mark.parametrize(
    ("proxies", "header", "error"),
    [
        # Trusting proxies without naming their header would leave the choice to whichever header a client sends.
        (
            "10.0.0.0/8",
            None,
            "MILESTONES_PROXY_HEADER: required when MILESTONES_TRUSTED_PROXIES is set: forwarded or "
            "x-forwarded-for, the one header those proxies set",
        ),
        ("10.0.0.0/8", "x-real-ip", "MILESTONES_PROXY_HEADER: must be forwarded or x-forwarded-for"),
    ],
)
def test_the_proxy_header_is_required_with_trusted_proxies_and_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, proxies: str, header: str | None, error: str
) -> None:
    monkeypatch.setenv("MILESTONES_TRUSTED_PROXIES", proxies)
    if header is not None:
        monkeypatch.setenv("MILESTONES_PROXY_HEADER", header)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert configuration_errors(refused.value) == error


def test_no_trusted_proxies_need_no_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MILESTONES_TRUSTED_PROXIES", raising=False)
    monkeypatch.delenv("MILESTONES_PROXY_HEADER", raising=False)
    assert Settings().proxy_header is None
