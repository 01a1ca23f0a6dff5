"""The AsyncAPI document: valid AsyncAPI 3.0, public, naming every event type, and true of the events served."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from litestar.testing import AsyncTestClient
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from milestones.access.keys import parse_key_list
from milestones.domain.events import EVENT_OF_KIND, EventType
from milestones.events.asyncapi import ASYNCAPI_JSON, message_key
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.conftest import FakeClock
from tests.database_contents import events_settled
from tests.factories import summary_body

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[FrontDoor]
# The official schema, from @asyncapi/specs (its version and licence: asyncapi-specs/README.md).
SPECIFICATION = Path(__file__).parent / "asyncapi-specs" / "3.0.0.json"
ADMIN = {"Authorization": "Bearer admin-key"}
# Where the served document is registered, so that its own `#/...` references resolve in it.
DOCUMENT_URI = "urn:milestones:asyncapi"


@pytest.fixture(scope="module")
def specification() -> Draft7Validator:
    schema = json.loads(SPECIFICATION.read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


async def served(client: Client) -> dict[str, Any]:
    answer = await client.get("/asyncapi.json")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == ASYNCAPI_JSON
    document: dict[str, Any] = answer.json()
    return document


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    return await served(client)


def payload_validator(document: dict[str, Any], kind: EventType) -> Draft7Validator:
    """A validator of one message's payload, its references resolved in the document."""
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT7)
    )
    return Draft7Validator(
        {"$ref": f"{DOCUMENT_URI}#/components/messages/{message_key(kind)}/payload"}, registry=registry
    )


def test_the_specification_kept_in_tests_refuses_what_asyncapi_does_not_allow(specification: Draft7Validator) -> None:
    """The schema has teeth: its references into bindings and operations are followed."""
    valid = {"asyncapi": "3.0.0", "info": {"title": "t", "version": "1"}}
    assert specification.is_valid(valid)
    assert not specification.is_valid({**valid, "asyncapi": "2.6.0"})
    pull = {"action": "pull", "channel": {"$ref": "#/channels/feed"}}
    assert not specification.is_valid({**valid, "operations": {"read": pull}})
    binding = {"action": "send", "channel": {"$ref": "#/channels/feed"}, "bindings": {"http": {"method": "FETCH"}}}
    assert not specification.is_valid({**valid, "operations": {"read": binding}})


async def test_the_document_validates_against_the_asyncapi_3_0_schema(
    document: dict[str, Any], specification: Draft7Validator
) -> None:
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in specification.iter_errors(document)]
    assert not errors, errors
    assert document["asyncapi"] == "3.0.0"


async def test_every_reference_in_the_document_resolves(document: dict[str, Any]) -> None:
    resolver = Registry().with_resource(DOCUMENT_URI, Resource.from_contents(document, DRAFT7)).resolver(DOCUMENT_URI)

    def references(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield from [value] if key == "$ref" and isinstance(value, str) else references(value)
        elif isinstance(node, list):
            for value in node:
                yield from references(value)

    found = list(references(document))
    assert len(found) > 20
    for reference in found:
        assert resolver.lookup(reference).contents is not None, reference


async def test_every_event_type_the_code_can_emit_is_a_message_on_the_feed(document: dict[str, Any]) -> None:
    emitted = set(EventType) | set(EVENT_OF_KIND.values())
    messages = document["components"]["messages"]
    assert {message["name"] for message in messages.values()} == {kind.value for kind in emitted}
    channel = document["channels"]["feed"]
    assert set(channel["messages"]) == set(messages)
    (operation,) = document["operations"].values()
    assert operation["channel"] == {"$ref": "#/channels/feed"}
    assert {ref["$ref"] for ref in operation["messages"]} == {f"#/channels/feed/messages/{key}" for key in messages}
    # Each milestone message states which transitions make it, from the one map the write path uses.
    for transition, kind in EVENT_OF_KIND.items():
        narrowed = messages[message_key(kind)]["payload"]["allOf"][1]["properties"]
        assert narrowed["type"] == {"const": kind.value}
        assert transition in narrowed["data"]["properties"]["transition"]["enum"]


async def test_the_feed_channel_is_the_feed_operation_of_the_openapi_document(
    client: Client, document: dict[str, Any]
) -> None:
    openapi = (await client.get("/openapi.json")).json()
    (path,) = [p for p, item in openapi["paths"].items() if item.get("get", {}).get("operationId") == "listEvents"]
    channel = document["channels"]["feed"]
    assert channel["address"] == path == "/api/v1/events"
    assert "webhooks" in channel["description"].lower()
    (operation,) = document["operations"].values()
    binding = operation["bindings"]["http"]
    assert binding["method"] == "GET"
    assert set(binding["query"]["properties"]) == {"cursor", "types", "mentor_id", "limit"}
    # The envelope and the milestone are the API's own schemas, not copies written by hand.
    for name in ("EventOut", "EventDataOut", "MilestoneOut", "MetricType", "Status"):
        assert document["components"]["schemas"][name] == openapi["components"]["schemas"][name]
    assert "servers" not in document  # no MILESTONES_PUBLIC_URL: no host to name


@pytest.fixture
async def keyed(settings: Settings, clock: FakeClock) -> AsyncIterator[Client]:
    keys = parse_key_list("reader-key:read, admin-key")
    update = {"api_keys": keys, "read_requires_key": True, "public_url": "https://milestones.example.org/events/"}
    async with AsyncTestClient(app=create_app(settings.model_copy(update=update), clock=clock)) as client:
        yield client


async def test_the_document_is_public_and_states_the_read_rule_and_the_server(
    keyed: Client, specification: Draft7Validator
) -> None:
    assert (await keyed.get("/api/v1/events")).status_code == 401
    document = await served(keyed)  # no key
    assert specification.is_valid(document)
    assert document["servers"]["service"] == {
        "host": "milestones.example.org",
        "protocol": "https",
        "pathname": "/events",
    }
    assert document["channels"]["feed"]["servers"] == [{"$ref": "#/servers/service"}]
    (operation,) = document["operations"].values()
    assert operation["security"] == [{"$ref": "#/components/securitySchemes/accessKey"}]
    assert document["components"]["securitySchemes"]["accessKey"]["scheme"] == "bearer"


async def test_events_read_from_the_feed_validate_against_their_messages_payload(
    keyed: Client, settings: Settings
) -> None:
    document = await served(keyed)
    posted = await keyed.post("/api/v1/milestones", json=summary_body("gone", hours=50), headers=ADMIN)
    assert posted.status_code == 201, posted.text
    await keyed.post("/api/v1/milestones", json=summary_body("kept", hours=50), headers=ADMIN)
    await events_settled(settings)
    achieved = await keyed.get("/api/v1/events", params={"types": "milestone.achieved"}, headers=ADMIN)
    target = next(e["subject"] for e in achieved.json()["data"] if e["data"]["mentor_id"] == "kept")
    assert (await keyed.put(f"/api/v1/milestones/{target}", json={"achieved_value": 60}, headers=ADMIN)).is_success
    assert (await keyed.delete(f"/api/v1/milestones/{target}", headers=ADMIN)).is_success
    assert (await keyed.delete("/api/v1/mentors/gone", headers=ADMIN)).is_success
    await events_settled(settings)
    events = (await keyed.get("/api/v1/events", params={"limit": 100}, headers=ADMIN)).json()["data"]
    seen = {event["type"] for event in events}
    assert seen == {"milestone.achieved", "milestone.progressed", "milestone.updated", "milestone.deleted"} | {
        "mentor.erased"
    }
    for event in events:
        kind = EventType(event["type"])
        errors = [error.message for error in payload_validator(document, kind).iter_errors(event)]
        assert not errors, (event, errors)
        # Each message's payload is its own: an event is not valid as another type's.
        for other in set(EventType) - {kind}:
            assert not payload_validator(document, other).is_valid(event), (event["type"], other)
    # And the schemas bite: an envelope that lost its data, or a milestone without its status, is refused.
    broken = deepcopy(next(e for e in events if e["type"] == "milestone.updated"))
    del broken["data"]["milestone"]["status"]
    assert not payload_validator(document, EventType.MILESTONE_UPDATED).is_valid(broken)
    erased = deepcopy(next(e for e in events if e["type"] == "mentor.erased"))
    del erased["data"]
    assert not payload_validator(document, EventType.MENTOR_ERASED).is_valid(erased)
