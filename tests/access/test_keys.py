"""Access keys: the MILESTONES_API_KEYS format, scopes, ids and the ring a request is checked against."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from milestones.access.keys import AccessKey, KeyRing, Scope, digest_of, new_secret, parse_key_list


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_bare_key_has_every_scope_and_a_scoped_key_its_own() -> None:
    admin, reader, writer = parse_key_list("first-key, second-key:read,third-key:write")
    assert (admin.scope, reader.scope, writer.scope) == (Scope.ADMIN, Scope.READ, Scope.WRITE)
    assert admin.digest == sha("first-key")
    assert reader.digest == sha("second-key")


def test_a_key_given_by_its_digest_is_the_same_key() -> None:
    (by_digest,) = parse_key_list(f"sha256:{sha('the-key')}:write")
    (by_secret,) = parse_key_list("the-key:write")
    assert by_digest.digest == by_secret.digest
    assert by_digest.id == by_secret.id == f"env:{sha('the-key')[:8]}"


def test_env_key_ids_are_env_and_eight_hex_digits_of_the_digest() -> None:
    (key,) = parse_key_list("k1")
    assert key.id == "env:" + sha("k1")[:8]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("good, bad key", "entry 2: a key may hold letters, digits and -._~+/ only"),
        ("good:owner", "entry 1: unknown scope 'owner': use read, write or admin"),
        ("sha256:abc", "entry 1: a sha256: digest must be 64 lowercase hex digits"),
    ],
)
def test_a_bad_entry_is_named_by_its_position_never_by_its_text(value: str, message: str) -> None:
    with pytest.raises(ValueError, match="entry") as raised:
        parse_key_list(value)
    assert str(raised.value) == message
    assert "bad key" not in str(raised.value)


def test_empty_entries_are_ignored() -> None:
    assert parse_key_list("") == []
    assert len(parse_key_list("a,,b,")) == 2


def test_scopes_nest() -> None:
    assert Scope.ADMIN >= Scope.WRITE >= Scope.READ
    assert Scope.READ < Scope.WRITE
    assert Scope.named("write") is Scope.WRITE


def test_the_ring_finds_live_keys_by_secret_only() -> None:
    live = AccessKey("db:1", "live", Scope.WRITE, digest_of("live-secret"))
    revoked = AccessKey("db:2", "gone", Scope.ADMIN, digest_of("gone-secret"), revoked_at=datetime.now(UTC))
    ring = KeyRing.of([live, revoked])
    assert ring.find("live-secret") == live
    assert ring.find("gone-secret") is None
    assert ring.find(live.digest) is None  # the digest is not a key
    assert ring.find("") is None


def test_a_ring_whose_keys_are_all_revoked_is_still_configured() -> None:
    """Revoking the last key must not open the service to anyone."""
    revoked = AccessKey("db:2", "gone", Scope.ADMIN, digest_of("s"), revoked_at=datetime.now(UTC))
    assert KeyRing.of([revoked]).configured
    assert not KeyRing.of([]).configured


def test_new_secrets_are_long_random_and_recognisable() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(s.startswith("ms_") and len(s) >= 40 for s in secrets)
    assert all(parse_key_list(s) for s in secrets)  # usable in MILESTONES_API_KEYS as they are
