"""The webhook endpoints' admin routes (/api/v1/webhooks): thin handlers over the service's `webhooks`."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, delete, get, post
from litestar.datastructures import State
from litestar.params import PathParameter, QueryParameter
from msgspec import UNSET

from milestones.contract import (
    AttemptOut,
    AttemptPage,
    DeliveryOut,
    WebhookIn,
    WebhookList,
    WebhookOut,
    WebhookSecretOut,
)
from milestones.domain.webhooks import Attempt, Delivery, DeliveryStatus, Endpoint
from milestones.web.problems import problem_responses
from milestones.web.route_table import ADMIN, declare
from milestones.web.routes import closed_json, service_of, strict_body
from milestones.webhooks.endpoints import Webhooks

WEBHOOKS = "webhooks"
WebhookIdParam = Annotated[str, PathParameter(description="The endpoint's id (wh_...)", max_length=32)]
DeliveryIdParam = Annotated[int, PathParameter(description="The delivery's id", ge=1, le=2**62)]
_EXAMPLE = {"url": "https://platform.example.org/hooks", "events": ["milestone.achieved"]}


def webhooks_of(state: State) -> Webhooks:
    return service_of(state).webhooks


def webhook_out(endpoint: Endpoint) -> WebhookOut:
    out = WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.type_names,
        enabled=endpoint.enabled,
        created_at=endpoint.created_at,
    )
    if endpoint.disabled_reason is not None and not endpoint.enabled:
        out.disabled_reason = endpoint.disabled_reason
    return out


def delivery_out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        webhook_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status.value,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_at
        if delivery.next_at is not None and delivery.status is DeliveryStatus.PENDING
        else UNSET,
        last_status_code=UNSET if delivery.last_status_code is None else delivery.last_status_code,
    )


def attempt_out(attempt: Attempt) -> AttemptOut:
    return AttemptOut(
        delivery_id=attempt.delivery_id,
        event_id=attempt.event_id,
        at=attempt.at,
        outcome=attempt.outcome.value,
        status_code=UNSET if attempt.status_code is None else attempt.status_code,
        duration_ms=attempt.duration_ms,
    )


@post(
    "/",
    operation_id="addWebhook",
    summary="Add a webhook endpoint; its signing secret is answered once",
    description="Events of the types asked for (all when `events` is left out) are POSTed to `url` from now on, "
    "as CloudEvents envelopes signed as the Standard Webhooks specification says (`webhook-id`, "
    "`webhook-timestamp`, `webhook-signature`: HMAC-SHA256 over id, timestamp and body). Failed deliveries are "
    "retried with exponential backoff for 24 hours, with the same `webhook-id`; then the endpoint is disabled. "
    "A host that is, or resolves to, a private, loopback or link-local address is refused (422).",
    status_code=201,
    before_request=strict_body(WebhookIn),
    responses=problem_responses(422, "webhook-address-refused", 503),
)
async def add_webhook(state: State, data: Annotated[WebhookIn, closed_json(_EXAMPLE)]) -> WebhookSecretOut:
    added = await webhooks_of(state).add(data.url, [] if data.events is UNSET else data.events)
    return WebhookSecretOut(webhook=webhook_out(added.endpoint), secret=added.secret)


@get("/", operation_id="listWebhooks", summary="Every webhook endpoint", responses=problem_responses(422, 503))
async def list_webhooks(state: State) -> WebhookList:
    return WebhookList([webhook_out(endpoint) for endpoint in await webhooks_of(state).endpoints()])


@get(
    "/{webhook_id:str}",
    operation_id="getWebhook",
    summary="A webhook endpoint",
    responses=problem_responses("webhook-not-found", 422, 503),
)
async def get_webhook(state: State, webhook_id: WebhookIdParam) -> WebhookOut:
    return webhook_out(await webhooks_of(state).get(webhook_id))


@delete(
    "/{webhook_id:str}",
    operation_id="removeWebhook",
    summary="Remove a webhook endpoint, its deliveries and their log",
    responses=problem_responses("webhook-not-found", 422, 503),
)
async def remove_webhook(state: State, webhook_id: WebhookIdParam) -> None:
    await webhooks_of(state).remove(webhook_id)


@post(
    "/{webhook_id:str}/enable",
    operation_id="enableWebhook",
    summary="Deliver to an endpoint again, from where its deliveries stopped",
    status_code=200,
    responses=problem_responses("webhook-not-found", 422, 503),
)
async def enable_webhook(state: State, webhook_id: WebhookIdParam) -> WebhookOut:
    return webhook_out(await webhooks_of(state).set_enabled(webhook_id, True))


@post(
    "/{webhook_id:str}/disable",
    operation_id="disableWebhook",
    summary="Stop delivering to an endpoint; its events wait in the outbox",
    status_code=200,
    responses=problem_responses("webhook-not-found", 422, 503),
)
async def disable_webhook(state: State, webhook_id: WebhookIdParam) -> WebhookOut:
    return webhook_out(await webhooks_of(state).set_enabled(webhook_id, False))


@post(
    "/{webhook_id:str}/rotate-secret",
    operation_id="rotateWebhookSecret",
    summary="A new signing secret, answered once; the old one signs beside it for 24 hours",
    status_code=200,
    responses=problem_responses("webhook-not-found", 422, 503),
)
async def rotate_webhook_secret(state: State, webhook_id: WebhookIdParam) -> WebhookSecretOut:
    rotated = await webhooks_of(state).rotate_secret(webhook_id)
    return WebhookSecretOut(webhook=webhook_out(rotated.endpoint), secret=rotated.secret)


@post(
    "/{webhook_id:str}/test",
    operation_id="testWebhook",
    summary="Send the endpoint a webhook.test event",
    status_code=202,
    responses=problem_responses("webhook-not-found", 422, 503),
)
async def test_webhook(state: State, webhook_id: WebhookIdParam) -> DeliveryOut:
    return delivery_out(await webhooks_of(state).test(webhook_id))


@get(
    "/{webhook_id:str}/deliveries",
    operation_id="listWebhookAttempts",
    summary="An endpoint's recent delivery attempts, newest first",
    description="Each attempt's outcome, the receiver's status and how long it took; event ids, never payloads.",
    responses=problem_responses("webhook-not-found", 422, 503),
)
async def list_attempts(
    state: State,
    webhook_id: WebhookIdParam,
    limit: Annotated[int, QueryParameter(description="At most this many", ge=1, le=500)] = 50,
) -> AttemptPage:
    return AttemptPage([attempt_out(a) for a in await webhooks_of(state).attempts(webhook_id, limit)])


@post(
    "/{webhook_id:str}/deliveries/{delivery_id:int}/redeliver",
    operation_id="redeliverWebhook",
    summary="Send a delivery again, with the same webhook-id",
    status_code=202,
    responses=problem_responses("webhook-not-found", "delivery-not-found", 422, 503),
)
async def redeliver(state: State, webhook_id: WebhookIdParam, delivery_id: DeliveryIdParam) -> DeliveryOut:
    webhooks = webhooks_of(state)
    await webhooks.get(webhook_id)
    return delivery_out(await webhooks.redeliver(delivery_id, webhook_id))


# Every route here is an administrator's: declared once, for all of them.
WEBHOOK_ROUTER = Router(
    "/api/v1/webhooks",
    opt=declare(ADMIN),
    tags=[WEBHOOKS],
    route_handlers=[
        add_webhook,
        list_webhooks,
        get_webhook,
        remove_webhook,
        enable_webhook,
        disable_webhook,
        rotate_webhook_secret,
        test_webhook,
        list_attempts,
        redeliver,
    ],
)
