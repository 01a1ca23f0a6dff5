"""Issuing credentials: the issuer from the settings, the signing key (configured, or the service's own), the
JWKS, rotation, each milestone's credential and the status list."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from milestones.catalog import CatalogVersions
from milestones.credentials.documents import Achieved, Issuer, credential, jwt_claims, status_list_credential
from milestones.credentials.signing import SigningKey, generate, load_pem
from milestones.credentials.status_list import encoded_list
from milestones.domain import Milestone, Status
from milestones.errors import CredentialKeyProblem, CredentialsNotConfigured, MilestoneRevoked
from milestones.events.milestones import milestone_out
from milestones.settings import Settings
from milestones.storage import MilestoneRepository
from milestones.storage.credentials import StoredKey
from milestones.wording.labels import description_of

IDENTITY_SALT = "credential_identity_salt"
_ISSUER_SETTINGS = (
    ("MILESTONES_ISSUER_ID", "issuer_id"),
    ("MILESTONES_ISSUER_NAME", "issuer_name"),
    ("MILESTONES_ISSUER_URL", "issuer_url"),
    ("MILESTONES_PUBLIC_URL", "public_url"),
)


def issuer_of(settings: Settings) -> Issuer:
    """The issuer, or CredentialsNotConfigured naming every setting missing."""
    values = {name: getattr(settings, field) for name, field in _ISSUER_SETTINGS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise CredentialsNotConfigured(f"Credentials need these settings, which are not set: {', '.join(missing)}.")
    return Issuer(*(str(value) for value in values.values()))


class Credentials:
    """The credentials' use cases, on the service's repository and settings."""

    def __init__(self, repository: MilestoneRepository, settings: Settings, clock: Callable[[], datetime]) -> None:
        self._repository = repository
        self._settings = settings
        self._clock = clock
        self._configured: SigningKey | None = None
        self._salt: str | None = None
        self._keys: dict[str, SigningKey] = {}

    def configured_key(self) -> SigningKey | None:
        """The key from MILESTONES_CREDENTIAL_KEY or MILESTONES_CREDENTIAL_KEY_FILE, None when neither is set."""
        if self._configured is None:
            settings, algorithm = self._settings, self._settings.credential_algorithm
            if settings.credential_key is not None:
                self._configured = load_pem(settings.credential_key, algorithm, "MILESTONES_CREDENTIAL_KEY")
            elif settings.credential_key_file is not None:
                where = f"MILESTONES_CREDENTIAL_KEY_FILE ({settings.credential_key_file})"
                try:
                    pem = settings.credential_key_file.read_text()
                except (OSError, UnicodeDecodeError) as exc:
                    raise CredentialKeyProblem(f"{where} cannot be read: {exc}") from None
                self._configured = load_pem(pem, algorithm, where)
        return self._configured

    async def _stored(self) -> list[tuple[StoredKey, SigningKey]]:
        return [(stored, self._loaded(stored)) for stored in await self._repository.credentials.signing_keys()]

    def _loaded(self, stored: StoredKey) -> SigningKey:
        # Loading a PEM checks the key, which takes tens of milliseconds for RSA; a kid always names the same key.
        key = self._keys.get(stored.kid)
        if key is None:
            key = self._keys[stored.kid] = load_pem(
                stored.private_key, stored.algorithm, f"the stored key {stored.kid}"
            )
        return key

    async def signing_key(self) -> SigningKey:
        """The key that signs now: the configured one, else the newest stored key in use of the configured
        algorithm, made and stored on first use (a quick start)."""
        configured = self.configured_key()
        if configured is not None:
            return configured
        algorithm = self._settings.credential_algorithm
        for _ in range(2):
            in_use = [key for stored, key in await self._stored() if stored.retired_at is None]
            fitting = [key for key in in_use if key.algorithm == algorithm]
            if fitting:
                return fitting[-1]
            key = generate(algorithm)
            # A first key only while none is stored: another worker may store one first, and then that one signs.
            # A key of another algorithm than the one now configured is retired by the new one.
            if await self._repository.credentials.add_signing_key(self._stored_form(key), retire_others=bool(in_use)):
                return key
        raise CredentialKeyProblem("No signing key could be stored in the database.")

    def _stored_form(self, key: SigningKey) -> StoredKey:
        return StoredKey(key.kid, key.algorithm, key.pem(), self._clock())

    async def rotate_key(self) -> tuple[SigningKey, list[str]]:
        """Add a key of the configured algorithm and retire those in use; the new key, and the kids retired."""
        if self.configured_key() is not None:
            raise CredentialKeyProblem(
                "The signing key comes from MILESTONES_CREDENTIAL_KEY or MILESTONES_CREDENTIAL_KEY_FILE: rotate it "
                "there (the service stores and rotates only the keys it made itself)."
            )
        retired = [stored.kid for stored, _ in await self._stored() if stored.retired_at is None]
        key = generate(self._settings.credential_algorithm)
        await self._repository.credentials.add_signing_key(self._stored_form(key), retire_others=True)
        return key, retired

    async def jwks(self) -> dict[str, Any]:
        """Every public key that signs or signed credentials, retired ones included, each with its kid."""
        keys = [key.public_jwk() for _, key in await self._stored()]
        configured = self.configured_key()
        if configured is not None and configured.kid not in {k["kid"] for k in keys}:
            keys.append(configured.public_jwk())
        return {"keys": keys}

    async def _identity_salt(self) -> str:
        if self._salt is None:
            self._salt = await self._repository.service_secret(IDENTITY_SALT, secrets.token_hex(16))
        return self._salt

    async def credential(self, milestone: Milestone, catalogs: CatalogVersions) -> dict[str, Any]:
        """The unsigned credential of a milestone: MilestoneRevoked for a revoked one."""
        issuer = issuer_of(self._settings)
        if milestone.status is Status.REVOKED:
            raise MilestoneRevoked(milestone.id)
        shown = milestone_out(milestone, catalogs=catalogs)
        definition = catalogs.definition(milestone.catalog_version, milestone.definition_key)
        if definition is None:
            description = shown.name
            criteria = description
        else:
            description = description_of(definition)
            criteria = definition.criteria or description
        achieved = Achieved(shown.name, description, criteria, shown.badge_image_url, shown.accessibility_label)
        return credential(
            milestone,
            achieved,
            issuer,
            recipient_id=await self._repository.credentials.recipient_id(milestone.mentor_id),
            identity_salt=await self._identity_salt(),
            status_index=await self._repository.credentials.status_index(milestone.id),
            issued_at=self._clock(),
        )

    async def sign(self, document: dict[str, Any]) -> str:
        """The credential as a VC-JWT, signed with the key that signs now."""
        return (await self.signing_key()).sign(jwt_claims(document))

    async def status_list(self) -> dict[str, Any]:
        """The revocation status list as it is now: a bit set for each revoked (or deleted) milestone."""
        issuer = issuer_of(self._settings)
        revoked = await self._repository.credentials.revoked_indexes()
        return status_list_credential(issuer, encoded_list(revoked), self._clock())
