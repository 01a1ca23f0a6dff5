"""`milestones webhooks add | list | enable | disable | remove | rotate-secret | test | redeliver`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from milestones.cli.arguments import command
from milestones.cli.configuration import read_catalog, read_settings
from milestones.cli.database import migrate_if_asked, require_database
from milestones.cli.output import OK, REJECTED, CommandError, one_line
from milestones.domain.webhooks import Endpoint
from milestones.errors import DeliveryNotFound, InvalidUpdate, WebhookAddressRefused, WebhookNotFound
from milestones.service import MilestoneService


def add_webhook_commands(commands: Any) -> None:
    webhooks = command(
        commands,
        "webhooks",
        "add, list and manage the endpoints events are pushed to",
        "Webhook endpoints: each event of the types an endpoint asked for is sent to it, signed as the Standard "
        "Webhooks specification says (webhook-id, webhook-timestamp, webhook-signature), by `serve`'s workers, "
        "retried with backoff for a day. Private, loopback and link-local addresses are refused unless "
        "MILESTONES_WEBHOOK_ALLOW_PRIVATE=true.",
        "milestones webhooks add https://platform.example.org/hooks --events milestone.achieved",
        "milestones webhooks list",
        "milestones webhooks rotate-secret wh_1a2b3c4d5e6f7a8b",
        "milestones webhooks redeliver 42",
    )
    actions = webhooks.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="store an endpoint; its signing secret is printed once, on standard output")
    add.add_argument("url", help="where events are POSTed (http or https)")
    add.add_argument(
        "--events",
        default="",
        metavar="TYPES",
        help="comma-separated event types (milestone.achieved,...); every type when left out",
    )
    actions.add_parser("list", help="every endpoint: id, state, event types, URL")
    for name, what in (
        ("enable", "deliver to an endpoint again (from where its deliveries stopped)"),
        ("disable", "stop delivering to an endpoint (its events wait in the outbox)"),
        ("remove", "remove an endpoint, its deliveries and their log"),
        ("rotate-secret", "a new signing secret, printed once; the old one signs beside it for 24 hours"),
        ("test", "send the endpoint a webhook.test event"),
    ):
        actions.add_parser(name, help=what).add_argument("id", help="the endpoint's id, as `webhooks list` shows it")
    redeliver = actions.add_parser("redeliver", help="send a delivery again, with the same webhook-id")
    redeliver.add_argument(
        "delivery", type=_delivery_id, help="the delivery's id (GET /api/v1/webhooks/{id}/deliveries)"
    )
    webhooks.set_defaults(run=run_webhooks)


def _delivery_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise argparse.ArgumentTypeError(f"{text!r} is not a delivery id (a whole number)")
    return int(text)


def run_webhooks(args: argparse.Namespace) -> int:
    settings = read_settings()
    catalog = read_catalog(settings)
    if args.action == "add":
        migrate_if_asked(settings)
    else:
        require_database(settings)

    async def run() -> int:
        service = await MilestoneService.open(settings, catalog)
        try:
            return await _act(service, args)
        except (InvalidUpdate, WebhookAddressRefused, WebhookNotFound, DeliveryNotFound) as exc:
            raise CommandError(one_line(exc.detail), REJECTED) from None
        finally:
            await service.close()

    return asyncio.run(run())


async def _act(service: MilestoneService, args: argparse.Namespace) -> int:
    webhooks = service.webhooks
    action = args.action
    if action == "add":
        types = [name.strip() for name in args.events.split(",") if name.strip()]
        added = await webhooks.add(args.url, types)
        print(
            f"Added {added.endpoint.id} for {added.endpoint.url} ({_types(added.endpoint)}). This is the only time "
            "its signing secret is shown; keep it now:",
            file=sys.stderr,
        )
        print(added.secret)
    elif action == "list":
        print("id\tstate\tevents\turl")
        for endpoint in await webhooks.endpoints():
            state = "enabled" if endpoint.enabled else f"disabled ({endpoint.disabled_reason or 'by an operator'})"
            print(f"{endpoint.id}\t{state}\t{_types(endpoint)}\t{endpoint.url}")
    elif action in ("enable", "disable"):
        endpoint = await webhooks.set_enabled(args.id, action == "enable")
        print(f"{endpoint.id} is {action}d.")
    elif action == "remove":
        await webhooks.remove(args.id)
        print(f"Removed {args.id}, with its deliveries and their log.")
    elif action == "rotate-secret":
        rotated = await webhooks.rotate_secret(args.id)
        print(
            f"New signing secret for {rotated.endpoint.id}; the old one signs beside it for 24 hours. This is the "
            "only time it is shown; keep it now:",
            file=sys.stderr,
        )
        print(rotated.secret)
    elif action == "test":
        queued = await webhooks.test(args.id)
        print(f"Queued a webhook.test event for {args.id}: delivery {queued.id}, sent by `milestones serve`.")
    else:
        delivery = await webhooks.redeliver(args.delivery)
        print(f"Delivery {delivery.id} ({delivery.event_type}) is queued again, as {delivery.message_id}.")
    return OK


def _types(endpoint: Endpoint) -> str:
    return ",".join(endpoint.type_names) or "every event type"
