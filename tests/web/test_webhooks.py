"""/api/v1/webhooks over HTTP, for admin keys only, on both databases: the app's own delivery loop sends to a real
receiver, and the endpoint's log shows the attempts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook

from milestones.access.keys import parse_key_list
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.conftest import FakeClock
from tests.factories import summary_body
from tests.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": "Bearer admin-secret-0001"}
WRITER = {"Authorization": "Bearer write-secret-0001"}
BASE = "/api/v1/webhooks"
Client = AsyncTestClient[FrontDoor]


def keyed_app(settings: Settings, clock: FakeClock, **overrides: object) -> FrontDoor:
    keys = parse_key_list("admin-secret-0001:admin, write-secret-0001:write")
    update = {"api_keys": keys, "webhook_poll_seconds": 0.05, **overrides}
    return create_app(settings.model_copy(update=update), clock=clock)


@pytest.fixture
async def keyed(settings: Settings, clock: FakeClock) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=keyed_app(settings, clock, webhook_allow_private=True)) as client:
        yield client


async def test_an_admin_adds_a_webhook_and_it_receives_signed_events(keyed: Client) -> None:
    with receiving(Receiver(plan=[500])) as receiver:
        added = await keyed.post(BASE, json={"url": receiver.url, "events": ["milestone.achieved"]}, headers=ADMIN)
        assert added.status_code == 201, added.text
        body = added.json()
        secret, webhook = body["secret"], body["webhook"]
        assert secret.startswith("whsec_") and webhook["events"] == ["milestone.achieved"] and webhook["enabled"]
        assert (await keyed.post("/api/v1/milestones", json=summary_body(), headers=WRITER)).status_code == 201
        first = (await receiver.wait_for(1))[0].headers["webhook-id"]
        for _ in range(200):
            received = [r for r in receiver.received if r.headers["webhook-id"] == first]
            if len(received) == 2:
                break
            await asyncio.sleep(0.05)
    assert len(received) == 2  # refused once (500), then taken
    event = Webhook(secret).verify(received[1].body, received[1].headers)
    assert event["type"] == "milestone.achieved" and event["data"]["mentor_id"] == "mentor_001"

    listed = (await keyed.get(BASE, headers=ADMIN)).json()
    assert listed == {"data": [webhook]} and "secret" not in str(listed)

    async def attempts() -> list[dict[str, object]]:
        answer = await keyed.get(f"{BASE}/{webhook['id']}/deliveries", headers=ADMIN)
        assert answer.status_code == 200
        data: list[dict[str, object]] = answer.json()["data"]
        return data

    log = await attempts()
    outcomes = {(a["outcome"], a.get("status_code")) for a in log}
    assert {("delivered", 200), ("rejected", 500)} <= outcomes
    assert all(isinstance(a["duration_ms"], int) and a["event_id"] for a in log)
    assert "payload" not in str(log) and "mentor_001" not in str(log)

    redelivered = await keyed.post(
        f"{BASE}/{webhook['id']}/deliveries/{log[0]['delivery_id']}/redeliver", headers=ADMIN
    )
    assert redelivered.status_code == 202 and redelivered.json()["status"] == "pending"
    tested = await keyed.post(f"{BASE}/{webhook['id']}/test", headers=ADMIN)
    assert tested.status_code == 202 and tested.json()["event_type"] == "webhook.test"


async def test_the_admin_routes_manage_an_endpoint(keyed: Client) -> None:
    webhook = (await keyed.post(BASE, json={"url": "http://127.0.0.1:9/x"}, headers=ADMIN)).json()["webhook"]
    path = f"{BASE}/{webhook['id']}"
    assert webhook["events"] == []
    disabled = (await keyed.post(f"{path}/disable", headers=ADMIN)).json()
    assert disabled["enabled"] is False and disabled["disabled_reason"] == "Disabled by an operator"
    assert (await keyed.post(f"{path}/enable", headers=ADMIN)).json()["enabled"] is True
    rotated = await keyed.post(f"{path}/rotate-secret", headers=ADMIN)
    assert rotated.status_code == 200 and rotated.json()["secret"].startswith("whsec_")
    assert (await keyed.get(path, headers=ADMIN)).json()["id"] == webhook["id"]
    assert (await keyed.delete(path, headers=ADMIN)).status_code == 204
    missing = await keyed.get(path, headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/webhook-not-found"


async def test_only_admin_keys_reach_webhooks(keyed: Client) -> None:
    assert (await keyed.get(BASE, headers=WRITER)).status_code == 403
    assert (await keyed.get(BASE)).status_code == 401
    assert (await keyed.post(BASE, json={"url": "http://127.0.0.1:9/x"}, headers=WRITER)).status_code == 403


async def test_a_bad_body_names_every_bad_field_and_changes_nothing(keyed: Client) -> None:
    answer = await keyed.post(BASE, json={"url": 7, "events": "all", "extra": 1}, headers=ADMIN)
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    bad_type = await keyed.post(BASE, json={"url": "https://example.org/", "events": ["nope"]}, headers=ADMIN)
    assert bad_type.status_code == 422 and "unknown event type 'nope'" in bad_type.json()["detail"]
    assert (await keyed.get(BASE, headers=ADMIN)).json() == {"data": []}


async def test_a_private_address_is_refused_without_the_setting(settings: Settings, clock: FakeClock) -> None:
    async with AsyncTestClient(app=keyed_app(settings, clock)) as client:
        for url in ("http://127.0.0.1/x", "http://localhost:8080/x", "http://[::ffff:10.0.0.1]/x"):
            answer = await client.post(BASE, json={"url": url}, headers=ADMIN)
            assert answer.status_code == 422, url
            assert answer.json()["type"] == "/problems/webhook-address-refused"
        assert (await client.get(BASE, headers=ADMIN)).json() == {"data": []}
