"""Every problem type the service answers with: what it means and how to fix the request, as RFC 9457 asks
of a type URI. `GET /problems/{slug}` serves each one as a page; the OpenAPI document names them."""

from __future__ import annotations

from dataclasses import dataclass

from milestones.errors import (
    CredentialKeyProblem,
    CredentialsNotConfigured,
    CursorExpired,
    DatabaseUnavailable,
    DeliveryNotFound,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidUpdate,
    KeyRequired,
    MentorNotFound,
    MilestoneNotFound,
    MilestoneRevoked,
    MilestonesError,
    OriginRefused,
    PeriodNotFound,
    PeriodOverlap,
    PreconditionFailed,
    RateLimited,
    ScopeRequired,
    SecretKeyProblem,
    WebhookAddressRefused,
    WebhookNotFound,
)

PREFIX = "/problems/"
# Errors answered with a status and no type of their own (RFC 9457: the status says it all).
BLANK = "about:blank"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str
    means: str
    fix: str

    @property
    def uri(self) -> str:
        return PREFIX + self.slug


def _of(error: type[MilestonesError], means: str, fix: str) -> ProblemType:
    return ProblemType(error.slug, error.status, error.title, means, fix)


PROBLEM_TYPES: dict[str, ProblemType] = {
    problem.slug: problem
    for problem in (
        ProblemType(
            "malformed-request",
            400,
            "Malformed request",
            "The request could not be read: its body is not JSON, or a header is not valid.",
            "Send the body as JSON (UTF-8) and check the headers; `errors` names what could not be read.",
        ),
        _of(
            InvalidUpdate,
            "The request was read, but a field or parameter is not valid, or the fields together ask for something "
            "the rules do not allow (in_progress at or above the threshold, a date in the future, a year that is "
            "not the year of start_date).",
            "Correct every field `errors` names; each message says, in plain words, what the value must be.",
        ),
        _of(
            CursorExpired,
            "The feed cursor is older than the days events are kept (MILESTONES_EVENT_RETENTION_DAYS): events "
            "after it may have been pruned, so the feed cannot promise to go on from it without a gap.",
            "Start again without a cursor (from the oldest event kept, which `detail` names) or with "
            "`cursor=latest`, and read the feed more often than the retention.",
        ),
        _of(
            KeyRequired,
            "The service has access keys, and this request needs one, but it sent none, or one that is unknown "
            "or was revoked.",
            "Send `Authorization: Bearer <key>` with a live key; an operator makes one with `milestones keys create`.",
        ),
        _of(
            ScopeRequired,
            "The access key is valid, but its scope does not allow this (scopes nest: admin includes write, "
            "write includes read).",
            "Use a key with the scope `detail` names, or ask an operator for one.",
        ),
        _of(
            OriginRefused,
            "A browser asked (a CORS preflight) whether a page from this origin may call the API, and it may not.",
            "Call from an allowed origin, or have the operator add yours to MILESTONES_CORS_ORIGINS.",
        ),
        _of(
            RateLimited,
            "This access key (or, for requests without one, this client address) sent more reads or more writes "
            "than the service allows in the window; the request was not processed. The `RateLimit-Policy` header "
            "names the limit (`q` requests per `w` seconds) and `RateLimit` when there is room again (`t`).",
            "Wait the `Retry-After` seconds, then spread your requests out over the window. Operators: raise "
            "MILESTONES_RATE_LIMIT_READS or MILESTONES_RATE_LIMIT_WRITES, or give the client an access key of "
            "its own so it stops sharing an address's limit.",
        ),
        _of(
            MilestoneNotFound,
            "No stored milestone has this id. Ids are `<mentor_id>~<key>`; a mentor has a milestone of a "
            "definition only once a summary brought them to it or under way.",
            "List the mentor's milestones (GET /api/v1/milestones?mentor_id=...) for their ids.",
        ),
        _of(
            MentorNotFound,
            "Nothing is stored about this mentor: no period, milestone, history or stored answer. Either the "
            "id is not one the platform sent, or the mentor was already erased.",
            "Check the id. An erasure that was already carried out needs nothing more: the history keeps its "
            "entry, under the mentor's salted hash.",
        ),
        _of(
            PeriodNotFound,
            "The mentor has no stored period with exactly these start and end dates.",
            "List the mentor's periods (GET /api/v1/mentors/{mentor_id}/periods) and use their dates.",
        ),
        _of(
            PeriodOverlap,
            "The summary's period overlaps a period stored for the mentor with other dates; counting both would "
            "count some days twice.",
            "Send the stored period's exact dates to replace its summary, or remove the stored period first "
            "(DELETE /api/v1/mentors/{mentor_id}/periods/{start_date}/{end_date}).",
        ),
        _of(
            PreconditionFailed,
            "If-Match named a version of the milestone that is no longer the stored one: someone changed it "
            "since you read it.",
            "GET the milestone again, check your change still makes sense, and retry with its new ETag.",
        ),
        _of(
            IdempotencyKeyReused,
            "This Idempotency-Key was already used for a request with another body.",
            "Use a new Idempotency-Key for each new request; reuse one only to retry the very same request.",
        ),
        _of(
            IdempotencyKeyInUse,
            "The first request with this Idempotency-Key is still being processed.",
            "Wait a moment and retry; you will get the first request's answer.",
        ),
        _of(
            DatabaseUnavailable,
            "The database did not answer in time, or refused the write; nothing was changed.",
            "Retry after the Retry-After delay. Operators: check the database and `/readyz`.",
        ),
        _of(
            WebhookNotFound,
            "No webhook endpoint has this id: it was never added, or it was removed.",
            "List the webhooks (GET /api/v1/webhooks) for their ids.",
        ),
        _of(
            DeliveryNotFound,
            "No webhook delivery has this id: it was never made, or it was removed with its endpoint or by an "
            "erasure of the mentor it was about.",
            "List an endpoint's deliveries (GET /api/v1/webhooks/{id}/deliveries) for their ids.",
        ),
        _of(
            WebhookAddressRefused,
            "The webhook's host is, or resolves to, a private, loopback or link-local address. Deliveries are not "
            "sent there, so that a webhook cannot be used to reach the service's own network.",
            "Use a URL whose host is reachable on the public internet. Operators of a closed network can set "
            "MILESTONES_WEBHOOK_ALLOW_PRIVATE=true.",
        ),
        _of(
            SecretKeyProblem,
            "Webhook signing secrets are stored encrypted, and MILESTONES_SECRET_KEY is missing or is not the key "
            "they were encrypted with.",
            "Operators: set MILESTONES_SECRET_KEY to the key the secrets were stored with.",
        ),
        _of(
            CredentialsNotConfigured,
            "Open Badges credentials name who issues them, and the service has not been told: "
            "MILESTONES_ISSUER_ID, MILESTONES_ISSUER_NAME and MILESTONES_ISSUER_URL are not all set.",
            "Operators: set the three variables (and MILESTONES_PUBLIC_URL, the service's public address); "
            "`detail` names those missing.",
        ),
        _of(
            CredentialKeyProblem,
            "The private key that signs credentials (MILESTONES_CREDENTIAL_KEY or MILESTONES_CREDENTIAL_KEY_FILE) "
            "cannot be read, or is not a key of MILESTONES_CREDENTIAL_ALGORITHM (RSA for RS256, Ed25519 for EdDSA).",
            "Operators: give a PEM private key of the configured algorithm; `detail` says what is wrong.",
        ),
        _of(
            MilestoneRevoked,
            "The milestone was revoked: its credential is no longer issued, and the credentials issued before say "
            "so through their status list entry.",
            "Nothing to retry. The milestone itself (GET /api/v1/milestones/{id}) says when and why.",
        ),
        ProblemType(
            "not-ready",
            503,
            "Not ready",
            "The service is running but cannot serve yet: its database does not answer, or its schema is not "
            "at the version the code expects.",
            "Retry after the Retry-After delay. Operators: run `milestones migrate`, and check the database.",
        ),
    )
}

# The problem type an answer of a status has when the operation names none in particular.
DEFAULT_TYPES = {
    400: "malformed-request",
    401: "key-required",
    403: "scope-required",
    412: "precondition-failed",
    422: "invalid-request",
    429: "rate-limited",
    503: "database-unavailable",
}
