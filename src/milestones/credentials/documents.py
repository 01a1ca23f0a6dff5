"""Open Badges 3.0 credentials on the Verifiable Credentials Data Model 2.0, as plain JSON-ready data.

What a milestone says becomes an `OpenBadgeCredential`: the achievement from its definition (criteria from the
catalog's optional `criteria`, else its description; the badge with its accessibility label as the caption),
the recipient as the platform names them (a URL or DID) or else a salted hash of the mentor id, and for a
milestone still in progress a `ResultDescription` (its threshold as `requiredValue`) with the current value as
an `InProgress` `Result`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from milestones.domain import Milestone, Status

VCDM_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CONTEXTS = (VCDM_CONTEXT, OB_CONTEXT)
STATUS_LIST_PATH = "/credentials/status/revocation"


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who issues the credentials (MILESTONES_ISSUER_*), and where the service is (MILESTONES_PUBLIC_URL)."""

    id: str
    name: str
    url: str
    public_url: str

    def profile(self) -> dict[str, Any]:
        return {"id": self.id, "type": ["Profile"], "name": self.name, "url": self.url}

    def absolute(self, path: str) -> str:
        return self.public_url.rstrip("/") + path

    @property
    def status_list_url(self) -> str:
        return self.absolute(STATUS_LIST_PATH)


@dataclass(frozen=True, slots=True)
class Achieved:
    """What a milestone shows about its rung: its name, description, criteria, badge and accessibility label."""

    name: str
    description: str
    criteria: str
    badge_path: str
    label: str


def credential_path(milestone_id: str) -> str:
    return f"/api/v1/milestones/{quote(milestone_id, safe='~')}/credential"


def hashed_identity(mentor_id: str, salt: str) -> dict[str, Any]:
    """An IdentityObject standing for the mentor: `sha256$` and the hex SHA-256 of the id followed by the salt, as
    Open Badges 3.0 hashes identities; the salt is published with it (so it is the credentials' own salt)."""
    digest = hashlib.sha256((mentor_id + salt).encode()).hexdigest()
    return {
        "type": "IdentityObject",
        "identityHash": f"sha256${digest}",
        "identityType": "identifier",
        "hashed": True,
        "salt": salt,
    }


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def credential(
    milestone: Milestone,
    shown: Achieved,
    issuer: Issuer,
    *,
    recipient_id: str | None,
    identity_salt: str,
    status_index: int,
    issued_at: datetime,
) -> dict[str, Any]:
    """The unsigned credential of a milestone (not revoked): valid from when it was achieved, else from now."""
    achievement_id = issuer.absolute(f"/api/v1/definitions#{quote(milestone.definition_key)}")
    achievement: dict[str, Any] = {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": "Achievement",
        "name": shown.name,
        "description": shown.description,
        "criteria": {"narrative": shown.criteria},
        "image": {"id": issuer.absolute(shown.badge_path), "type": "Image", "caption": shown.label},
    }
    subject: dict[str, Any] = {"type": ["AchievementSubject"], "achievement": achievement}
    if recipient_id is not None:
        subject["id"] = recipient_id
    else:
        subject["identifier"] = [hashed_identity(milestone.mentor_id, identity_salt)]
    if milestone.status is Status.IN_PROGRESS:
        described = f"{achievement_id}/result"
        achievement["resultDescription"] = [
            {
                "id": described,
                "type": ["ResultDescription"],
                "name": f"{milestone.type.value} towards the threshold",
                "resultType": "RawScore",
                "requiredValue": _number(milestone.threshold),
            }
        ]
        subject["result"] = [
            {
                "type": ["Result"],
                "resultDescription": described,
                "value": _number(milestone.current_value),
                "status": "InProgress",
            }
        ]
    valid_from = milestone.achieved_at if milestone.status is Status.ACHIEVED and milestone.achieved_at else issued_at
    status_url = issuer.status_list_url
    return {
        "@context": list(CONTEXTS),
        "id": issuer.absolute(credential_path(milestone.id)),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": shown.name,
        "description": shown.description,
        "issuer": issuer.profile(),
        "validFrom": _time(valid_from),
        "credentialSubject": subject,
        "credentialStatus": {
            "id": f"{status_url}#{status_index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(status_index),
            "statusListCredential": status_url,
        },
    }


def jwt_claims(document: dict[str, Any]) -> dict[str, Any]:
    """The VC-JWT's claims: the credential itself (VC-JOSE-COSE secures the credential as the JWS payload), with
    the registered claims Open Badges 3.0's JWT proof names: `iss`, `jti`, `sub` (when the subject has an id), `nbf`
    and `iat`."""
    valid_from = datetime.fromisoformat(document["validFrom"].replace("Z", "+00:00"))
    claims = dict(document)
    claims["iss"] = document["issuer"]["id"]
    claims["jti"] = document["id"]
    claims["nbf"] = int(valid_from.timestamp())
    subject_id = document["credentialSubject"].get("id")
    if subject_id is not None:
        claims["sub"] = subject_id
    return claims


def status_list_credential(issuer: Issuer, encoded_list: str, valid_from: datetime) -> dict[str, Any]:
    """The `BitstringStatusListCredential` that the entries' `statusListCredential` names."""
    url = issuer.status_list_url
    return {
        "@context": [VCDM_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer.id,
        "validFrom": _time(valid_from),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded_list,
        },
    }
