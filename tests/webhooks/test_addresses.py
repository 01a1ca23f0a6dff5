"""Where webhooks may go: http(s) URLs whose every address is public, the name resolved and checked."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from milestones.errors import WebhookAddressRefused
from milestones.webhooks.addresses import is_public, resolve, target_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1", "255.255.255.255"],
)  # fmt: skip
def test_private_loopback_link_local_and_reserved_addresses_are_not_public(address: str) -> None:
    assert not is_public(ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:84e5", "::ffff:8.8.8.8"])
def test_global_addresses_are_public(address: str) -> None:
    assert is_public(ip_address(address))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.org/", "http or https"),
        ("https:///path", "with a host"),
        ("https://u:p@example.org/", "user name or password"),
        ("https://example.org/#frag", "fragment"),
        ("https://example.org:99999/", "http or https URL"),
        ("https://example.org/" + "a" * 2048, "2048"),
    ],
)
def test_bad_urls_are_refused_in_plain_words(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        target_of(url)


async def test_a_name_that_resolves_to_loopback_is_refused_like_the_address() -> None:
    with pytest.raises(WebhookAddressRefused, match=r"127\.0\.0\.1.*\(localhost resolves to it\)"):
        await resolve(target_of("http://localhost:8080/hooks"), allow_private=False)
    assert ip_address("127.0.0.1") in await resolve(target_of("http://localhost:8080/hooks"), allow_private=True)


async def test_an_address_is_checked_without_resolving() -> None:
    with pytest.raises(WebhookAddressRefused):
        await resolve(target_of("http://[::ffff:192.168.0.1]/"), allow_private=False)
    assert await resolve(target_of("https://93.184.215.14/"), allow_private=False) == [ip_address("93.184.215.14")]
