"""Deliveries end to end on both databases, to a real HTTP receiver: signed, retried with the same id, given up
on (the endpoint disabled), never sent twice at once by two workers, refused for private addresses."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from milestones.catalog import load_catalog
from milestones.domain.webhooks import DeliveryStatus, Outcome, RetrySchedule
from milestones.ops import metrics
from milestones.service import MilestoneService
from milestones.settings import Settings
from milestones.webhooks.delivery import DeliveryLoop
from tests.factories import period
from tests.webhook_receiver import HANG, Receiver, receiving
from tests.webhooks.conftest import eventually, options

pytestmark = pytest.mark.anyio


async def achieve(service: MilestoneService, mentor_id: str = "mentor_001") -> None:
    """A summary that makes events (a year's hours, contacts and activities)."""
    await service.record_summary(mentor_id, period(hours="312.5", contacts=47, activities=198))


async def test_a_receiver_failing_three_times_gets_the_event_with_one_id_and_valid_signatures(
    service: MilestoneService, running_loop: object
) -> None:
    with receiving(Receiver(plan=[500, 503, 429], then=200)) as receiver:
        added = await service.webhooks.add(receiver.url, ["milestone.achieved"])
        await achieve(service)
        running_loop()  # type: ignore[operator]
        await eventually(lambda: _settled(service, added.endpoint.id))
        await asyncio.sleep(0.2)  # nothing more comes: the fourth answer was a success
    first = receiver.received[0].headers["webhook-id"]
    received = [r for r in receiver.received if r.headers["webhook-id"] == first]
    assert len(received) == 4
    verifier = Webhook(added.secret)
    bodies = [verifier.verify(r.body, r.headers) for r in received]
    assert len({r.headers["webhook-id"] for r in received}) == 1
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["type"] == "milestone.achieved" and bodies[0]["specversion"] == "1.0"
    assert received[0].headers["webhook-signature"].startswith("v1,")

    (delivery,) = [d for d in await service.webhooks.deliveries(added.endpoint.id) if d.message_id == first]
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 4)
    attempts = [a for a in await service.webhooks.attempts(added.endpoint.id) if a.delivery_id == delivery.id]
    assert [(a.outcome, a.status_code) for a in reversed(attempts)] == [
        (Outcome.REJECTED, 500),
        (Outcome.REJECTED, 503),
        (Outcome.REJECTED, 429),
        (Outcome.DELIVERED, 200),
    ]


async def test_only_the_types_asked_for_are_delivered(service: MilestoneService, running_loop: object) -> None:
    with receiving(Receiver()) as receiver:
        await service.webhooks.add(receiver.url, ["milestone.deleted"])
        everything = await service.webhooks.add(receiver.url + "/all", [])
        await achieve(service)
        loop = running_loop()  # type: ignore[operator]
        await eventually(lambda: _settled(service, everything.endpoint.id))
        await loop.drain()
    types = {json.loads(r.body)["type"] for r in receiver.received}
    assert types == {"milestone.achieved", "milestone.progressed"}
    assert all(r.headers["host"] == f"127.0.0.1:{receiver.port}" for r in receiver.received)


async def _settled(service: MilestoneService, endpoint_id: str) -> bool:
    deliveries = await service.webhooks.deliveries(endpoint_id)
    return bool(deliveries) and all(d.status is DeliveryStatus.DELIVERED for d in deliveries)


async def test_an_exhausted_schedule_disables_the_endpoint_with_one_log_line_and_a_metric(
    service: MilestoneService, running_loop: object, caplog: pytest.LogCaptureFixture
) -> None:
    disabled_before = metrics.WEBHOOK_ENDPOINTS_DISABLED._value.get()
    with receiving(Receiver(then=500)) as receiver:
        added = await service.webhooks.add(receiver.url, ["milestone.achieved"])
        await achieve(service)
        with caplog.at_level(logging.INFO, logger="milestones"):
            running_loop(schedule=RetrySchedule(base=timedelta(milliseconds=30), retry_for=timedelta(seconds=0.5)))  # type: ignore[operator]

            async def disabled() -> bool:
                return not (await service.webhooks.get(added.endpoint.id)).enabled

            await eventually(disabled)
            await asyncio.sleep(0.2)
    endpoint = await service.webhooks.get(added.endpoint.id)
    assert endpoint.disabled_reason is not None and "retries ran out" in endpoint.disabled_reason
    deliveries = await service.webhooks.deliveries(added.endpoint.id)
    assert any(d.status is DeliveryStatus.FAILED and d.attempts >= 2 for d in deliveries)
    lines = [r for r in caplog.records if r.getMessage() == "webhook endpoint disabled"]
    assert len(lines) == 1
    assert metrics.WEBHOOK_ENDPOINTS_DISABLED._value.get() == disabled_before + 1
    # No more attempts once disabled.
    count = len(receiver.received)
    await asyncio.sleep(0.2)
    assert len(receiver.received) == count


async def test_a_disabled_endpoint_gets_nothing_until_enabled_again(
    service: MilestoneService, running_loop: object
) -> None:
    with receiving(Receiver()) as receiver:
        added = await service.webhooks.add(receiver.url, ["milestone.achieved"])
        await service.webhooks.set_enabled(added.endpoint.id, False)
        await achieve(service)
        running_loop()  # type: ignore[operator]
        await asyncio.sleep(0.3)
        assert receiver.received == []
        await service.webhooks.set_enabled(added.endpoint.id, True)
        await receiver.wait_for(1)


async def test_two_workers_never_deliver_the_same_attempt_at_once(
    settings: Settings, service: MilestoneService, running_loop: object
) -> None:
    second = await MilestoneService.open(settings.model_copy(update={"webhook_allow_private": True}), load_catalog())
    with receiving(Receiver(delay=0.05)) as receiver:
        await service.webhooks.add(receiver.url, [])
        for number in range(12):
            await achieve(service, f"mentor_{number:03d}")
        running_loop(concurrency=4)  # type: ignore[operator]
        other_loop = second.delivery_loop(options(concurrency=4))
        other = asyncio.create_task(other_loop.run())
        try:
            await eventually(lambda: _all_delivered(service))
            await asyncio.sleep(0.3)
        finally:
            other_loop.stop()
            await asyncio.gather(other, return_exceptions=True)
            await second.close()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) >= 24  # two events (achieved, progressed) per mentor at least
    assert len(ids) == len(set(ids))
    assert set(receiver.most_in_flight.values()) == {1}


async def _all_delivered(service: MilestoneService) -> bool:
    (endpoint,) = await service.webhooks.endpoints()
    deliveries = await service.webhooks.deliveries(endpoint.id, 1000)
    return len(deliveries) >= 24 and all(d.status is DeliveryStatus.DELIVERED for d in deliveries)


async def test_a_receiver_that_never_answers_times_out_and_is_retried(
    service: MilestoneService, running_loop: object
) -> None:
    with receiving(Receiver(plan=[HANG], then=204)) as receiver:
        added = await service.webhooks.add(receiver.url, ["milestone.achieved"])
        await achieve(service)
        running_loop(timeout=0.3)  # type: ignore[operator]
        await eventually(lambda: _settled(service, added.endpoint.id))
    attempts = await service.webhooks.attempts(added.endpoint.id)
    for delivery in await service.webhooks.deliveries(added.endpoint.id):
        sent = [r for r in receiver.received if r.headers["webhook-id"] == delivery.message_id]
        assert len(sent) >= 2
        outcomes = [a.outcome for a in reversed(attempts) if a.delivery_id == delivery.id]
        # On a busy machine a retry may time out too before it is answered.
        assert outcomes[0] is Outcome.TIMEOUT and outcomes[-1] is Outcome.DELIVERED


async def test_a_private_address_is_refused_at_delivery_without_the_setting(
    service: MilestoneService, running_loop: object
) -> None:
    with receiving(Receiver()) as receiver:
        added = await service.webhooks.add(receiver.url.replace("127.0.0.1", "localhost"), ["milestone.achieved"])
        await achieve(service)
        running_loop(allow_private=False)  # type: ignore[operator]

        async def refused() -> bool:
            return any(a.outcome is Outcome.REFUSED for a in await service.webhooks.attempts(added.endpoint.id))

        await eventually(refused)
    assert receiver.received == []


async def test_the_old_secret_signs_beside_the_new_one_after_a_rotation(
    service: MilestoneService, running_loop: object
) -> None:
    with receiving(Receiver()) as receiver:
        added = await service.webhooks.add(receiver.url, ["milestone.achieved"])
        rotated = await service.webhooks.rotate_secret(added.endpoint.id)
        assert rotated.secret != added.secret and rotated.secret.startswith("whsec_")
        await achieve(service)
        running_loop()  # type: ignore[operator]
        received = (await receiver.wait_for(1))[0]
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    for secret in (added.secret, rotated.secret):
        Webhook(secret).verify(received.body, received.headers)


async def test_erasure_cancels_the_mentors_pending_deliveries(service: MilestoneService, running_loop: object) -> None:
    with receiving(Receiver(then=500)) as receiver:
        added = await service.webhooks.add(receiver.url, [])
        await achieve(service, "mentor_erased")
        loop: DeliveryLoop = running_loop(schedule=RetrySchedule(base=timedelta(seconds=30)))  # type: ignore[operator]
        await receiver.wait_for(1)
        await loop.drain()
        pending = await service.webhooks.deliveries(added.endpoint.id)
        assert pending and all(d.status is DeliveryStatus.PENDING for d in pending)
        erasure = await service.erase("mentor_erased")
    assert erasure.removed["webhook_deliveries"] == len(pending)
    left = await service.webhooks.deliveries(added.endpoint.id)
    assert all(d.id not in {p.id for p in pending} for d in left)


async def test_pruning_removes_finished_deliveries_and_old_attempts_and_keeps_pending_ones(
    service: MilestoneService, running_loop: object
) -> None:
    with receiving(Receiver()) as receiver:
        added = await service.webhooks.add(receiver.url, ["milestone.achieved"])
        await achieve(service)
        loop: DeliveryLoop = running_loop()  # type: ignore[operator]
        await eventually(lambda: _settled(service, added.endpoint.id))
        await loop.drain()
    delivered = await service.webhooks.deliveries(added.endpoint.id)
    await service.webhooks.set_enabled(added.endpoint.id, False)  # so that the test delivery below stays pending
    pending = await service.webhooks.test(added.endpoint.id)
    later = datetime.now(UTC) + timedelta(days=1)
    removed = await service.repository.webhooks.prune(later, batch_size=2)
    assert removed >= 2 * len(delivered)
    assert [d.id for d in await service.webhooks.deliveries(added.endpoint.id)] == [pending.id]
    assert await service.webhooks.attempts(added.endpoint.id) == []
