"""Route handlers: parse the request, call one service method, shape the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date
from typing import Annotated, Any, cast

from litestar import Request, Response, delete, get, patch, post, put
from litestar.datastructures import ResponseHeader, State
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, HeaderParameter, PathParameter, QueryParameter
from litestar.types import Scope
from msgspec import UNSET

from milestones.catalog import VERSION_PATTERN
from milestones.contract import (
    DATE_RULE,
    MENTOR_ID_RULE,
    SUMMARY_MAX_BODY_BYTES,
    DefinitionCatalog,
    EventPage,
    FieldError,
    HistoryPage,
    MentorErased,
    MentorOut,
    MentorUpdateIn,
    MilestoneDeleted,
    MilestoneEvidenceOut,
    MilestoneOut,
    MilestonePage,
    MilestoneReportOut,
    MilestoneUpdateIn,
    PeriodDeleted,
    PeriodList,
    RecordedPage,
    RecordSummaryIn,
    RequestInvalid,
    decode_strict,
    exact,
    iso_date,
)
from milestones.domain import (
    MENTOR_ID_PATTERN,
    MetricType,
    MilestoneQuery,
    MilestoneUpdate,
    Status,
    is_mentor_id,
    mentor_of,
)
from milestones.domain.events import EventType, EventWindow
from milestones.errors import MilestoneNotFound
from milestones.events.asyncapi import FEED_OPERATION
from milestones.events.cloudevents import event_source
from milestones.reports import DEFAULT_STALLED_DAYS, milestone_report, rarity
from milestones.service import MilestoneService, Window, after_day, start_of_day
from milestones.settings import Settings
from milestones.web import examples
from milestones.web.idempotency import idempotency_middleware
from milestones.web.json_body import require_json_body
from milestones.web.presenters import (
    catalog_out,
    decode_cursor,
    decode_event_cursor,
    decode_history_cursor,
    decode_mentor_cursor,
    etag,
    event_page,
    evidence_out,
    history_page,
    in_progress_page,
    language_tag,
    milestone_out,
    milestone_report_out,
    none_match,
    page_out,
    parse_if_match,
    period_out,
    preview_out,
    rarity_tag,
    recorded_out,
)
from milestones.web.problems import EVENT_TYPES_RULE, problem_responses
from milestones.web.request_state import actor_of, language_of
from milestones.web.route_table import (
    ADMIN,
    CATALOG,
    MENTOR_DELETE,
    MENTOR_READ,
    MENTOR_READ_FAST,
    MENTOR_READ_PLAIN,
    MENTOR_UPDATE,
    MENTOR_WRITE,
    MENTOR_WRITE_FAST,
    REPORT,
    declare,
)

# Tags group operations by resource, in the docs and in generated clients (milestones.record_summary(...)).
MILESTONES, MENTORS, DEFINITIONS, BADGES, HEALTH = "milestones", "mentors", "definitions", "badges", "health"
EVENTS, REPORTS = "events", "reports"


def closed_json(example: dict[str, Any]) -> Any:
    """A JSON request body with the contract's example; the request models refuse unknown fields, and this
    tells the OpenAPI document so."""
    return Body(
        media_type=RequestEncodingType.JSON,
        schema_extra={"additionalProperties": False},
        examples=[Example(summary="The contract's example", value=example)],
    )


def example_response(model: Any, example: Any, *, description: str = "OK") -> ResponseSpec:
    """A success response with this service's answer to the contract's example request."""
    return ResponseSpec(
        model,
        description=description,
        examples=[Example(summary="The answer to the contract's example", value=example)],
        generate_examples=False,
    )


IfMatchHeader = Annotated[
    str | None, HeaderParameter(name="If-Match", description="An ETag from GET, to refuse lost updates")
]
IdempotencyKeyHeader = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        max_length=255,
        description="Retries with the same key and body get the first response (kept 24 hours)",
    ),
]
# Documentation only (the handlers set it); the value, an example, gives the header its schema in the document.
ETAG_HEADER = ResponseHeader(
    name="ETag",
    value='"6f1d0c2e9a4b7d3f5e8a1c20"',
    description="Strong entity tag of the milestone",
    documentation_only=True,
)
IfNoneMatchHeader = Annotated[
    str | None, HeaderParameter(name="If-None-Match", description="An ETag from an earlier answer: 304 if unchanged")
]
NOT_MODIFIED = ResponseSpec(data_container=None, description="Not modified: the ETag given in If-None-Match is current")
BADGE_HEADERS = [
    ResponseHeader(
        name="ETag",
        value='"3f2a9c0d1e4b5a6978c1d2e3f4a5b6c7"',
        description="Strong entity tag of the image (a hash of its bytes)",
        documentation_only=True,
    ),
    ResponseHeader(name="Cache-Control", value="public, max-age=86400", documentation_only=True),
]
MentorIdParam = Annotated[
    str,
    PathParameter(
        pattern=MENTOR_ID_PATTERN, min_length=1, max_length=128, description="The platform's id for the mentor"
    ),
]
DryRunParam = Annotated[
    bool,
    QueryParameter(
        description="true: answer what the POST would store and change, and store nothing (no history, no events, "
        "no Idempotency-Key record)"
    ),
]
PageParam = Annotated[int, QueryParameter(ge=1, le=1_000_000, description="1-based page number")]
# A string, parsed by the handler: the framework answers a path date it cannot parse with 404, and a
# malformed date deserves a 422 that names it.
PathDate = Annotated[str, PathParameter(description="A date, YYYY-MM-DD", schema_extra={"format": "date"})]
# Any text: an id that cannot be one of ours is simply not found (404), like any other unknown id.
MilestoneIdParam = Annotated[str, PathParameter(description="A milestone id, <mentor_id>~<key>")]
LimitParam = Annotated[int, QueryParameter(ge=1, le=100, description="Items per page")]
HistoryCursorParam = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Resume after `pagination.next_cursor` of the previous page",
    ),
]


def service_of(state: State) -> MilestoneService:
    return cast(MilestoneService, state.service)


def strict_body(model: type[Any]) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """A before_request hook that refuses bodies Litestar's lenient decoding would coerce ("47" -> 47)."""

    async def check(request: Request[Any, Any, Any]) -> None:
        decode_strict(await request.body(), model)

    return check


def checked_mentor_id(mentor_id: str) -> str:
    if not is_mentor_id(mentor_id):
        raise RequestInvalid(f"mentor_id {MENTOR_ID_RULE}.", [FieldError("mentor_id", MENTOR_ID_RULE)])
    return mentor_id


# --- /api/v1/milestones ----------------------------------------------------------------------------


@get(
    "/",
    operation_id="listMilestones",
    opt=declare(MENTOR_READ_FAST),
    tags=[MILESTONES],
    summary="List milestones",
    description="Filtered and paged. One mentor's milestones come in catalog order; any other listing in id "
    "order, which `cursor` can walk however deep it goes.",
    responses={200: example_response(MilestonePage, examples.LIST), **problem_responses(422, 503)},
)
async def list_milestones(
    state: State,
    scope: Scope,
    mentor_id: Annotated[
        str | None, QueryParameter(pattern=MENTOR_ID_PATTERN, max_length=128, description="Only this mentor's")
    ] = None,
    type: Annotated[MetricType | None, QueryParameter(description="Only milestones of this type")] = None,
    status: Annotated[
        Status | None,
        QueryParameter(description="Only achieved, only in progress, or only revoked (left out unless asked for)"),
    ] = None,
    superseded: Annotated[
        bool,
        QueryParameter(
            description="false: leave out achieved milestones of a type whose higher rung the mentor also achieved"
        ),
    ] = True,
    achieved_from: Annotated[date | None, QueryParameter(description="Inclusive date (UTC)")] = None,
    achieved_to: Annotated[date | None, QueryParameter(description="Inclusive date (UTC)")] = None,
    page: PageParam = 1,
    limit: LimitParam = 20,
    cursor: Annotated[
        str | None,
        QueryParameter(
            min_length=1,
            max_length=400,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="Resume an id-ordered walk after `pagination.next_cursor` of the previous page",
        ),
    ] = None,
) -> MilestonePage:
    after_id = None
    if cursor is not None:
        after_id = decode_cursor(cursor)
        if after_id is None or page != 1:
            rule = "must be a next_cursor from a previous page, given without page"
            raise RequestInvalid(f"cursor {rule}.", [FieldError("cursor", rule)])
    if achieved_from and achieved_to and achieved_from > achieved_to:
        raise RequestInvalid(
            "achieved_from is after achieved_to.",
            [FieldError("achieved_from", "must not be after achieved_to")],
        )
    window = Window(page, limit)
    query = MilestoneQuery(
        mentor_id=None if mentor_id is None else checked_mentor_id(mentor_id),
        type=type,
        # Date bounds select achieved milestones only.
        status=Status.ACHIEVED if achieved_from or achieved_to else status,
        achieved_from=start_of_day(achieved_from) if achieved_from else None,
        achieved_before=after_day(achieved_to) if achieved_to else None,
        after_id=after_id,
        superseded=superseded,
        offset=window.offset,
        limit=window.limit,
    )
    if status is not None and status is not Status.ACHIEVED and query.status is Status.ACHIEVED:
        return page_out([], 0, window)
    service = service_of(state)
    listing = await service.find(query)
    return page_out(listing.items, listing.total, window, listing.next_after, language_of(scope), service.catalogs)


@get(
    "/{milestone_id:str}",
    operation_id="getMilestone",
    opt=declare(MENTOR_READ_FAST),
    tags=[MILESTONES],
    summary="Get one milestone",
    response_headers=[ETAG_HEADER],
    responses={200: example_response(MilestoneOut, examples.ONE), **problem_responses("milestone-not-found", 503)},
)
async def get_milestone(state: State, scope: Scope, milestone_id: MilestoneIdParam) -> Response[MilestoneOut]:
    service, language = service_of(state), language_of(scope)
    milestone = await service.get(milestone_id)
    return Response(milestone_out(milestone, language, service.catalogs), headers={"ETag": etag(milestone, language)})


@post(
    "/",
    operation_id="recordSummary",
    opt=declare(MENTOR_WRITE_FAST),
    tags=[MILESTONES],
    summary="Detect and persist milestones for a mentor from a period's summary",
    description="Stores the period's summary (replacing the summary of the same period), evaluates the mentor "
    "against every definition and answers all the mentor's milestones: 201 when anything new or different was "
    "stored, 200 when the call changed nothing. With `?dry_run=true` it answers what the POST would store and "
    "change (the same status, the mentor's milestones as they would be, and each milestone's transition) and stores "
    "nothing: no summary, history, event or Idempotency-Key record.",
    status_code=201,
    before_request=strict_body(RecordSummaryIn),
    middleware=[require_json_body, idempotency_middleware],
    # Room for 10,000 contact identifiers and 10,000 activities (contract.SUMMARY_MAX_BODY_BYTES); other routes
    # keep MILESTONES_MAX_BODY_BYTES.
    request_max_body_size=SUMMARY_MAX_BODY_BYTES,
    responses={
        201: example_response(
            RecordedPage,
            examples.RECORDED,
            description="Stored (with dry_run: would be stored); the mentor's milestones, and with dry_run the "
            "transitions",
        ),
        200: example_response(
            RecordedPage,
            examples.RECORDED,
            description="Nothing changed (with dry_run: nothing would change): the same summary was already stored",
        ),
        **problem_responses(
            408, "period-overlap", "idempotency-key-in-use", 413, 415, 422, "idempotency-key-reused", 503
        ),
    },
)
async def record_summary(
    request: Request[Any, Any, Any],
    state: State,
    data: Annotated[RecordSummaryIn, closed_json(examples.RECORD_SUMMARY)],
    idempotency_key: IdempotencyKeyHeader = None,
    dry_run: DryRunParam = False,
) -> Response[RecordedPage]:
    service = service_of(state)
    transitions = None
    if dry_run:
        recorded, transitions = await service.preview_summary(
            data.mentor_id, data.to_period(), actor_of(request.scope), data.display_name
        )
    else:
        recorded = await service.record_summary(
            data.mentor_id, data.to_period(), actor_of(request.scope), data.display_name
        )
    body = recorded_out(recorded, language_of(request.scope), service.catalogs)
    status = 201 if recorded.changed else 200
    if transitions is not None:
        return Response(preview_out(body, transitions), status_code=status)
    return Response(body, status_code=status)


@put(
    "/{milestone_id:str}",
    operation_id="updateMilestone",
    opt=declare(MENTOR_WRITE),
    tags=[MILESTONES],
    summary="Update a milestone's status or values",
    description="A partial update by a person: fields left out keep their values, and detection no longer "
    "moves what the person set. Send the ETag from GET as If-Match to update only the version you saw (412 "
    "otherwise).",
    before_request=strict_body(MilestoneUpdateIn),
    middleware=[require_json_body],
    response_headers=[ETAG_HEADER],
    responses={
        200: example_response(MilestoneOut, examples.UPDATED),
        **problem_responses("milestone-not-found", 408, 412, 413, 415, 422, 503),
    },
)
async def update_milestone(
    request: Request[Any, Any, Any],
    state: State,
    milestone_id: MilestoneIdParam,
    data: Annotated[MilestoneUpdateIn, closed_json(examples.UPDATE)],
    if_match: IfMatchHeader = None,
) -> Response[MilestoneOut]:
    update = MilestoneUpdate(
        status=None if data.status is UNSET else data.status,
        achieved_value=None if data.achieved_value is UNSET else exact(data.achieved_value),
        achieved_at=None if data.achieved_at is UNSET else data.achieved_at.astimezone(UTC).replace(microsecond=0),
        reason=None if data.reason is UNSET else data.reason,
    )
    service, language = service_of(state), language_of(request.scope)
    milestone = await service.update(milestone_id, update, parse_if_match(if_match), actor=actor_of(request.scope))
    return Response(milestone_out(milestone, language, service.catalogs), headers={"ETag": etag(milestone, language)})


@delete(
    "/{milestone_id:str}",
    operation_id="deleteMilestone",
    opt=declare(MENTOR_DELETE),
    tags=[MILESTONES],
    summary="Remove a milestone record",
    description="The record is gone until a summary brings the mentor to it again. If-Match as for PUT.",
    status_code=200,
    responses={
        200: example_response(MilestoneDeleted, examples.DELETED),
        **problem_responses("milestone-not-found", 412, 503),
    },
)
async def delete_milestone(
    request: Request[Any, Any, Any], state: State, milestone_id: MilestoneIdParam, if_match: IfMatchHeader = None
) -> MilestoneDeleted:
    await service_of(state).delete(milestone_id, parse_if_match(if_match), actor=actor_of(request.scope))
    return MilestoneDeleted(deleted=True, id=milestone_id)


@get(
    "/{mentor_id:str}/new",
    operation_id="listNewlyAchieved",
    opt=declare(MENTOR_READ),
    tags=[MILESTONES],
    summary="Milestones a mentor achieved in a period",
    description="Give `year`, or both `start_date` and `end_date` (inclusive, UTC); default the current year.",
    responses={200: example_response(MilestonePage, examples.NEW), **problem_responses(422, 503)},
)
async def newly_achieved(
    state: State,
    scope: Scope,
    mentor_id: MentorIdParam,
    year: Annotated[int | None, QueryParameter(ge=1, le=9999, description="A calendar year (UTC)")] = None,
    start_date: Annotated[date | None, QueryParameter(description="Inclusive, with end_date")] = None,
    end_date: Annotated[date | None, QueryParameter(description="Inclusive, with start_date")] = None,
    page: PageParam = 1,
    limit: LimitParam = 20,
) -> MilestonePage:
    first_day, last_day = period_bounds(year, start_date, end_date)
    window = Window(page, limit)
    service = service_of(state)
    items, total = await service.newly_achieved(checked_mentor_id(mentor_id), first_day, last_day, window)
    return page_out(items, total, window, None, language_of(scope), service.catalogs)


@get(
    "/{mentor_id:str}/in-progress",
    operation_id="listInProgress",
    opt=declare(MENTOR_READ_FAST),
    tags=[MILESTONES],
    summary="A mentor's milestones in progress, closest to completion first",
    responses={200: example_response(MilestonePage, examples.IN_PROGRESS), **problem_responses(422, 503)},
)
async def in_progress(
    state: State, scope: Scope, mentor_id: MentorIdParam, page: PageParam = 1, limit: LimitParam = 20
) -> MilestonePage:
    window = Window(page, limit)
    service = service_of(state)
    found = await service.in_progress(checked_mentor_id(mentor_id), window)
    return in_progress_page(found, window, language_of(scope), service.catalogs)


@get(
    "/{milestone_id:str}/evidence",
    operation_id="getMilestoneEvidence",
    opt=declare(MENTOR_READ_PLAIN),
    tags=[MILESTONES],
    summary="What a milestone is made of",
    description="The periods its value is made of (each one's part; for exact contacts, who was first seen in it), "
    "the rule that applied, where an achieved milestone crossed its threshold, whether the value is exact or an "
    "upper bound, whether a person set it (with the history entry that did), and for one in progress an "
    "estimate of when it may be reached.",
    responses={
        200: example_response(MilestoneEvidenceOut, examples.EVIDENCE),
        **problem_responses("milestone-not-found", 503),
    },
)
async def milestone_evidence(state: State, milestone_id: MilestoneIdParam) -> MilestoneEvidenceOut:
    return evidence_out(await service_of(state).evidence(milestone_id))


@get(
    "/{milestone_id:str}/history",
    operation_id="getMilestoneHistory",
    opt=declare(MENTOR_READ_PLAIN),
    tags=[MILESTONES],
    summary="What happened to a milestone, oldest first",
    description="Every change that moved the milestone: when, who (the access key's id, `anonymous` or `cli`), "
    "which request (its X-Request-ID), why, and its state before and after. It outlives the milestone: a "
    "deleted milestone's history ends with `deleted`. Paged with `cursor`.",
    responses={
        200: example_response(HistoryPage, examples.HISTORY),
        **problem_responses("milestone-not-found", 422, 503),
    },
)
async def milestone_history(
    state: State, milestone_id: MilestoneIdParam, limit: LimitParam = 20, cursor: HistoryCursorParam = None
) -> HistoryPage:
    mentor_id = mentor_of(milestone_id)
    if mentor_id is None:
        raise MilestoneNotFound(milestone_id)
    window = await service_of(state).history(mentor_id, milestone_id, history_cursor(cursor), limit)
    return history_page(window.items, limit, window.next_after)


MILESTONE_ROUTES = [
    list_milestones,
    get_milestone,
    record_summary,
    update_milestone,
    delete_milestone,
    newly_achieved,
    in_progress,
    milestone_history,
    milestone_evidence,
]

# --- /api/v1/mentors -------------------------------------------------------------------------------


@get(
    "/{mentor_id:str}/periods",
    operation_id="listPeriods",
    opt=declare(MENTOR_READ_PLAIN),
    tags=[MENTORS],
    summary="A mentor's stored periods",
    responses={200: example_response(PeriodList, examples.PERIODS), **problem_responses(422, 503)},
)
async def list_periods(state: State, mentor_id: MentorIdParam) -> PeriodList:
    periods = await service_of(state).periods(checked_mentor_id(mentor_id))
    return PeriodList(data=[period_out(p) for p in periods])


@delete(
    "/{mentor_id:str}/periods/{start_date:str}/{end_date:str}",
    operation_id="deletePeriod",
    opt=declare(MENTOR_DELETE),
    tags=[MENTORS],
    summary="Remove a stored period and re-evaluate the mentor",
    description="For a summary sent by mistake: the mentor's milestones are evaluated again without it.",
    status_code=200,
    responses={
        200: example_response(PeriodDeleted, examples.PERIOD_DELETED),
        **problem_responses("period-not-found", 422, 503),
    },
)
async def delete_period(
    request: Request[Any, Any, Any], state: State, mentor_id: MentorIdParam, start_date: PathDate, end_date: PathDate
) -> PeriodDeleted:
    first, last = path_dates(start_date=start_date, end_date=end_date)
    recorded = await service_of(state).remove_period(checked_mentor_id(mentor_id), first, last, actor_of(request.scope))
    out = PeriodDeleted(deleted=True, mentor_id=mentor_id, start_date=first, end_date=last)
    if recorded.unsupported:
        out.unsupported = recorded.unsupported
    if recorded.revoked:
        out.revoked = recorded.revoked
    return out


@get(
    "/{mentor_id:str}/history",
    operation_id="getMentorHistory",
    opt=declare(MENTOR_READ_PLAIN),
    tags=[MENTORS],
    summary="What happened to a mentor's milestones, oldest first",
    description="The history of every milestone of the mentor, deleted ones included, in the order the changes "
    "were made; each entry as in a milestone's history. Paged with `cursor`.",
    responses={200: example_response(HistoryPage, examples.MENTOR_HISTORY), **problem_responses(422, 503)},
)
async def mentor_history(
    state: State, mentor_id: MentorIdParam, limit: LimitParam = 20, cursor: HistoryCursorParam = None
) -> HistoryPage:
    window = await service_of(state).history(checked_mentor_id(mentor_id), None, history_cursor(cursor), limit)
    return history_page(window.items, limit, window.next_after)


@delete(
    "/{mentor_id:str}",
    operation_id="eraseMentor",
    opt=declare(ADMIN),
    tags=[MENTORS],
    summary="Erase everything stored about a mentor",
    description="For a deletion request: the mentor's periods, milestones, history and stored answers to "
    "idempotent requests are removed in one transaction, and history keeps one entry that an erasure happened, "
    "naming the mentor only by a salted hash (answered here). Needs an admin key: refused until one exists, "
    "even while writes are open. Cannot reach backups, proxies' request logs, replicas until they replay, or "
    "files exported earlier.",
    status_code=200,
    responses={
        200: example_response(MentorErased, examples.MENTOR_ERASED),
        **problem_responses("mentor-not-found", 422, 503),
    },
)
async def erase_mentor(request: Request[Any, Any, Any], state: State, mentor_id: MentorIdParam) -> MentorErased:
    erasure = await service_of(state).erase(checked_mentor_id(mentor_id), actor_of(request.scope))
    return MentorErased(erased=True, mentor_hash=erasure.mentor_hash, erased_at=erasure.at, removed=erasure.removed)


@patch(
    "/{mentor_id:str}",
    operation_id="updateMentor",
    opt=declare(MENTOR_UPDATE),
    tags=[MENTORS],
    summary="Change what is stored about a mentor: the name their page shows",
    description="Sets `display_name` (1 to 200 characters), or clears it with null, without posting a summary. "
    "The name is never written to logs, and erasure removes it.",
    before_request=strict_body(MentorUpdateIn),
    middleware=[require_json_body],
    responses={200: example_response(MentorOut, examples.MENTOR), **problem_responses(408, 413, 415, 422, 503)},
)
async def update_mentor(
    request: Request[Any, Any, Any],
    state: State,
    mentor_id: MentorIdParam,
    data: Annotated[MentorUpdateIn, closed_json(examples.MENTOR_UPDATE)],
) -> MentorOut:
    mentor_id = checked_mentor_id(mentor_id)
    await service_of(state).name_mentor(mentor_id, data.display_name, actor_of(request.scope))
    out = MentorOut(mentor_id=mentor_id)
    if data.display_name is not None:
        out.display_name = data.display_name
    return out


MENTOR_ROUTES = [list_periods, delete_period, mentor_history, erase_mentor, update_mentor]


# --- /api/v1/events --------------------------------------------------------------------------------

_EVENT_TYPES = {kind.value: kind for kind in EventType}
_CURSOR_RULE = "must be a next_cursor from a previous page of the feed, or latest"


@get(
    "/api/v1/events",
    operation_id=FEED_OPERATION,
    opt=declare(MENTOR_READ_PLAIN),
    tags=[EVENTS],
    summary="The event feed: every change that matters, in commit order",
    # The types are listed from the enum so the description cannot fall behind it.
    description="CloudEvents 1.0 envelopes ("
    + ", ".join(f"`{kind.value}`" for kind in EventType)
    + "), oldest first. Without `cursor` the feed starts at the oldest event "
    "kept; `cursor=latest` starts at the tail. `pagination.next_cursor` is always present: poll with it. The "
    "feed never skips an event that a concurrent write commits late: an event shows once every write that "
    "began before it has ended. A cursor older than MILESTONES_EVENT_RETENTION_DAYS is answered 410. The "
    "events are described in the AsyncAPI document, /asyncapi.json.",
    responses={
        200: example_response(EventPage, examples.EVENTS),
        **problem_responses("cursor-expired", 422, 503),
    },
)
async def list_events(
    state: State,
    cursor: Annotated[
        str | None, QueryParameter(description="`latest`, or `pagination.next_cursor` of the previous page")
    ] = None,
    types: Annotated[str | None, QueryParameter(description="Only these event types, separated by commas")] = None,
    # Checked here rather than by the framework, so that one 422 names every bad parameter.
    mentor_id: Annotated[
        str | None, QueryParameter(description="Only this mentor's", schema_extra={"pattern": MENTOR_ID_PATTERN})
    ] = None,
    limit: LimitParam = 100,
) -> EventPage:
    errors: list[FieldError] = []
    after = None
    if cursor is not None and cursor != "latest":
        after = decode_event_cursor(cursor) if len(cursor) <= 120 else None
        if after is None:
            errors.append(FieldError("cursor", _CURSOR_RULE))
    kinds = frozenset(_EVENT_TYPES.get(name.strip()) for name in (types or "").split(",") if name.strip())
    if None in kinds:
        errors.append(FieldError("types", EVENT_TYPES_RULE))
    if mentor_id is not None and not is_mentor_id(mentor_id):
        errors.append(FieldError("mentor_id", MENTOR_ID_RULE))
    if errors:
        raise RequestInvalid("; ".join(f"{e.field} {e.message}" for e in errors) + ".", errors)
    service, settings = service_of(state), cast(Settings, state.settings)
    source = event_source(settings.public_url)
    if cursor == "latest":
        position, at = await service.latest_event_position()
        window = EventWindow([], position, at)
    else:
        chosen = frozenset(kind for kind in kinds if kind is not None)
        window = await service.events(
            None if after is None else after[0], None if after is None else after[1], chosen, mentor_id, limit
        )
    return event_page(window, limit, source, service.catalogs)


EVENT_ROUTES = [list_events]


# --- /api/v1/milestone-definitions -------------------------------------------------------------------


@get(
    "/api/v1/milestone-definitions",
    operation_id="listDefinitions",
    opt=declare(CATALOG),
    tags=[DEFINITIONS],
    summary="Every milestone that can be reached, with its badges",
    description=(
        "The latest catalog version's definitions, in catalog order, and the version's name (`catalog_version`). "
        "`version` reads an earlier stored version: a milestone keeps the version it was achieved under. Each "
        "definition's rarity (`achieved_by`, `achieved_by_share`) counts the mentors who hold it achieved now."
    ),
    responses={**problem_responses(404, 422), 304: NOT_MODIFIED},
    response_headers=[
        ResponseHeader(
            name="ETag",
            value='"9b1f0c3a5d7e2b48.4c1d2e3f4a5b"',
            description="Strong entity tag: the catalog version, and a hash of the rarities (achieved_by)",
            documentation_only=True,
        )
    ],
)
async def list_definitions(
    state: State,
    scope: Scope,
    version: Annotated[
        str | None,
        QueryParameter(
            max_length=64,
            pattern=f"^{VERSION_PATTERN}$",
            description="An earlier catalog version to read (`milestones catalog versions` lists them); the latest "
            "without it",
        ),
    ] = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response[DefinitionCatalog]:
    service, language = service_of(state), language_of(scope)
    catalog = service.catalogs.latest if version is None else service.catalogs.get(version)
    if catalog is None:
        raise NotFoundException(f"There is no catalog version {version!r}.")
    rarities = rarity(await service.mentor_counts(), (d.key for d in catalog.definitions))
    # The rarities are part of the answer: the tag changes with them, and with the version and language.
    headers = {"ETag": language_tag(f"{catalog.version}.{rarity_tag(rarities)}", language)}
    if none_match(if_none_match, headers["ETag"]):
        return Response(None, status_code=304, headers=headers)  # type: ignore[arg-type]
    return Response(catalog_out(catalog.definitions, catalog.version, rarities, language), headers=headers)


# --- /api/v1/reports -----------------------------------------------------------------------------------

ReportCursorParam = Annotated[
    str | None, QueryParameter(description="`pagination.next_cursor` of the previous page of stalled mentors")
]


@get(
    "/api/v1/reports/milestones",
    operation_id="getMilestoneReport",
    opt=declare(REPORT),
    tags=[REPORTS],
    summary="The program's milestones: achieved, in progress, and stalled mentors",
    description=(
        "Per definition of the latest catalog version, how many mentors hold it achieved (revoked records not "
        "counted) and how many are on their way to it; and, a page at a time in mentor id order, the mentors whose "
        f"latest period ended more than `stalled_days` days ago (default {DEFAULT_STALLED_DAYS}) while a rung is in "
        "progress. Paged with `cursor`."
    ),
    responses={**problem_responses(422, 503)},
)
async def milestone_report_route(
    state: State,
    stalled_days: Annotated[
        int,
        QueryParameter(
            ge=0,
            le=3650,
            description=f"Days since a mentor's latest period ended that make them stalled ({DEFAULT_STALLED_DAYS})",
        ),
    ] = DEFAULT_STALLED_DAYS,
    limit: LimitParam = 20,
    cursor: ReportCursorParam = None,
) -> MilestoneReportOut:
    after = ""
    if cursor is not None:
        decoded = decode_mentor_cursor(cursor)
        if decoded is None:
            rule = "must be a next_cursor from a previous page of this report"
            raise RequestInvalid(f"cursor {rule}.", [FieldError("cursor", rule)])
        after = decoded
    report = await milestone_report(service_of(state), stalled_days, after, limit)
    return milestone_report_out(report, limit)


REPORT_ROUTES = [milestone_report_route]


# --- shaping ---------------------------------------------------------------------------------------


def history_cursor(cursor: str | None) -> tuple[int, int] | None:
    if cursor is None:
        return None
    after = decode_history_cursor(cursor)
    if after is None:
        rule = "must be a next_cursor from a previous page of this history"
        raise RequestInvalid(f"cursor {rule}.", [FieldError("cursor", rule)])
    return after


def path_dates(**values: str) -> tuple[date, ...]:
    """Dates given in the path, as YYYY-MM-DD; a 422 names every one that is not a date."""
    parsed: list[date] = []
    errors: list[FieldError] = []
    for name, value in values.items():
        day = iso_date(value)
        if day is None:
            errors.append(FieldError(name, DATE_RULE))
        else:
            parsed.append(day)
    if errors:
        raise RequestInvalid("; ".join(f"{e.field} {e.message}" for e in errors), errors)
    return tuple(parsed)


def period_bounds(year: int | None, start_date: date | None, end_date: date | None) -> tuple[date | None, date | None]:
    """Read /new's period: a year, or both dates; None for both means the current year."""
    if year is not None and (start_date or end_date):
        given = " and ".join(name for name, day in (("start_date", start_date), ("end_date", end_date)) if day)
        raise RequestInvalid(
            f"Give either year, or start_date and end_date; year cannot be combined with {given}.",
            [FieldError("year", f"cannot be combined with {given}")],
        )
    if year is not None:
        return date(year, 1, 1), date(year, 12, 31)
    if (start_date is None) != (end_date is None):
        missing = "end_date" if end_date is None else "start_date"
        other = "start_date" if missing == "end_date" else "end_date"
        raise RequestInvalid(f"{missing} is required with {other}.", [FieldError(missing, f"is required with {other}")])
    if start_date and end_date and start_date > end_date:
        raise RequestInvalid("start_date is after end_date.", [FieldError("start_date", "must not be after end_date")])
    return start_date, end_date
