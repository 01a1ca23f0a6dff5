"""Signing keys and VC-JWTs: RS256 (which Open Badges 3.0 asks every implementation to support) or EdDSA (Ed25519).

A key is named by its RFC 7638 thumbprint (`kid`), so the same key always has the same name, wherever it comes
from; the JWKS lists every key that ever signed, retired ones included, so that old credentials still verify.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from milestones.errors import CredentialKeyProblem

RS256, EDDSA = "RS256", "EdDSA"
ALGORITHMS = (RS256, EDDSA)
# The media type of a credential secured with JOSE (VC-JOSE-COSE): the header's `typ`, and what a client asks for.
VC_JWT = "application/vc+jwt"
RSA_BITS = 3072

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key with its algorithm and thumbprint."""

    kid: str
    algorithm: str
    private_key: PrivateKey

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK, with its `kid`, `alg` and `use`."""
        return {**_public_members(self.private_key), "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS of the claims: the VC-JWT."""
        headers = {"kid": self.kid, "typ": "vc+jwt", "cty": "vc"}
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers=headers)


def _public_members(key: PrivateKey) -> dict[str, str]:
    """The required members of the public JWK, as RFC 7638 orders them (which the thumbprint hashes)."""
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        return {"e": _uint(numbers.e), "kty": "RSA", "n": _uint(numbers.n)}
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}


def thumbprint(key: PrivateKey) -> str:
    """RFC 7638: the SHA-256 of the public JWK's required members, sorted, without spaces."""
    canonical = json.dumps(_public_members(key), sort_keys=True, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())


def signing_key(private_key: PrivateKey) -> SigningKey:
    algorithm = RS256 if isinstance(private_key, rsa.RSAPrivateKey) else EDDSA
    return SigningKey(thumbprint(private_key), algorithm, private_key)


def generate(algorithm: str) -> SigningKey:
    """A new key for the algorithm: RSA of 3072 bits, or Ed25519."""
    if algorithm == RS256:
        return signing_key(rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS))
    return signing_key(ed25519.Ed25519PrivateKey.generate())


def load_pem(pem: str, algorithm: str, where: str) -> SigningKey:
    """A PEM private key of the algorithm; CredentialKeyProblem, saying what is wrong, otherwise."""
    try:
        loaded = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise CredentialKeyProblem(f"{where} is not an unencrypted PEM private key: {exc}") from None
    if algorithm == RS256 and isinstance(loaded, rsa.RSAPrivateKey):
        if loaded.key_size < 2048:
            raise CredentialKeyProblem(f"{where} is an RSA key of {loaded.key_size} bits; RS256 needs 2048 or more.")
        return signing_key(loaded)
    if algorithm == EDDSA and isinstance(loaded, ed25519.Ed25519PrivateKey):
        return signing_key(loaded)
    wanted = "an RSA key" if algorithm == RS256 else "an Ed25519 key"
    raise CredentialKeyProblem(f"{where} is not {wanted}, which {algorithm} (MILESTONES_CREDENTIAL_ALGORITHM) needs.")
