"""Errors the service raises on purpose, each with its HTTP status and stable problem type."""

from __future__ import annotations


class MilestonesError(Exception):
    """Base of every expected error; the web layer renders it as RFC 9457 problem details."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def type(self) -> str:
        return f"/problems/{self.slug}"


class MilestoneNotFound(MilestonesError):
    status = 404
    slug = "milestone-not-found"
    title = "Milestone not found"

    def __init__(self, milestone_id: str) -> None:
        super().__init__(f"No milestone has the id {milestone_id!r}.")


class MentorNotFound(MilestonesError):
    status = 404
    slug = "mentor-not-found"
    title = "Mentor not found"

    def __init__(self) -> None:
        # The id is not repeated: an erasure's answers name no mentor.
        super().__init__("Nothing is stored about this mentor.")


class PeriodNotFound(MilestonesError):
    status = 404
    slug = "period-not-found"
    title = "Period not found"


class CursorExpired(MilestonesError):
    """A feed cursor from before the event retention: events after it may have been pruned."""

    status = 410
    slug = "cursor-expired"
    title = "Cursor older than the event retention"


class PeriodOverlap(MilestonesError):
    status = 409
    slug = "period-overlap"
    title = "Period overlaps a stored period"


class InvalidUpdate(MilestonesError):
    """A request whose fields are each valid but which asks for something the rules forbid."""

    status = 422
    slug = "invalid-request"
    title = "Request is not valid"

    def __init__(self, detail: str, field: str) -> None:
        super().__init__(detail)
        self.field = field


class PreconditionFailed(MilestonesError):
    status = 412
    slug = "precondition-failed"
    title = "The milestone has changed"

    def __init__(self, milestone_id: str, *, exists: bool = True) -> None:
        if exists:
            detail = f"Milestone {milestone_id!r} no longer matches If-Match; GET it again and retry with its new ETag."
        else:
            detail = f"No milestone has the id {milestone_id!r}, and If-Match asks for one that exists."
        super().__init__(detail)


class IdempotencyKeyReused(MilestonesError):
    status = 422
    slug = "idempotency-key-reused"
    title = "Idempotency key used for another request"


class IdempotencyKeyInUse(MilestonesError):
    status = 409
    slug = "idempotency-key-in-use"
    title = "A request with this idempotency key is still running"


class DatabaseUnavailable(MilestonesError):
    status = 503
    slug = "database-unavailable"
    title = "Database unavailable"


class CatalogMoved(DatabaseUnavailable):
    """A write was decided under a catalog version that is no longer the latest: the service decides it again
    under the latest one (a 503 only if the catalog keeps moving under it)."""

    def __init__(self, decided_under: str, latest: str) -> None:
        super().__init__(
            f"The milestone catalog changed (version {latest} was published) while this write was decided under "
            f"version {decided_under}; try again."
        )
        self.latest = latest


class KeyRequired(MilestonesError):
    """No key, or one that is unknown or revoked: answered 401 with `WWW-Authenticate: Bearer`."""

    status = 401
    slug = "key-required"
    title = "A valid access key is required"

    def __init__(self, detail: str, *, presented: bool) -> None:
        super().__init__(detail)
        self.presented = presented  # a key was sent, but it is unknown or revoked


class ScopeRequired(MilestonesError):
    """A valid key without the scope the operation needs: answered 403."""

    status = 403
    slug = "scope-required"
    title = "The access key lacks the scope this needs"


class OriginRefused(MilestonesError):
    """A CORS preflight from an origin that is not in MILESTONES_CORS_ORIGINS."""

    status = 403
    slug = "origin-refused"
    title = "Origin not allowed"


class RateLimited(MilestonesError):
    """More requests of a kind (reads, writes, or failed key attempts) than the configured limit allows: 429."""

    status = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, policy: str, quota: int, window_seconds: int, retry_after: int) -> None:
        super().__init__(detail)
        self.policy = policy  # "reads", "writes" or "failed-auth", the name the RateLimit headers give the limit
        self.quota = quota
        self.window_seconds = window_seconds
        self.retry_after = retry_after  # whole seconds until one more request of the kind is allowed


class WebhookNotFound(MilestonesError):
    status = 404
    slug = "webhook-not-found"
    title = "Webhook not found"

    def __init__(self, endpoint_id: str) -> None:
        super().__init__(f"No webhook has the id {endpoint_id!r}.")


class DeliveryNotFound(MilestonesError):
    status = 404
    slug = "delivery-not-found"
    title = "Delivery not found"

    def __init__(self, delivery_id: int) -> None:
        super().__init__(f"No webhook delivery has the id {delivery_id}.")


class WebhookAddressRefused(MilestonesError):
    """A webhook URL whose host is (or resolves to) a private, loopback or link-local address."""

    status = 422
    slug = "webhook-address-refused"
    title = "Webhook address not allowed"


class SecretKeyProblem(MilestonesError):
    """A stored webhook secret that cannot be opened: MILESTONES_SECRET_KEY is missing or not the one it was
    sealed with. An operator's problem, not a client's."""

    status = 503
    slug = "secret-key-problem"
    title = "Webhook secrets cannot be opened"


class CredentialsNotConfigured(MilestonesError):
    """Credentials name their issuer, and the operator has not said who that is. An operator's problem."""

    status = 503
    slug = "credentials-not-configured"
    title = "Credentials are not configured"


class CredentialKeyProblem(MilestonesError):
    """The configured signing key cannot be read, or is not of the configured algorithm. An operator's problem."""

    status = 503
    slug = "credential-key-problem"
    title = "The credentials' signing key cannot be used"


class MilestoneRevoked(MilestonesError):
    """A revoked milestone's credential: gone, and its status list entry says so."""

    status = 410
    slug = "milestone-revoked"
    title = "Milestone revoked"

    def __init__(self, milestone_id: str) -> None:
        super().__init__(f"The milestone {milestone_id!r} was revoked: no credential is issued for it.")
