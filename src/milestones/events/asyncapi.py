"""The AsyncAPI 3.0 document of the events: each event type as a message, on the feed a platform polls."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from milestones.domain.events import EVENT_OF_KIND, EventType

# The feed's operation in the OpenAPI document: the channel's address and its query parameters are read from it,
# so the two documents cannot disagree.
FEED_OPERATION = "listEvents"
# The media type the AsyncAPI specification names for its JSON documents.
ASYNCAPI_JSON = "application/vnd.aai.asyncapi+json;version=3.0.0"
# The CloudEvents envelope, as the OpenAPI document's component schemas name it.
ENVELOPE = "EventOut"
CHANNEL = "feed"
SECURITY_SCHEME = "accessKey"

SUMMARIES: dict[EventType, str] = {
    EventType.MILESTONE_ACHIEVED: "A milestone was achieved.",
    EventType.MILESTONE_PROGRESSED: "A milestone in progress was created, or its value moved.",
    EventType.MILESTONE_UPDATED: "A person changed a milestone (PUT): its status, achieved value or date.",
    EventType.MILESTONE_DELETED: "A milestone was removed: a person's DELETE, or a record the rules no longer "
    "keep; `data.milestone` shows it as it was.",
    EventType.MILESTONE_REVOKED: "An achieved milestone was revoked: by a person (PUT with status revoked and a "
    "reason), or by a correction that took the mentor's value below its threshold under "
    "MILESTONES_ON_LOST_THRESHOLD=revoke; `data.milestone` carries revoked_at and revocation_reason.",
    EventType.MILESTONE_REINSTATED: "A person set a revoked milestone achieved again (PUT).",
    EventType.MENTOR_ERASED: "A mentor was erased: their earlier events are gone, and this one names them only "
    "by the salted hash (`subject` and `data.mentor_hash`).",
}

_DESCRIPTION = (
    "The events of the Milestones service: every change that matters (a milestone achieved, progressed, updated "
    "or deleted; a mentor erased), as a CloudEvents 1.0 JSON envelope (structured mode), so that platforms on "
    "event buses take it as it is. `data` holds the milestone as the API shows it (in English; the same schema "
    "as the OpenAPI document's `MilestoneOut`), the `transition`, who (`actor`), why (`cause`), the request "
    "(`request_id`), the catalog version, and `notify`.\n\n"
    "Platforms follow the events by polling the feed (the `feed` channel, `GET /api/v1/events`), or have them "
    "pushed by webhooks (`/api/v1/webhooks`, `milestones webhooks add`): the same messages POSTed to each "
    "endpoint, signed as the Standard Webhooks specification says (`webhook-id`, `webhook-timestamp`, "
    "`webhook-signature`), leaving out those whose `data.notify` is false (`milestones detect --no-notify`)."
)


def asyncapi_document(
    openapi: Mapping[str, Any], *, version: str, public_url: str | None, read_requires_key: bool
) -> dict[str, Any]:
    """The document, from the OpenAPI document (as a dictionary): its schemas for the envelope and the milestone,
    its feed operation for the channel. `public_url` (MILESTONES_PUBLIC_URL) names the server, when set; with
    `read_requires_key`, reading the feed needs a key."""
    schemas: Mapping[str, Any] = openapi["components"]["schemas"]
    address, query = _feed(openapi)
    messages = {message_key(kind): _message(kind) for kind in EventType}
    channel: dict[str, Any] = {
        "address": address,
        "title": "The event feed",
        "description": "A pull channel over HTTP: `GET` it to read the events in commit order, oldest first, a "
        "page at a time; each message is one element of the page's `data`. Without `cursor` the feed starts at "
        "the oldest event kept, with `cursor=latest` at the tail; poll again with the page's "
        "`pagination.next_cursor` (always present). A cursor older than MILESTONES_EVENT_RETENTION_DAYS is "
        "answered 410. Webhooks push the same messages.",
        "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in messages},
    }
    operation: dict[str, Any] = {
        "action": "send",
        "channel": {"$ref": f"#/channels/{CHANNEL}"},
        "title": "Serve the event feed",
        "summary": "The service answers a GET of the feed with the events after the cursor.",
        "description": "An event shows once every write that began before it has ended, so the feed never "
        "skips one that a concurrent write commits late. Filter with `types` and `mentor_id`.",
        "bindings": {"http": {"method": "GET", "query": query, "bindingVersion": "0.3.0"}},
        "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{key}"} for key in messages],
    }
    components: dict[str, Any] = {
        "schemas": {name: schemas[name] for name in _referenced(schemas, ENVELOPE)},
        "messages": messages,
    }
    if read_requires_key:
        components["securitySchemes"] = {
            SECURITY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "An access key with the read scope, `Authorization: Bearer <key>`, once the "
                "service has keys (MILESTONES_READ_REQUIRES_KEY).",
            }
        }
        operation["security"] = [{"$ref": f"#/components/securitySchemes/{SECURITY_SCHEME}"}]
    document: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {"title": "Milestones events", "version": version, "description": _DESCRIPTION},
        "defaultContentType": "application/json",
    }
    # Without a public address the document cannot name a host (AsyncAPI requires one): the channel's address is
    # then relative to wherever this document was read.
    parts = urlsplit((public_url or "").rstrip("/"))
    if parts.netloc:
        server: dict[str, Any] = {"host": parts.netloc, "protocol": parts.scheme}
        if parts.path:
            server["pathname"] = parts.path
        document["servers"] = {"service": server}
        channel["servers"] = [{"$ref": "#/servers/service"}]
    document["channels"] = {CHANNEL: channel}
    document["operations"] = {"sendEvents": operation}
    document["components"] = components
    return document


def message_key(kind: EventType) -> str:
    """The message's key in the document (a name code generators take as it is): milestoneAchieved."""
    first, *rest = kind.value.split(".")
    return first + "".join(part.capitalize() for part in rest)


def _message(kind: EventType) -> dict[str, Any]:
    """The envelope's schema, narrowed to one type: its `type`, and what its `data` always holds."""
    transitions = [transition for transition, event in EVENT_OF_KIND.items() if event is kind]
    if transitions:
        data: dict[str, Any] = {
            "required": ["milestone_id", "mentor_id", "transition"],
            "properties": {"transition": {"enum": transitions}},
        }
    else:
        data = {"required": ["mentor_hash"]}
    return {
        "name": kind.value,
        "title": kind.value,
        "summary": SUMMARIES[kind],
        "contentType": "application/json",
        "payload": {
            "allOf": [
                {"$ref": f"#/components/schemas/{ENVELOPE}"},
                {"type": "object", "properties": {"type": {"const": kind.value}, "data": data}},
            ]
        },
    }


def _feed(openapi: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The feed's path and its query parameters as one object schema, as the HTTP binding states them."""
    for path, item in openapi["paths"].items():
        operation = item.get("get")
        if operation is not None and operation.get("operationId") == FEED_OPERATION:
            properties = {
                parameter["name"]: {**parameter["schema"], "description": parameter["description"]}
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "query"
            }
            return path, {"type": "object", "properties": properties}
    raise LookupError(f"the OpenAPI document has no {FEED_OPERATION} operation")


_REFERENCE = re.compile(r"^#/components/schemas/(.+)$")


def _referenced(schemas: Mapping[str, Any], root: str) -> list[str]:
    """`root` and every schema it refers to, directly or not, in the order first reached."""
    found = [root]
    for name in found:
        for reference in _references(schemas[name]):
            match = _REFERENCE.match(reference)
            if match and match.group(1) not in found:
                found.append(match.group(1))
    return found


def _references(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _references(value)
