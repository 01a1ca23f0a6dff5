"""Schemathesis fuzzes every operation of the service's own OpenAPI document, in process, on each backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient
from schemathesis import BaseSchema, Case, GenerationMode, HookContext
from schemathesis.engine import StopReason, events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.python import asgi

from milestones.access.keys import parse_key_list
from milestones.settings import Settings
from milestones.web.app import create_app
from milestones.web.front_door import FrontDoor
from tests.conftest import FakeClock
from tests.credentials.conftest import ISSUER
from tests.factories import summary_body

# Per operation and generation mode (positive and negative) in the fuzzing phase; the examples, coverage
# (boundary values, undeclared methods) and stateful phases add their own cases. Under a minute per backend.
MAX_EXAMPLES = 40
# The checks the reliability issue asks for; the run must have executed each of them.
REQUIRED_CHECKS = {
    "not_a_server_error",
    "positive_data_acceptance",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "unsupported_method",
}
# Set to replay a reported run: every failure report names the seed it came from.
SEED = os.environ.get("MILESTONES_FUZZ_SEED")
RECORD = "POST /api/v1/milestones"
SEEDED_BODIES = [
    summary_body("mentor_001"),
    summary_body("mentor.two", year=2024, hours=1000, contacts=250, activities=500),
    summary_body("m@3:x-y", hours=5, contacts=0, activities=0),
]
SEEDED_PERIOD = {"mentor_id": "mentor.two", "start_date": "2024-01-01", "end_date": "2024-12-31"}
# Successes the run must have reached, so the fuzzer demonstrably got past validation into stored records.
MUST_SUCCEED = {
    RECORD: 201,
    "GET /api/v1/milestones/{milestone_id}": 200,
    "PUT /api/v1/milestones/{milestone_id}": 200,
    "DELETE /api/v1/milestones/{milestone_id}": 200,
}
Client = AsyncTestClient[Litestar]
# The service runs with access keys configured, as in production; the fuzzer sends this admin key.
FUZZ_KEY = "fuzz-admin-key"
KEYED = {"Authorization": f"Bearer {FUZZ_KEY}"}


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> FrontDoor:
    """The app with an access key configured (this module's tests send it). The fuzzer's negative cases probe
    every operation without a valid key, far past the failed-key limit (tests/web/test_rate_limits.py holds
    that limit), so it is off here: otherwise every later answer is 429. Credentials are configured, so that
    their operations are fuzzed as a platform that issues them runs them."""
    update = {"api_keys": parse_key_list(FUZZ_KEY), "failed_auth_limit": None, **ISSUER}
    return create_app(settings.model_copy(update=update), clock=clock)


@pytest.fixture
async def client(app: FrontDoor) -> Any:
    async with AsyncTestClient(app=app) as test_client:
        test_client.headers.update(KEYED)
        yield test_client


def fuzz_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            **({"seed": int(SEED)} if SEED else {}),
            "headers": KEYED,
            # The engine already runs Hypothesis without a deadline; on a busy 2-core machine slow generation
            # must not fail the run either (these checks judge the generator, never the service).
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large", "large_base_example"],
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": {
                # Schema-valid requests must be accepted, save for these known exceptions, which no schema
                # can predict: 404, ids, mentors and periods that name nothing stored; 409, a period that
                # overlaps a stored one; 412, an If-Match naming another version; 422, rules across fields
                # (`year` is the year of `start_date`, both dates or neither, a period spans at most 366
                # days and ends after it starts, in_progress only below the threshold, achieved_at not in
                # the future, a cursor from a previous page); 304, an If-None-Match that names the current
                # representation (`*` does). Anything else (400, 415, 5xx) fails the run.
                "positive_data_acceptance": {"enabled": True, "expected-statuses": ["2xx", 304, 404, 409, 412, 422]},
            },
        }
    )


@dataclass
class FuzzReport:
    """What one schemathesis run did and found."""

    seed: int
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    checks_run: set[str] = field(default_factory=set)
    cases: dict[str, set[str]] = field(default_factory=dict)
    statuses: dict[str, set[int]] = field(default_factory=dict)
    stop_reason: StopReason | None = None

    def add(self, event: events.ScenarioFinished) -> None:
        recorder = event.recorder
        for case_id, node in recorder.cases.items():
            label = node.value.operation.label
            self.cases.setdefault(event.phase.value, set()).add(label)
            interaction = recorder.interactions.get(case_id)
            if interaction is not None and interaction.response is not None:
                self.statuses.setdefault(label, set()).add(interaction.response.status_code)
        for case_id, checks in recorder.checks.items():
            for check in checks:
                self.checks_run.add(check.name)
                if check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                key = (failure.operation or recorder.label, check.name, failure.title)
                if key not in self.failures:
                    self.failures[key] = f"{failure.message}\n{_exchange(recorder, case_id)}"

    def summary(self) -> str:
        found = [
            f"{operation} [{check}] {title}\n{detail}"
            for (operation, check, title), detail in sorted(self.failures.items())
        ]
        if self.stop_reason is not StopReason.COMPLETED:
            found.append(f"the run stopped early: {self.stop_reason}")
        return f"seed {self.seed} (replay with MILESTONES_FUZZ_SEED={self.seed}):\n\n" + "\n\n".join(
            found + self.errors
        )


def _exchange(recorder: ScenarioRecorder, case_id: str) -> str:
    """The request and response behind a failure, short enough to read in a test report."""
    interaction = recorder.interactions.get(case_id)
    if interaction is None:
        return "  (no response recorded)"
    request, response = interaction.request, interaction.response
    body = request.body[:300] if isinstance(request.body, bytes) else request.body
    text = f"  {request.method} {request.uri[:300]}\n  body: {body!r}"
    if response is not None:
        text += f"\n  -> {response.status_code} {response.headers.get('content-type')} {response.content[:300]!r}"
    return text


def run(schema: BaseSchema) -> FuzzReport:
    report = FuzzReport(seed=schema.config.seed)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            report.add(event)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"error in {event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            report.stop_reason = event.stop_reason
            report.errors += [f"after the run: {failure}" for failure in event.failures]
    return report


def consistent_period(body: Any) -> Any:
    """A generated summary body made storable by following the rules its schema cannot state.

    `year` becomes the start date's year, the period spans at most 366 days, hours keep two decimals and counts
    are whole; every value stays where it was generated in its documented range.
    """
    try:
        period, summary = body["period"], body["summary"]
        start = date.fromisoformat(period["start_date"])
        end = date.fromisoformat(period["end_date"])
    except (KeyError, TypeError, ValueError):
        return body
    days = timedelta(days=abs((end - start).days) % 366)
    end = start + days if date.max - start >= days else date.max
    return {
        **body,
        "period": {"year": start.year, "start_date": start.isoformat(), "end_date": end.isoformat()},
        "summary": {
            "total_hours": min(round(float(summary["total_hours"]), 2), 1_000_000),
            "unique_contacts_helped": float(int(summary["unique_contacts_helped"])),
            "activity_count": float(int(summary["activity_count"])),
        },
    }


def addressed(case: Case[Any], real: dict[str, str] | None) -> Case[Any]:
    """The case with some path parameters replaced by those of a stored record (None: left as generated)."""
    if real is not None:
        case.path_parameters = {**(case.path_parameters or {}), **real}
    return case


@pytest.fixture
def fuzz_schema(app: Any) -> Iterator[BaseSchema]:
    """The app's own document, loaded over ASGI, with a few real mentors stored first."""
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app, config=fuzz_config())
    record = schema["/api/v1/milestones"]["POST"]
    milestone_ids = []
    for body in SEEDED_BODIES:
        response = record.Case(body=body, media_type="application/json").call(headers=KEYED)
        assert response.status_code == 201, response.text
        milestone_ids += [item["id"] for item in response.json()["data"]]
    real_mentors = [{"mentor_id": body["mentor_id"]} for body in SEEDED_BODIES]

    @schema.hook
    def flatmap_case(context: HookContext, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        """Valid cases often address stored records, so reads, updates and deletes find real ones."""
        if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
            return st.just(case)
        if case.operation.label == RECORD:
            case.body = consistent_period(case.body)
        names = case.path_parameters or {}
        # The stateful phase takes its ids from the responses it links; the fuzzing phase mixes in stored ones.
        if case.meta.phase.name != "fuzzing":
            return st.just(case)
        choices: list[dict[str, str] | None]
        if "start_date" in names:
            choices = [SEEDED_PERIOD]  # few of these cases are generated, so all of them address it
        elif "milestone_id" in names:
            choices = [None, *({"milestone_id": i} for i in milestone_ids)]
        elif "mentor_id" in names:
            choices = [None, *real_mentors]
        else:
            return st.just(case)
        return st.sampled_from(choices).map(lambda real: addressed(case, real))

    yield schema
    # Schemathesis keeps an ASGI app's lifespan running between requests; end it while the database exists.
    asgi.shutdown_lifespans()


def test_every_operation_survives_fuzzing_and_matches_its_document(fuzz_schema: BaseSchema) -> None:
    report = run(fuzz_schema)

    if report.failures or report.errors or report.stop_reason is not StopReason.COMPLETED:
        pytest.fail(report.summary(), pytrace=False)
    assert report.checks_run >= REQUIRED_CHECKS
    paths = fuzz_schema.raw_schema["paths"]
    documented = {f"{method.upper()} {path}" for path, operations in paths.items() for method in operations}
    assert set(MUST_SUCCEED) <= documented
    for phase in ("coverage", "fuzzing"):
        assert report.cases[phase] == documented, f"{phase} did not reach {sorted(documented - report.cases[phase])}"
    for operation, status in MUST_SUCCEED.items():
        assert status in report.statuses[operation], f"{operation} never answered {status}: {report.statuses}"


# --- what the fuzzer found, pinned so it cannot come back unnoticed --------------------------------


@pytest.mark.anyio
async def test_a_period_before_the_year_1000_is_stored_and_read_back(client: Client) -> None:
    body = summary_body("ancient", year=5, start_date="0005-01-01", end_date="0005-12-31")
    created = await client.post("/api/v1/milestones", json=body)
    assert created.status_code == 201, created.text
    achieved = [item for item in created.json()["data"] if item["status"] == "achieved"]
    assert achieved[0]["achieved_at"] == "0005-12-31T23:59:59Z"
    listing = await client.get("/api/v1/milestones", params={"mentor_id": "ancient", "limit": 100})
    assert listing.status_code == 200, listing.text
    assert listing.json()["data"] == created.json()["data"]
    in_year = await client.get("/api/v1/milestones/ancient/new", params={"year": 5})
    assert in_year.status_code == 200, in_year.text
    assert {item["id"] for item in in_year.json()["data"]} == {item["id"] for item in achieved}


@pytest.mark.anyio
@pytest.mark.parametrize("achieved_at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
async def test_an_achieved_at_with_no_utc_equivalent_is_422(client: Client, achieved_at: str) -> None:
    item = (await client.post("/api/v1/milestones", json=summary_body())).json()["data"][0]
    response = await client.put(f"/api/v1/milestones/{item['id']}", json={"achieved_at": achieved_at})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["achieved_at"]
    assert (await client.get(f"/api/v1/milestones/{item['id']}")).json() == item


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/v1/milestones", {"GET", "POST", "OPTIONS"}),
        ("/api/v1/milestones/some-id", {"GET", "PUT", "DELETE", "OPTIONS"}),
        ("/api/v1/milestones/mentor_001/new", {"GET", "OPTIONS"}),
        ("/api/v1/mentors/mentor_001/periods/2025-01-01/2025-12-31", {"DELETE", "OPTIONS"}),
    ],
)
async def test_options_lists_every_method_of_the_path(client: Client, path: str, methods: set[str]) -> None:
    response = await client.options(path)
    assert response.status_code == 204
    assert {m.strip() for m in response.headers["allow"].split(",")} == methods
