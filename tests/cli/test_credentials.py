"""`milestones credentials rotate-key`, as a user runs it: a new key signs, the old one stays in the JWKS."""

from __future__ import annotations

import anyio
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from milestones.credentials.signing import thumbprint
from milestones.service import MilestoneService
from milestones.settings import Settings
from tests.cli.conftest import run_cli


async def _kids(settings: Settings) -> tuple[list[str], str]:
    service = await MilestoneService.open(settings, ())
    try:
        keys = [k["kid"] for k in (await service.credentials.jwks())["keys"]]
        return keys, (await service.credentials.signing_key()).kid
    finally:
        await service.close()


def test_rotate_key_adds_a_key_that_signs_and_keeps_the_old_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    _, first = anyio.run(_kids, settings)  # the quick start's key, made on first use
    assert run_cli(monkeypatch, settings, "credentials", "rotate-key") == 0
    out, err = capsys.readouterr()
    new = out.strip()
    assert f"retired: {first}" in err
    kids, signing = anyio.run(_kids, settings)
    assert signing == new != first
    assert sorted(kids) == sorted([first, new])


def test_rotate_key_refuses_a_configured_key_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    code = run_cli(monkeypatch, settings, "credentials", "rotate-key", MILESTONES_CREDENTIAL_KEY=pem)
    _, err = capsys.readouterr()
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert "MILESTONES_CREDENTIAL_KEY" in err and "Traceback" not in err
    assert thumbprint(key)  # the configured key is named by its thumbprint
