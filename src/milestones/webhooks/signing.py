"""Signing secrets: made in the Standard Webhooks form, sealed at rest with Fernet, and used to sign deliveries."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from standardwebhooks import Webhook

from milestones.errors import SecretKeyProblem

SECRET_PREFIX = "whsec_"  # noqa: S105 (the secrets' prefix, not a secret)
# Sealed secrets are stored with this prefix, which a Standard Webhooks secret ("whsec_...") never has.
SEALED_PREFIX = "fernet:"


def new_secret() -> str:
    """A signing secret: `whsec_` and 32 random bytes in base64, as the specification writes them."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class SecretBox:
    """Seals secrets with MILESTONES_SECRET_KEY (Fernet: AES-128-CBC and HMAC-SHA256) when it is set; keeps them
    as they are otherwise."""

    def __init__(self, key: str | None) -> None:
        self._fernet = None if key is None else Fernet(key.encode())

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return secret
        return SEALED_PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(SEALED_PREFIX):
            return stored
        if self._fernet is None:
            raise SecretKeyProblem("A webhook secret is encrypted, and MILESTONES_SECRET_KEY is not set.")
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED_PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretKeyProblem("A webhook secret does not open with MILESTONES_SECRET_KEY.") from None


def signature(message_id: str, at: datetime, body: bytes, signing_secrets: list[str]) -> str:
    """The `webhook-signature` header: one `v1,<base64>` per secret, space-separated (the receiver accepts any one
    that verifies, so an old secret signs beside the new one while a rotation settles)."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in signing_secrets)
