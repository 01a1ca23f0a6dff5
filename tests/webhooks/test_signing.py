"""Secrets: made in the Standard Webhooks form, sealed with MILESTONES_SECRET_KEY, and signing verifiably."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from standardwebhooks import Webhook

from milestones.errors import SecretKeyProblem
from milestones.webhooks.signing import SecretBox, new_secret, signature


def test_a_sealed_secret_opens_with_its_key_only() -> None:
    secret = new_secret()
    box = SecretBox(Fernet.generate_key().decode())
    sealed = box.seal(secret)
    assert secret not in sealed and sealed.startswith("fernet:")
    assert box.open(sealed) == secret
    with pytest.raises(SecretKeyProblem, match="does not open"):
        SecretBox(Fernet.generate_key().decode()).open(sealed)
    with pytest.raises(SecretKeyProblem, match="MILESTONES_SECRET_KEY is not set"):
        SecretBox(None).open(sealed)


def test_without_a_key_secrets_are_kept_as_they_are() -> None:
    secret = new_secret()
    assert SecretBox(None).seal(secret) == secret == SecretBox(None).open(secret)


def test_each_secret_signs_and_the_reference_verifier_accepts_any_of_them() -> None:
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)
    body = b'{"type":"webhook.test"}'
    header = signature("msg_1", now, body, [new, old])
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": header}
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"type": "webhook.test"}
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(new_secret()).verify(body, headers)
