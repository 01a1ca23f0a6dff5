"""The docs integrators read: offline API reference pages, a page per problem type, a document that
describes every operation, parameter and field, with operation ids and tags that generate readable clients."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from milestones.errors import MilestonesError
from milestones.web.front_door import CSP
from milestones.web.problem_types import PROBLEM_TYPES
from milestones.web.route_table import Framing

pytestmark = pytest.mark.anyio
PAGES = ["/docs", "/redoc"]
_NAMED = re.compile(r"""(?:src|href|spec-url|url)\s*[=:]\s*["']([^"']+)["']""")


def named_urls(text: str) -> list[str]:
    return _NAMED.findall(text)


@pytest.mark.parametrize("page", PAGES)
async def test_docs_pages_name_no_external_url_and_every_asset_they_name_is_served(client: Any, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    to_check = [(page, url) for url in named_urls(response.text)]
    assert len(to_check) >= 2, response.text
    seen: set[str] = set()
    while to_check:
        base, url = to_check.pop()
        assert not urlsplit(url).scheme and not url.startswith("//"), f"{base} names {url}"
        target = urljoin(f"http://service{base}", url).removeprefix("http://service")
        if target in seen:
            continue
        seen.add(target)
        asset = await client.get(target)
        assert asset.status_code == 200, target
        if target.endswith("swagger-init.js"):  # our own script names the document it loads, from the page
            to_check += [(page, u) for u in named_urls(asset.text)]
    assert "/openapi.json" in seen


async def test_swagger_ui_loads_the_services_own_document_and_no_validator(client: Any) -> None:
    script = (await client.get("/docs/assets/swagger-init.js")).text
    assert 'url: "openapi.json"' in script
    assert "validatorUrl: null" in script


@pytest.mark.parametrize("page", PAGES)
async def test_docs_pages_run_under_a_policy_that_allows_no_other_origin(client: Any, page: str) -> None:
    policy = (await client.get(page)).headers["content-security-policy"]
    assert policy == CSP[Framing.DOCS if page == "/docs" else Framing.REDOC].decode()
    assert policy.startswith("default-src 'self'")
    assert "http" not in policy and "*" not in policy


async def test_vendored_files_carry_their_licences(client: Any) -> None:
    for path in ("swagger-ui/LICENSE", "swagger-ui/NOTICE", "redoc/LICENSE"):
        assert (await client.get(f"/docs/assets/{path}")).status_code == 200, path


def every_error_class(cls: type[MilestonesError] = MilestonesError) -> list[type[MilestonesError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *every_error_class(sub)]
    return found


def test_every_error_the_service_raises_has_a_documented_type() -> None:
    assert {e.slug for e in every_error_class()} <= PROBLEM_TYPES.keys()


@pytest.mark.parametrize("slug", sorted(PROBLEM_TYPES))
async def test_each_problem_type_resolves_to_a_page_and_to_json(client: Any, slug: str) -> None:
    problem = PROBLEM_TYPES[slug]
    page = await client.get(problem.uri)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f"<h1>{problem.title}</h1>".replace("'", "&#x27;") in page.text
    assert "How to fix the request" in page.text
    as_json = await client.get(problem.uri, headers={"Accept": "application/json"})
    assert as_json.json() == {
        "type": problem.uri,
        "title": problem.title,
        "status": problem.status,
        "description": problem.means,
        "how_to_fix": problem.fix,
    }


async def test_an_unknown_problem_type_is_a_404_problem(client: Any) -> None:
    response = await client.get("/problems/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_every_problem_type_the_document_names_resolves(client: Any) -> None:
    document = (await client.get("/openapi.json")).json()
    named = {
        uri
        for item in document["paths"].values()
        for operation in item.values()
        for status, response in operation["responses"].items()
        if int(status) >= 400
        for uri in re.findall(r"`(/problems/[a-z-]+|about:blank)`", response["description"])
    }
    assert "/problems/period-overlap" in named
    for uri in named - {"about:blank"}:
        assert (await client.get(uri)).status_code == 200, uri


async def test_a_problem_answer_links_to_its_page(client: Any) -> None:
    answer = await client.get("/api/v1/milestones/nobody~100h")
    page = await client.get(answer.json()["type"])
    assert page.status_code == 200
    assert answer.json()["title"] in page.text


OPERATIONS = {
    ("get", "/api/v1/milestones"): ("listMilestones", "milestones"),
    ("post", "/api/v1/milestones"): ("recordSummary", "milestones"),
    ("get", "/api/v1/milestones/{milestone_id}"): ("getMilestone", "milestones"),
    ("put", "/api/v1/milestones/{milestone_id}"): ("updateMilestone", "milestones"),
    ("delete", "/api/v1/milestones/{milestone_id}"): ("deleteMilestone", "milestones"),
    ("get", "/api/v1/milestones/{mentor_id}/new"): ("listNewlyAchieved", "milestones"),
    ("get", "/api/v1/milestones/{mentor_id}/in-progress"): ("listInProgress", "milestones"),
    ("get", "/api/v1/milestones/{milestone_id}/history"): ("getMilestoneHistory", "milestones"),
    ("get", "/api/v1/milestones/{milestone_id}/evidence"): ("getMilestoneEvidence", "milestones"),
    ("get", "/api/v1/mentors/{mentor_id}/periods"): ("listPeriods", "mentors"),
    ("get", "/api/v1/mentors/{mentor_id}/history"): ("getMentorHistory", "mentors"),
    ("delete", "/api/v1/mentors/{mentor_id}/periods/{start_date}/{end_date}"): ("deletePeriod", "mentors"),
    ("delete", "/api/v1/mentors/{mentor_id}"): ("eraseMentor", "mentors"),
    ("get", "/api/v1/events"): ("listEvents", "events"),
    ("get", "/api/v1/reports/milestones"): ("getMilestoneReport", "reports"),
    ("post", "/api/v1/webhooks"): ("addWebhook", "webhooks"),
    ("get", "/api/v1/webhooks"): ("listWebhooks", "webhooks"),
    ("get", "/api/v1/webhooks/{webhook_id}"): ("getWebhook", "webhooks"),
    ("delete", "/api/v1/webhooks/{webhook_id}"): ("removeWebhook", "webhooks"),
    ("post", "/api/v1/webhooks/{webhook_id}/enable"): ("enableWebhook", "webhooks"),
    ("post", "/api/v1/webhooks/{webhook_id}/disable"): ("disableWebhook", "webhooks"),
    ("post", "/api/v1/webhooks/{webhook_id}/rotate-secret"): ("rotateWebhookSecret", "webhooks"),
    ("post", "/api/v1/webhooks/{webhook_id}/test"): ("testWebhook", "webhooks"),
    ("get", "/api/v1/webhooks/{webhook_id}/deliveries"): ("listWebhookAttempts", "webhooks"),
    ("post", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): ("redeliverWebhook", "webhooks"),
    ("get", "/api/v1/milestone-definitions"): ("listDefinitions", "definitions"),
    ("get", "/assets/badges/{file_name}"): ("getBadge", "badges"),
    ("patch", "/api/v1/mentors/{mentor_id}"): ("updateMentor", "mentors"),
    ("get", "/healthz"): ("getLiveness", "health"),
    ("get", "/readyz"): ("getReadiness", "health"),
    ("get", "/api/v1/milestones/{milestone_id}/credential"): ("getCredential", "credentials"),
    ("get", "/.well-known/jwks.json"): ("getCredentialKeys", "credentials"),
    ("get", "/credentials/status/revocation"): ("getRevocationList", "credentials"),
}


async def test_operations_have_short_ids_and_a_tag_per_resource(client: Any) -> None:
    document = (await client.get("/openapi.json")).json()
    found = {
        (method, path): (operation["operationId"], *operation["tags"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert found == OPERATIONS
    assert [t["name"] for t in document["tags"]] == [
        "milestones",
        "mentors",
        "definitions",
        "badges",
        "events",
        "reports",
        "webhooks",
        "credentials",
        "health",
    ]


async def test_every_operation_parameter_and_field_is_described(client: Any) -> None:
    document = (await client.get("/openapi.json")).json()
    missing = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not (operation.get("summary") or operation.get("description")):
                missing.append(f"{method} {path}")
            missing += [
                f"{method} {path} parameter {p['name']}"
                for p in operation.get("parameters", [])
                if not p.get("description")
            ]
            missing += [
                f"{method} {path} {status}"
                for status, response in operation["responses"].items()
                if not response.get("description")
            ]
    for name, schema in document["components"]["schemas"].items():
        missing += [
            f"{name}.{field}"
            for field, spec in schema.get("properties", {}).items()
            if "$ref" not in spec and not spec.get("description")
        ]
    assert missing == []


async def test_the_contracts_examples_are_attached_to_their_operations(client: Any) -> None:
    document = (await client.get("/openapi.json")).json()
    post = document["paths"]["/api/v1/milestones"]["post"]
    (example,) = post["requestBody"]["content"]["application/json"]["schema"]["examples"]
    assert example["summary"] == {"total_hours": 312.5, "unique_contacts_helped": 47, "activity_count": 198}
    put = document["paths"]["/api/v1/milestones/{milestone_id}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["examples"] == [
        {"status": "achieved", "achieved_value": 315, "achieved_at": "2026-01-03T09:00:00Z"}
    ]
    for path, method in [
        ("/api/v1/milestones", "get"),
        ("/api/v1/milestones/{milestone_id}", "get"),
        ("/api/v1/milestones/{milestone_id}", "put"),
        ("/api/v1/milestones/{milestone_id}", "delete"),
        ("/api/v1/milestones/{mentor_id}/new", "get"),
        ("/api/v1/milestones/{mentor_id}/in-progress", "get"),
    ]:
        responses = document["paths"][path][method]["responses"]
        success = responses.get("200") or responses["201"]
        assert success["content"]["application/json"]["examples"], f"{method} {path}"


async def test_the_problem_index_answers_json_to_a_client_that_asks_for_it(client: Any) -> None:
    listed = await client.get("/problems", headers={"Accept": "application/json"})
    assert listed.headers["content-type"].startswith("application/json")
    types = {problem["type"] for problem in listed.json()}
    assert {"/problems/key-required", "/problems/period-overlap"} <= types
    assert (await client.get("/problems")).headers["content-type"].startswith("text/html")


async def test_the_document_states_the_etag_of_one_milestone_and_of_an_update(client: Any) -> None:
    document = (await client.get("/openapi.json")).json()
    one = document["paths"]["/api/v1/milestones/{milestone_id}"]
    for method in ("get", "put"):
        assert "ETag" in one[method]["responses"]["200"]["headers"], method


@pytest.mark.parametrize("prefix", ["/docs/assets/", "/assets/pages/"])
@pytest.mark.parametrize(
    "escape", ["../../settings.py", "..%2F..%2Fsettings.py", "%2e%2e/%2e%2e/settings.py", "..%5C..%5Csettings.py"]
)
async def test_the_static_files_never_leave_their_folder(client: Any, prefix: str, escape: str) -> None:
    """Path traversal: a path that climbs out of a static folder is a 404, never a file of the package."""
    answer = await client.get(prefix + escape)
    assert answer.status_code == 404
    assert "Settings" not in answer.text
