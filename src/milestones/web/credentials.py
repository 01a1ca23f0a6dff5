"""The credentials' routes: a milestone's Open Badges credential, the keys that verify it, the status list.

A credential is JSON (`application/json`) or, when the client asks with `Accept: application/vc+jwt`, the same
credential signed as a VC-JWT. The JWKS and the status list are public: verifiers fetch them.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from milestones.credentials.documents import STATUS_LIST_PATH
from milestones.credentials.signing import VC_JWT
from milestones.domain import mentor_of
from milestones.errors import MilestoneNotFound
from milestones.web.pages import link_query
from milestones.web.problems import problem_responses
from milestones.web.route_table import CREDENTIAL, CREDENTIAL_CHECKS, declare
from milestones.web.routes import MilestoneIdParam, service_of

CREDENTIALS = "credentials"
JWKS_PATH = "/.well-known/jwks.json"
JWK_SET = "application/jwk-set+json"


def wants_jwt(request: Request[Any, Any, Any]) -> bool:
    """Whether the client asked for the signed form (a VC-JWT) rather than the JSON credential."""
    return VC_JWT in request.headers.get("accept", "")


def _document_response(description: str) -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(
            data_container=dict[str, Any],
            description=description + f" With `Accept: {VC_JWT}`, the same signed as a VC-JWT ({VC_JWT}).",
            examples=[Example(summary="JSON", value={"type": ["VerifiableCredential"]})],
        )
    }


@get(
    "/api/v1/milestones/{milestone_id:str}/credential",
    operation_id="getCredential",
    opt=declare(CREDENTIAL),
    tags=[CREDENTIALS],
    summary="A milestone's Open Badges 3.0 credential",
    description="The milestone as an Open Badges 3.0 `OpenBadgeCredential` (Verifiable Credentials Data Model "
    "2.0), issued by the service's configured issuer: achieved, valid from when it was achieved; in progress, "
    "with the threshold as a `ResultDescription`'s `requiredValue` and the current value as an `InProgress` "
    "`Result`. Its `credentialStatus` points into the revocation status list. When reads need a key it opens "
    "with the mentor's signed link (`milestones page-link`). A revoked milestone answers 410.",
    responses={
        **_document_response("The credential."),
        **problem_responses("milestone-not-found", 401, "milestone-revoked", "credentials-not-configured", 503),
    },
)
async def get_credential(
    request: Request[Any, Any, Any], state: State, milestone_id: MilestoneIdParam
) -> Response[Any]:
    service = service_of(state)
    mentor_id = mentor_of(milestone_id)
    if mentor_id is None:
        raise MilestoneNotFound(milestone_id)
    link_query(request, state.settings, service, mentor_id)
    document = await service.credential(milestone_id)
    if wants_jwt(request):
        return Response(await service.credentials.sign(document), media_type=VC_JWT)
    return Response(document, media_type="application/json")


@get(
    JWKS_PATH,
    operation_id="getCredentialKeys",
    opt=declare(CREDENTIAL_CHECKS),
    tags=[CREDENTIALS],
    summary="The public keys that verify credentials (JWKS)",
    description="Every key that signs or signed credentials, each with its `kid`: retired keys stay, so that "
    "credentials signed before a rotation still verify.",
    media_type=JWK_SET,
    responses={
        200: ResponseSpec(data_container=dict[str, Any], description="A JWK Set.", media_type=JWK_SET),
        **problem_responses(503),
    },
)
async def credential_keys(state: State) -> Response[Any]:
    return Response(await service_of(state).credentials.jwks(), media_type=JWK_SET)


@get(
    STATUS_LIST_PATH,
    operation_id="getRevocationList",
    opt=declare(CREDENTIAL_CHECKS),
    tags=[CREDENTIALS],
    summary="The credentials' revocation status list",
    description="A W3C Bitstring Status List credential: the bit at a credential's `statusListIndex` is set while "
    "its milestone is revoked (or deleted), and cleared again when it is reinstated.",
    responses={
        **_document_response("The status list credential."),
        **problem_responses("credentials-not-configured", 503),
    },
)
async def revocation_list(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    service = service_of(state)
    document = await service.credentials.status_list()
    if wants_jwt(request):
        return Response(await service.credentials.sign(document), media_type=VC_JWT)
    return Response(document, media_type="application/json")


CREDENTIAL_ROUTES = [get_credential, credential_keys, revocation_list]
