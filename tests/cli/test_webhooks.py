"""`milestones webhooks` as a user runs it, and deliveries by `milestones serve` surviving a SIGKILL."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest
from cryptography.fernet import Fernet
from standardwebhooks import Webhook

from milestones.settings import Settings
from milestones.storage import open_repository
from tests.cli.conftest import Command
from tests.database_contents import rows_as_text
from tests.factories import summary_body
from tests.served import clean_environment, serving
from tests.webhook_receiver import HANG, Receiver, receiving

ALLOW = "MILESTONES_WEBHOOK_ALLOW_PRIVATE"


def added_id(err: str) -> str:
    found = re.search(r"Added (wh_[0-9a-f]{16})", err)
    assert found, err
    return found.group(1)


def test_add_prints_the_secret_once_and_list_shows_the_endpoint(
    database: Settings, milestones: Command, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOW, "true")
    ran = milestones("webhooks", "add", "http://127.0.0.1:9/hooks", "--events", "milestone.achieved")
    assert ran.status == 0, ran.err
    secret = ran.out.strip()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    endpoint_id = added_id(ran.err)
    listed = milestones("webhooks", "list")
    assert listed.out.splitlines() == [
        "id\tstate\tevents\turl",
        f"{endpoint_id}\tenabled\tmilestone.achieved\thttp://127.0.0.1:9/hooks",
    ]
    assert secret not in listed.out
    assert milestones("webhooks", "disable", endpoint_id).out == f"{endpoint_id} is disabled.\n"
    assert "\tdisabled (Disabled by an operator)\t" in milestones("webhooks", "list").out
    assert milestones("webhooks", "enable", endpoint_id).status == 0
    rotated = milestones("webhooks", "rotate-secret", endpoint_id)
    assert rotated.status == 0 and rotated.out.strip().startswith("whsec_") and rotated.out.strip() != secret
    tested = milestones("webhooks", "test", endpoint_id)
    assert tested.status == 0 and "webhook.test" in tested.out
    delivery = re.search(r"delivery (\d+)", tested.out)
    assert delivery
    redelivered = milestones("webhooks", "redeliver", delivery.group(1))
    assert redelivered.status == 0 and f"msg_{delivery.group(1)}" in redelivered.out
    assert milestones("webhooks", "remove", endpoint_id).status == 0
    assert milestones("webhooks", "list").out == "id\tstate\tevents\turl\n"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hooks", "http://localhost/hooks", "http://[::1]/hooks", "http://169.254.169.254/"]
)
def test_a_private_address_is_refused_without_the_setting_also_behind_a_name(
    database: Settings, milestones: Command, url: str
) -> None:
    ran = milestones("webhooks", "add", url)
    assert ran.status == 1 and ran.out == ""
    (line,) = ran.err_lines
    assert line.startswith("milestones: Webhooks may not be sent to ") and ALLOW in line
    assert milestones("webhooks", "list").out == "id\tstate\tevents\turl\n"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("add", "ftp://example.org/"), "url must be an http or https URL"),
        (("add", "https://user:pw@example.org/"), "must not carry a user name or password"),
        (("add", "https://example.org/", "--events", "milestone.won"), "unknown event type 'milestone.won'"),
        (("disable", "wh_nope"), "No webhook has the id 'wh_nope'."),
        (("remove", "wh_nope"), "No webhook has the id 'wh_nope'."),
        (("rotate-secret", "wh_nope"), "No webhook has the id 'wh_nope'."),
        (("test", "wh_nope"), "No webhook has the id 'wh_nope'."),
        (("redeliver", "999"), "No webhook delivery has the id 999."),
    ],
)
def test_errors_are_one_line(database: Settings, milestones: Command, args: tuple[str, ...], says: str) -> None:
    ran = milestones("webhooks", *args)
    assert ran.status == 1
    (line,) = ran.err_lines
    assert says in line and "Traceback" not in ran.err


def test_a_bad_delivery_id_is_a_usage_error(database: Settings, milestones: Command) -> None:
    with pytest.raises(SystemExit) as exited:
        milestones("webhooks", "redeliver", "x1")
    assert exited.value.code == 2


def test_secrets_are_encrypted_at_rest_with_the_secret_key(
    database: Settings, milestones: Command, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOW, "true")
    monkeypatch.setenv("MILESTONES_SECRET_KEY", Fernet.generate_key().decode())
    secret = milestones("webhooks", "add", "http://127.0.0.1:9/hooks").out.strip()
    stored = asyncio.run(rows_as_text(database))["webhook_endpoints"]
    assert len(stored) == 1 and secret not in stored[0] and "fernet:" in stored[0]
    monkeypatch.delenv("MILESTONES_SECRET_KEY")
    unkeyed = milestones("webhooks", "add", "http://127.0.0.1:9/other")
    stored = asyncio.run(rows_as_text(database))["webhook_endpoints"]
    assert any(unkeyed.out.strip() in row for row in stored)  # stored as it is, as the README says


def test_a_sigkill_mid_delivery_loses_no_delivery(
    database: Settings, milestones: Command, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv(ALLOW, "true")
    env = clean_environment(
        MILESTONES_DATABASE_URL=database.database_url,
        MILESTONES_WEBHOOK_ALLOW_PRIVATE="true",
        MILESTONES_WEBHOOK_TIMEOUT_SECONDS="1",
        MILESTONES_WEBHOOK_POLL_SECONDS="0.1",
        MILESTONES_WEBHOOK_RETRY_BASE_SECONDS="0.2",
    )
    with receiving(Receiver(plan=[HANG], then=200)) as receiver:
        ran = milestones("webhooks", "add", receiver.url, "--events", "milestone.achieved")
        secret = ran.out.strip()
        with serving(cwd=tmp_path, env=env) as served:  # type: ignore[arg-type]
            assert httpx.post(f"{served.url}/api/v1/milestones", json=summary_body()).status_code == 201
            receiver.wait_until(1)  # the first attempt hangs: the service is mid-delivery
            served.process.kill()
            served.process.wait(timeout=10)
        pending = asyncio.run(_statuses(database))
        assert pending and set(pending) == {"pending"}
        with serving(cwd=tmp_path, env=env):  # type: ignore[arg-type]
            deadline = time.monotonic() + 60
            while asyncio.run(_statuses(database)) != ["delivered"] * len(pending):
                assert time.monotonic() < deadline, asyncio.run(_statuses(database))
                time.sleep(0.2)
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == len(pending)
    for received in receiver.received:
        Webhook(secret).verify(received.body, received.headers)
    answered = [r for r in receiver.received if r is not receiver.received[0]]
    assert receiver.received[0].headers["webhook-id"] in {r.headers["webhook-id"] for r in answered}


async def _statuses(settings: Settings) -> list[str]:
    repository = await open_repository(settings)
    try:
        (endpoint,) = await repository.webhooks.endpoints()
        return [d.status.value for d in await repository.webhooks.deliveries(endpoint.endpoint.id, 100)]
    finally:
        await repository.close()
