"""The OpenAPI document: valid OpenAPI 3.1, served where tools look, and as precise as JSON Schema allows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

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


def schema_of(document: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    for item in document["paths"][path][method]["parameters"]:
        if item["name"] == name:
            found: dict[str, Any] = item["schema"]
            return found
    raise AssertionError(f"{method} {path} has no parameter {name}")


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


async def test_a_python_client_builds_from_the_document_without_warnings(
    document: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "openapi.json").write_text(json.dumps(document))
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
    imported = subprocess.run(
        [sys.executable, "-c", "import milestones_client.api.default"], cwd=tmp_path, capture_output=True, check=False
    )
    assert imported.returncode == 0, imported.stderr
