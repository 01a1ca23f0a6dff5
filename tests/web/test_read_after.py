"""Milestones-Read-After: given only with read replicas, and harmless without them on either database."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from milestones.ops.read_after import HEADER_NAME, parse_position
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.factories import summary_body

pytestmark = pytest.mark.anyio

Client = AsyncTestClient[FrontDoor]


async def test_without_replicas_no_position_is_given_and_one_sent_changes_nothing(client: Client) -> None:
    written = await client.post("/api/v1/milestones", json=summary_body("mentor_plain"))
    assert written.status_code == 201
    assert HEADER_NAME.lower() not in written.headers
    for sent in ("0/0", "FFFFFFFF/FFFFFFFF", "not a position"):
        read = await client.get("/api/v1/mentors/mentor_plain/periods", headers={HEADER_NAME: sent})
        assert read.status_code == 200
        assert len(read.json()["data"]) == 1


def _operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method]
    return operation


@pytest.mark.postgres
async def test_with_replicas_the_document_names_the_header_and_reads_go_on_without_them(
    postgres_database: str,
) -> None:
    # A replica that is not there: the service starts, polls it in vain, and serves every read from the primary.
    settings = Settings(database_url=postgres_database, database_replica_urls=["postgresql://postgres@127.0.0.1:9/x"])
    async with AsyncTestClient(app=create_app(settings)) as client:
        written = await client.post("/api/v1/milestones", json=summary_body("mentor_doc", year=2019))
        assert written.status_code == 201
        position = written.headers[HEADER_NAME]
        read = await client.get("/api/v1/mentors/mentor_doc/periods", headers={HEADER_NAME: position})
        assert (read.status_code, len(read.json()["data"])) == (200, 1)
        # A write the framework answers (not the fast path) carries it too, and it moves on.
        removed = await client.delete("/api/v1/mentors/mentor_doc/periods/2019-01-01/2019-12-31")
        assert removed.status_code == 200, removed.text
        later = removed.headers[HEADER_NAME]
        assert parse_position(later.encode()) > parse_position(position.encode())  # type: ignore[operator]
        # A read or a refused write wrote nothing: no position.
        assert HEADER_NAME.lower() not in read.headers
        refused = await client.delete("/api/v1/mentors/mentor_doc/periods/2019-01-01/2019-12-31")
        assert refused.status_code == 404
        assert HEADER_NAME.lower() not in refused.headers
        document = (await client.get("/openapi.json")).json()
    read_parameters = {
        p["name"] for p in _operation(document, "/api/v1/mentors/{mentor_id}/periods", "get")["parameters"]
    }
    assert HEADER_NAME in read_parameters
    created = _operation(document, "/api/v1/milestones", "post")["responses"]["201"]
    assert HEADER_NAME in created["headers"]
    catalog = _operation(document, "/api/v1/milestone-definitions", "get")
    assert HEADER_NAME not in {p["name"] for p in catalog.get("parameters", [])}
