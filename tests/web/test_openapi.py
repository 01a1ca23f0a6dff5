"""The OpenAPI document: valid OpenAPI 3.1, served where tools look, and as precise as JSON Schema allows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from milestones.domain.events import EventType
from tests.served import clean_environment, serving

pytestmark = pytest.mark.anyio


@pytest.fixture
async def document(client: Any) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    result: dict[str, Any] = response.json()
    return result


async def test_the_document_is_served_at_openapi_json_and_under_schema(client: Any, document: dict[str, Any]) -> None:
    assert (await client.get("/schema/openapi.json")).json() == document


async def test_the_document_validates_against_the_openapi_specification(document: dict[str, Any]) -> None:
    validate(document)


async def test_the_event_feed_names_every_event_type_it_can_carry(document: dict[str, Any]) -> None:
    description = document["paths"]["/api/v1/events"]["get"]["description"]
    assert [kind for kind in EventType if f"`{kind.value}`" not in description] == []


def schema_of(document: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    for item in document["paths"][path][method]["parameters"]:
        if item["name"] == name:
            found: dict[str, Any] = item["schema"]
            return found
    raise AssertionError(f"{method} {path} has no parameter {name}")


async def test_the_document_describes_a_milestones_states_and_their_transitions(document: dict[str, Any]) -> None:
    description = document["info"]["description"]
    assert "## A milestone's states" in description
    for row in (
        "| achieved | revoked |",
        "| revoked | achieved | a person's PUT `achieved` | `reinstated` |",
        "| any | deleted |",
        "| achieved, `supported: false` | achieved |",
    ):
        assert row in description
    milestone = document["components"]["schemas"]["MilestoneOut"]["properties"]
    assert {"revoked_at", "revocation_reason", "supported"} <= set(milestone)
    assert "revoked" in milestone["status"].get("enum", []) or "revoked" in str(document["components"]["schemas"])
    listing = next(p for p in document["paths"]["/api/v1/milestones"]["get"]["parameters"] if p["name"] == "superseded")
    assert listing["schema"]["type"] == "boolean"


async def test_body_constraints_are_stated(document: dict[str, Any]) -> None:
    summary = schema_of(document, "SummaryIn")["properties"]
    assert {"minimum": 0, "maximum": 1_000_000, "multipleOf": 0.01}.items() <= summary["total_hours"].items()
    for count in ("unique_contacts_helped", "activity_count"):
        assert {"minimum": 0, "maximum": 10_000_000, "multipleOf": 1}.items() <= summary[count].items()
    period = schema_of(document, "PeriodIn")["properties"]
    assert {"minimum": 1, "maximum": 9999}.items() <= period["year"].items()
    record = schema_of(document, "RecordSummaryIn")["properties"]
    assert {"minLength": 1, "maxLength": 128}.items() <= record["mentor_id"].items()
    assert record["mentor_id"]["pattern"].startswith("^(?!")
    update = schema_of(document, "MilestoneUpdateIn")["properties"]
    assert {"minimum": 0, "maximum": 1_000_000_000_000, "multipleOf": 0.01}.items() <= update["achieved_value"].items()


async def test_query_constraints_are_stated(document: dict[str, Any]) -> None:
    listing = "/api/v1/milestones"
    assert {"minimum": 1, "maximum": 100}.items() <= parameter(document, listing, "get", "limit").items()
    assert {"minimum": 1, "maximum": 1_000_000}.items() <= parameter(document, listing, "get", "page").items()
    cursor = parameter(document, listing, "get", "cursor")
    assert {"type": "string"} in cursor["oneOf"]
    assert cursor["pattern"] == "^[A-Za-z0-9_-]+$"
    assert (cursor["minLength"], cursor["maxLength"]) == (1, 400)


async def test_every_response_header_has_a_schema(document: dict[str, Any]) -> None:
    headers = [
        (path, method, status, name, header)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        for name, header in response.get("headers", {}).items()
    ]
    assert headers, "no operation documents a response header"
    assert [h[:4] for h in headers if "schema" not in h[4]] == []


# openapi-python-client knows no image types; integrators tell it a badge is binary, as this test does.
CLIENT_CONFIG = "content_type_overrides:\n  image/png: application/octet-stream\n"
WRITE_KEY = "client-test-key"
# Drives a generated client against a running service, as an integrator's code would.
CLIENT_DRIVER = """
import sys
from milestones_client import AuthenticatedClient
from milestones_client.api.milestones import (
    get_milestone, list_in_progress, list_milestones, record_summary, update_milestone,
)
from milestones_client.models import MilestoneUpdateIn, RecordSummaryIn

client = AuthenticatedClient(base_url=sys.argv[1], token=sys.argv[2])
body = RecordSummaryIn.from_dict({
    "mentor_id": "mentor_001",
    "period": {"year": 2025, "start_date": "2025-01-01", "end_date": "2025-12-31"},
    "summary": {"total_hours": 312.5, "unique_contacts_helped": 47, "activity_count": 198},
})
recorded = record_summary.sync_detailed(client=client, body=body)
assert recorded.status_code == 201, recorded.content
assert any(m.id == "mentor_001~100h" for m in recorded.parsed.data)

listing = list_milestones.sync(client=client, mentor_id="mentor_001", limit=100)
assert listing.pagination.total == len(listing.data) == len(recorded.parsed.data)

one = get_milestone.sync_detailed("mentor_001~100h", client=client)
assert one.status_code == 200 and one.parsed.accessibility_label.startswith("You reached 100 hours")
etag = one.headers["etag"]

in_progress = list_in_progress.sync("mentor_001", client=client)
assert in_progress.data[0].id == "mentor_001~50contacts", in_progress.data[0].id

update = MilestoneUpdateIn.from_dict({"status": "achieved", "achieved_at": "2025-11-22T14:00:00Z"})
updated = update_milestone.sync_detailed("mentor_001~100h", client=client, body=update, if_match=etag)
assert updated.status_code == 200, updated.content
assert updated.parsed.achieved_at.isoformat() == "2025-11-22T14:00:00+00:00"
stale = update_milestone.sync_detailed("mentor_001~100h", client=client, body=update, if_match=etag)
assert stale.status_code == 412 and stale.parsed.type_ == "/problems/precondition-failed"
print("ok")
"""


def test_a_generated_python_client_reads_well_and_works_end_to_end(settings: Any, tmp_path: Path) -> None:
    """openapi-python-client builds a client from the served document without warnings, with modules per tag
    and functions per operation id; driven against a running service (with keys), it records, lists, reads,
    and updates."""
    env = clean_environment(MILESTONES_DATABASE_URL=settings.database_url, MILESTONES_API_KEYS=WRITE_KEY)
    with serving(cwd=tmp_path, env=env) as server:
        (tmp_path / "openapi.json").write_bytes(httpx.get(f"{server.url}/openapi.json").content)
        (tmp_path / "config.yaml").write_text(CLIENT_CONFIG)
        bin_dir = Path(sys.executable).parent
        generate = ["generate", "--path", "openapi.json", "--meta", "none", "--config", "config.yaml"]
        result = subprocess.run(
            [str(bin_dir / "openapi-python-client"), *generate],
            cwd=tmp_path,
            env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "warning" not in output.lower(), output
        modules = {p.name for p in (tmp_path / "milestones_client" / "api").iterdir() if p.is_dir()}
        assert modules == {
            "milestones",
            "mentors",
            "events",
            "reports",
            "webhooks",
            "definitions",
            "badges",
            "credentials",
            "health",
        }
        driven = subprocess.run(
            [sys.executable, "-c", CLIENT_DRIVER, server.url, WRITE_KEY],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert driven.returncode == 0 and driven.stdout.strip() == "ok", driven.stderr
