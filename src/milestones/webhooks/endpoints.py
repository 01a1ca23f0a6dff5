"""Managing webhook endpoints: add, list, enable, disable, remove, rotate a secret, test, redeliver, read the log.
The command line and the admin API both work through this."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from milestones.domain.webhooks import Attempt, Delivery, Endpoint, parse_types
from milestones.errors import DeliveryNotFound, InvalidUpdate, WebhookNotFound
from milestones.storage.base import MilestoneRepository
from milestones.storage.webhooks import EndpointRecord
from milestones.webhooks.addresses import resolve, target_of
from milestones.webhooks.delivery import Clock, position_text, precise_now, test_body
from milestones.webhooks.signing import SecretBox, new_secret

# The Standard Webhooks specification lets a receiver accept any of several signatures: after a rotation the old
# secret signs beside the new one for this long, so receivers can switch without losing a delivery.
ROTATION_OVERLAP = timedelta(hours=24)
# The ids `add` makes: anything else names no endpoint, and is answered so before any query.
ENDPOINT_ID = re.compile(r"wh_[0-9a-f]{16}")


@dataclass(frozen=True, slots=True)
class WithSecret:
    """An endpoint and its signing secret, shown once: when it is added, and when the secret is rotated."""

    endpoint: Endpoint
    secret: str


class Webhooks:
    """The webhook use cases over a repository's webhook store."""

    def __init__(
        self,
        repository: MilestoneRepository,
        box: SecretBox,
        source: str,
        *,
        allow_private: bool,
        clock: Clock = precise_now,
    ) -> None:
        self._repository = repository
        self._store = repository.webhooks
        self._box = box
        self._source = source
        self._allow_private = allow_private
        self._clock = clock

    async def add(self, url: str, types: list[str]) -> WithSecret:
        """Store an endpoint that receives events from now on. Raises InvalidUpdate for a bad URL or type, and
        WebhookAddressRefused for a host that is (or resolves to) a private address."""
        try:
            target = target_of(url)
        except ValueError as exc:
            raise InvalidUpdate(f"url {exc}.", "url") from None
        try:
            mask = parse_types(types)
        except ValueError as exc:
            raise InvalidUpdate(f"events: {exc}.", "events") from None
        try:
            await resolve(target, self._allow_private)
        except OSError:
            raise InvalidUpdate(f"url: the host {target.host!r} does not resolve.", "url") from None
        secret = new_secret()
        endpoint = Endpoint(f"wh_{secrets.token_hex(8)}", url, mask, True, self._clock().replace(microsecond=0))
        cursor = position_text(await self._repository.event_horizon())
        await self._store.add_endpoint(EndpointRecord(endpoint, self._box.seal(secret), None, None, cursor))
        return WithSecret(endpoint, secret)

    async def endpoints(self) -> list[Endpoint]:
        return [record.endpoint for record in await self._store.endpoints()]

    async def get(self, endpoint_id: str) -> Endpoint:
        return (await self._record(endpoint_id)).endpoint

    async def set_enabled(self, endpoint_id: str, enabled: bool) -> Endpoint:
        reason = None if enabled else "Disabled by an operator"
        if not ENDPOINT_ID.fullmatch(endpoint_id) or not await self._store.set_enabled(endpoint_id, enabled, reason):
            raise WebhookNotFound(endpoint_id)
        return await self.get(endpoint_id)

    async def remove(self, endpoint_id: str) -> None:
        if not ENDPOINT_ID.fullmatch(endpoint_id) or not await self._store.remove_endpoint(endpoint_id):
            raise WebhookNotFound(endpoint_id)

    async def rotate_secret(self, endpoint_id: str) -> WithSecret:
        """A new signing secret; the old one keeps signing beside it for ROTATION_OVERLAP."""
        secret = new_secret()
        sealed, until = self._box.seal(secret), self._clock() + ROTATION_OVERLAP
        if not ENDPOINT_ID.fullmatch(endpoint_id) or not await self._store.rotate_secret(endpoint_id, sealed, until):
            raise WebhookNotFound(endpoint_id)
        return WithSecret(await self.get(endpoint_id), secret)

    async def test(self, endpoint_id: str) -> Delivery:
        """Queue a `webhook.test` event for the endpoint; its delivery."""
        await self._record(endpoint_id)
        now = self._clock()
        event_id = f"test-{secrets.token_hex(6)}"
        body = test_body(event_id, endpoint_id, self._source, now)
        delivery = await self._store.delivery(await self._store.queue_test(endpoint_id, event_id, body, now))
        if delivery is None:  # the endpoint was removed meanwhile, with its deliveries
            raise WebhookNotFound(endpoint_id)
        return delivery

    async def redeliver(self, delivery_id: int, endpoint_id: str | None = None) -> Delivery:
        """Send a delivery again, with the same `webhook-id`, its retry schedule anew."""
        delivery = await self._store.delivery(delivery_id)
        if delivery is None or (endpoint_id is not None and delivery.endpoint_id != endpoint_id):
            raise DeliveryNotFound(delivery_id)
        await self._store.redeliver(delivery_id, self._clock())
        redelivered = await self._store.delivery(delivery_id)
        if redelivered is None:
            raise DeliveryNotFound(delivery_id)
        return redelivered

    async def deliveries(self, endpoint_id: str, limit: int = 50) -> list[Delivery]:
        await self._record(endpoint_id)
        return await self._store.deliveries(endpoint_id, limit)

    async def attempts(self, endpoint_id: str, limit: int = 50) -> list[Attempt]:
        """The endpoint's most recent attempts, newest first."""
        await self._record(endpoint_id)
        return await self._store.attempts(endpoint_id, limit)

    async def _record(self, endpoint_id: str) -> EndpointRecord:
        record = await self._store.endpoint(endpoint_id) if ENDPOINT_ID.fullmatch(endpoint_id) else None
        if record is None:
            raise WebhookNotFound(endpoint_id)
        return record
