"""Credentials over HTTP, on SQLite and PostgreSQL: the Open Badges 3.0 document (checked against a schema written
from the specification), its VC-JWT (verified with joserfc, another JOSE library than the PyJWT that signs), the
JWKS, rotation, and the revocation status list."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, DecodeError
from joserfc.jwk import KeySet
from litestar.testing import AsyncTestClient

from milestones.access.keys import parse_key_list
from milestones.access.page_links import signed_query
from milestones.credentials.status_list import bit_set
from milestones.service import MilestoneService
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.conftest import FakeClock
from tests.credentials.conftest import ISSUER
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[FrontDoor]
SCHEMA = json.loads((Path(__file__).parent / "open-badges-3.0.3-credential.schema.json").read_text())
BASE = "/api/v1/milestones"
TEN = f"{BASE}/mentor_001~10h"
FIFTY = f"{BASE}/mentor_001~50h"
JWT = {"Accept": "application/vc+jwt"}
STATUS_LIST = "/credentials/status/revocation"


async def record(client: Client, hours: int = 12) -> None:
    response = await client.post(BASE, json=summary_body(hours=hours, contacts=0, activities=0))
    assert response.status_code in (200, 201), response.text


async def credential(client: Client, url: str) -> dict[str, Any]:
    response = await client.get(f"{url}/credential")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


async def signed(client: Client, url: str) -> str:
    response = await client.get(f"{url}/credential", headers=JWT)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vc+jwt")
    return response.text


async def verified(client: Client, token: str, algorithm: str = "RS256") -> dict[str, Any]:
    keys = KeySet.import_key_set((await client.get("/.well-known/jwks.json")).json())
    claims: dict[str, Any] = jwt.decode(token, keys, algorithms=[algorithm]).claims
    return claims


async def test_an_achieved_milestone_is_an_open_badge_credential_valid_from_its_date(issuing: Client) -> None:
    await record(issuing)
    milestone = (await issuing.get(TEN)).json()
    document = await credential(issuing, TEN)
    jsonschema.validate(document, SCHEMA)
    assert document["validFrom"] == milestone["achieved_at"]
    assert document["issuer"] == {
        "id": ISSUER["issuer_id"],
        "type": ["Profile"],
        "name": ISSUER["issuer_name"],
        "url": ISSUER["issuer_url"],
    }
    assert document["id"] == "https://milestones.example.org/api/v1/milestones/mentor_001~10h/credential"
    achievement = document["credentialSubject"]["achievement"]
    assert achievement["name"] == milestone["name"]
    assert achievement["criteria"] == {"narrative": achievement["description"]}
    assert achievement["image"] == {
        "id": "https://milestones.example.org" + milestone["badge_image_url"],
        "type": "Image",
        "caption": milestone["accessibility_label"],
    }
    assert "result" not in document["credentialSubject"]


async def test_an_in_progress_milestone_carries_its_required_and_current_values(
    issuing: Client, clock: FakeClock
) -> None:
    await record(issuing, hours=12)
    document = await credential(issuing, FIFTY)
    jsonschema.validate(document, SCHEMA)
    assert document["validFrom"] == "2026-03-01T12:00:00Z"  # not achieved: the time of issue
    described = document["credentialSubject"]["achievement"]["resultDescription"]
    assert [(d["requiredValue"], d["resultType"]) for d in described] == [("50", "RawScore")]
    assert document["credentialSubject"]["result"] == [
        {"type": ["Result"], "resultDescription": described[0]["id"], "value": "12", "status": "InProgress"}
    ]


async def test_the_recipient_is_a_salted_hash_of_the_mentor_id_with_a_salt_of_its_own(issuing: Client) -> None:
    await record(issuing)
    (identity,) = (await credential(issuing, TEN))["credentialSubject"]["identifier"]
    assert identity["hashed"] is True
    digest = hashlib.sha256(("mentor_001" + identity["salt"]).encode()).hexdigest()
    assert identity["identityHash"] == f"sha256${digest}"
    assert "mentor_001" not in json.dumps(identity)


async def test_the_signed_credential_verifies_with_another_library_and_a_changed_byte_fails(issuing: Client) -> None:
    await record(issuing)
    token = await signed(issuing, TEN)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "RS256"
    assert header["typ"] == "vc+jwt"
    claims = await verified(issuing, token)
    document = await credential(issuing, TEN)
    assert {k: v for k, v in claims.items() if k not in ("iss", "jti", "nbf")} == document
    assert (claims["iss"], claims["jti"]) == (document["issuer"]["id"], document["id"])
    jsonschema.validate(claims, SCHEMA)
    head, payload, signature = token.split(".")
    for part in (1, 2):
        pieces = [head, payload, signature]
        changed = pieces[part]
        middle = len(changed) // 2
        pieces[part] = changed[:middle] + ("A" if changed[middle] != "A" else "B") + changed[middle + 1 :]
        with pytest.raises((BadSignatureError, DecodeError, ValueError)):
            await verified(issuing, ".".join(pieces))


async def test_the_jwks_serves_the_key_by_kid_and_a_rotation_keeps_old_credentials_verifiable(
    issuing: Client, issuing_settings: Settings, clock: FakeClock
) -> None:
    await record(issuing)
    before = await signed(issuing, TEN)
    old_kid = json.loads(base64.urlsafe_b64decode(before.split(".")[0] + "=="))["kid"]
    keys = (await issuing.get("/.well-known/jwks.json")).json()["keys"]
    assert [k["kid"] for k in keys] == [old_kid]
    assert "d" not in keys[0]  # public only

    service = await MilestoneService.open(issuing_settings, (), clock)
    try:
        new_key, retired = await service.credentials.rotate_key()
    finally:
        await service.close()
    assert retired == [old_kid]
    after = await signed(issuing, TEN)
    new_kid = json.loads(base64.urlsafe_b64decode(after.split(".")[0] + "=="))["kid"]
    assert new_kid == new_key.kid != old_kid
    assert sorted(k["kid"] for k in (await issuing.get("/.well-known/jwks.json")).json()["keys"]) == sorted(
        [old_kid, new_kid]
    )
    await verified(issuing, before)
    await verified(issuing, after)


# RFC 9864 names the algorithm Ed25519 and deprecates EdDSA, which joserfc warns about; VC-JWT verifiers know EdDSA.
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
async def test_eddsa_signs_when_configured(issuing_settings: Settings, clock: FakeClock) -> None:
    eddsa = issuing_settings.model_copy(update={"credential_algorithm": "EdDSA"})
    async with AsyncTestClient(app=create_app(eddsa, clock=clock)) as client:
        await record(client)
        token = await signed(client, TEN)
        claims = await verified(client, token, "EdDSA")
        assert claims["credentialSubject"]["achievement"]["name"]
        (key,) = (await client.get("/.well-known/jwks.json")).json()["keys"]
        assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")


async def test_the_status_list_flips_on_revocation_and_back_on_reinstatement(issuing: Client) -> None:
    await record(issuing)
    entry = (await credential(issuing, TEN))["credentialStatus"]
    assert entry["statusPurpose"] == "revocation"
    assert entry["statusListCredential"] == "https://milestones.example.org" + STATUS_LIST
    index = int(entry["statusListIndex"])

    async def revoked() -> bool:
        response = await issuing.get(STATUS_LIST)  # public: verifiers fetch it
        assert response.status_code == 200
        listed = response.json()
        assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
        return bit_set(listed["credentialSubject"]["encodedList"], index)

    assert not await revoked()
    put = await issuing.put(TEN, json={"status": "revoked", "reason": "Counted twice"})
    assert put.status_code == 200, put.text
    assert await revoked()
    gone = await issuing.get(f"{TEN}/credential")
    assert gone.status_code == 410
    assert gone.json()["type"].endswith("/problems/milestone-revoked")
    assert (await issuing.put(TEN, json={"status": "achieved"})).status_code == 200
    assert not await revoked()
    assert (await credential(issuing, TEN))["credentialStatus"] == entry  # the same index, for good


async def test_a_deleted_milestone_has_no_credential_and_its_bit_is_set(issuing: Client) -> None:
    await record(issuing)
    index = int((await credential(issuing, TEN))["credentialStatus"]["statusListIndex"])
    assert (await issuing.delete(TEN)).status_code == 200
    assert (await issuing.get(f"{TEN}/credential")).status_code == 404
    assert bit_set((await issuing.get(STATUS_LIST)).json()["credentialSubject"]["encodedList"], index)


async def test_without_issuer_settings_the_problem_names_them(client: Client) -> None:
    await record(client)
    response = await client.get(f"{TEN}/credential")
    assert response.status_code == 503
    problem = response.json()
    assert problem["type"].endswith("/problems/credentials-not-configured")
    for name in ("MILESTONES_ISSUER_ID", "MILESTONES_ISSUER_NAME", "MILESTONES_ISSUER_URL", "MILESTONES_PUBLIC_URL"):
        assert name in problem["detail"]


async def test_when_reads_need_a_key_the_credential_opens_with_the_mentors_signed_link(
    issuing_settings: Settings, clock: FakeClock
) -> None:
    secret = "a-page-link-secret-long-enough"
    guarded = issuing_settings.model_copy(
        update={"api_keys": parse_key_list("k-write:write"), "read_requires_key": True, "page_link_secret": secret}
    )
    async with AsyncTestClient(app=create_app(guarded, clock=clock)) as client:
        response = await client.post(
            BASE, json=summary_body(hours=12, contacts=0, activities=0), headers={"Authorization": "Bearer k-write"}
        )
        assert response.status_code == 201
        assert (await client.get(f"{TEN}/credential")).status_code == 401
        query = signed_query(secret, "mentor_001", clock.now + timedelta(days=1))
        opened = await client.get(f"{TEN}/credential?{query}")
        assert opened.status_code == 200, opened.text
        jsonschema.validate(opened.json(), SCHEMA)
        other = signed_query(secret, "mentor_002", clock.now + timedelta(days=1))
        assert (await client.get(f"{TEN}/credential?{other}")).status_code == 401
        # The keys and the status list stay public.
        assert (await client.get("/.well-known/jwks.json")).status_code == 200
        assert (await client.get(STATUS_LIST)).status_code == 200
