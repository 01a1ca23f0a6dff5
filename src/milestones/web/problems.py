"""Renders every error as RFC 9457 problem details, so clients see one shape whatever went wrong."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.constants import RESERVED_KWARGS
from litestar.datastructures.headers import Accept
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from msgspec import UNSET

from milestones.badges import SIZES, BadgeState
from milestones.catalog import is_version
from milestones.contract import (
    DATE_RULE,
    MENTOR_ID_RULE,
    STATUS_RULE,
    YEAR_RULE,
    FieldError,
    ProblemDetails,
    RequestInvalid,
    iso_date,
)
from milestones.domain import MetricType, Status, is_mentor_id
from milestones.domain.events import EventType
from milestones.errors import DatabaseUnavailable, InvalidUpdate, KeyRequired, MilestonesError, ScopeRequired
from milestones.web.html import render
from milestones.web.problem_types import BLANK, DEFAULT_TYPES, PROBLEM_TYPES
from milestones.web.request_state import language_of, match_of
from milestones.wording.languages import Word, tag, word

PROBLEM_JSON = "application/problem+json"
PROBLEM_HTML = "text/html; charset=utf-8"
NO_STORE = (b"cache-control", b"no-store")
DATABASE_AWAY = "The database is unavailable; try again shortly."
_ACCEPTABLE = ["application/problem+json", "application/json", "text/html"]
log = logging.getLogger("milestones")

_DESCRIPTIONS = {
    400: "Malformed request (for example, a body that is not JSON or an invalid Host header)",
    401: "No valid access key: missing, unknown or revoked (`WWW-Authenticate: Bearer`)",
    403: "The access key lacks the scope this operation needs",
    404: "No such resource",
    408: "The request body did not arrive in time; the connection is closed",
    409: "Conflicts with stored data",
    410: "The cursor is older than the event retention; `detail` names the oldest event kept",
    412: "The If-Match precondition failed",
    413: "Body larger than the limit",
    415: "The body is not declared as JSON (Content-Type: application/json)",
    422: "The request is well formed but not valid; `errors` names the fields",
    429: "Too many requests of this kind from this access key or address; retry after the Retry-After delay",
    503: "The database is unavailable; retry after the Retry-After delay",
}


INVALID_REQUEST = PROBLEM_TYPES[InvalidUpdate.slug].uri
MALFORMED_REQUEST = PROBLEM_TYPES["malformed-request"].uri
# One title per problem type, whichever code raises it.
_TITLES = {problem.uri: problem.title for problem in PROBLEM_TYPES.values()}


_METRICS = [m.value for m in MetricType]
_SIZES = [str(size) for size in SIZES]


def _whole_number(low: int, high: int) -> Callable[[str], bool]:
    return lambda text: text.isascii() and text.isdigit() and low <= int(text) <= high


def _is_date(text: str) -> bool:
    return iso_date(text) is not None


EVENT_TYPES_RULE = "must be event types separated by commas: " + ", ".join(kind.value for kind in EventType)
_EVENT_TYPE_NAMES = frozenset(kind.value for kind in EventType)


def _are_event_types(text: str) -> bool:
    return all(name.strip() in _EVENT_TYPE_NAMES for name in text.split(",") if name.strip())


# Query and path parameters: each one's rule in plain words, and a check that tells a given value is valid.
# The framework stops at the first bad parameter; these let a 422 name every one.
_PARAMETERS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "page": ("must be a whole number from 1 to 1,000,000", _whole_number(1, 1_000_000)),
    "limit": ("must be a whole number from 1 to 100", _whole_number(1, 100)),
    "year": (YEAR_RULE, _whole_number(1, 9999)),
    "mentor_id": (MENTOR_ID_RULE, is_mentor_id),
    "type": (f"must be {', '.join(_METRICS[:-1])} or {_METRICS[-1]}", lambda text: text in _METRICS),
    "status": (STATUS_RULE, lambda text: text in {s.value for s in Status}),
    "achieved_from": (DATE_RULE, _is_date),
    "achieved_to": (DATE_RULE, _is_date),
    "start_date": (DATE_RULE, _is_date),
    "end_date": (DATE_RULE, _is_date),
    "cursor": ("must be a next_cursor from a previous page", lambda text: len(text) <= 400),
    "superseded": ("must be true or false", lambda text: text.lower() in {"true", "false", "1", "0"}),
    "types": (EVENT_TYPES_RULE, _are_event_types),
    "size": (f"must be {', '.join(_SIZES[:-1])} or {_SIZES[-1]} (pixels)", lambda text: text in _SIZES),
    "state": (
        f"must be {BadgeState.LOCKED} or {BadgeState.UNLOCKED}",
        lambda text: text in {s.value for s in BadgeState},
    ),
    "dry_run": ("must be true or false", lambda text: text in ("true", "false")),
    "version": ("must be a catalog version: 1 to 64 letters, digits, '.', '_' or '-'", is_version),
}


def clipped(text: str, limit: int) -> str:
    """Text an error repeats back from the request, cut short: a 900 kB unknown key must not come back 4 times."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clipped_error(error: FieldError) -> FieldError:
    return FieldError(clipped(error.field, 200), clipped(error.message, 300))


def problem_document(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    title: str | None = None,
    errors: list[FieldError] | None = None,
) -> ProblemDetails:
    """The problem details of an error, with its type's one title."""
    return ProblemDetails(
        type=type_,
        title=title or _TITLES.get(type_) or HTTPStatus(status).phrase,
        status=status,
        detail=clipped(detail, 1000),
        errors=UNSET if errors is None else [clipped_error(e) for e in errors],
    )


def error_document(error: MilestonesError) -> ProblemDetails:
    """The problem details of an expected error."""
    errors = [FieldError(error.field, error.detail)] if isinstance(error, InvalidUpdate) else None
    # The database's own words are for the logs; clients learn only that it is temporary.
    detail = DATABASE_AWAY if isinstance(error, DatabaseUnavailable) else error.detail
    return problem_document(error.status, detail, type_=error.type, title=error.title, errors=errors)


def wants_page(scope: Any, accept: bytes | None) -> bool:
    """Whether a problem is best shown as an HTML page: an error on a page's address, asked for by a browser
    (its Accept prefers text/html to JSON). Everything else is answered as problem JSON."""
    if accept is None or not match_of(scope).policy.html or b"html" not in accept:
        return False
    return Accept(accept.decode("latin-1")).best_match(_ACCEPTABLE) == "text/html"


def render_problem(document: ProblemDetails, scope: Any, accept: bytes | None) -> tuple[str, bytes]:
    """The one rendering of every problem, whoever answers it (the front door, the fast path, the framework):
    its media type and body. JSON (RFC 9457); for a browser on a page's address, a page in its language."""
    if not wants_page(scope, accept):
        return PROBLEM_JSON, msgspec.json.encode(document)
    language = language_of(scope)
    # Relative to the service's root, so the page keeps its stylesheet under a path prefix.
    root = "../" * max(0, str(scope["path"]).count("/") - 1)
    page = render(
        "problem.html",
        problem=document,
        tag=tag(language),
        _=lambda text: word(language, Word(text)),
        root=root,
    )
    return PROBLEM_HTML, page.encode()


def problem(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    title: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    request: Request[Any, Any, Any] | None = None,
) -> Response[Any]:
    """A problem as the framework's answer, rendered by `render_problem`."""
    return problem_response(problem_document(status, detail, type_=type_, title=title, errors=errors), headers, request)


def problem_response(
    document: ProblemDetails, headers: dict[str, str] | None, request: Request[Any, Any, Any] | None
) -> Response[Any]:
    if request is None:
        media_type, body = PROBLEM_JSON, msgspec.json.encode(document)
    else:
        media_type, body = render_problem(document, request.scope, accept_of(request.scope["headers"]))
    # The framework adds the charset to a text/ type itself.
    media_type = media_type.partition(";")[0]
    return Response(body, status_code=document.status, media_type=media_type, headers=headers)


def accept_of(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"accept":
            return value
    return None


def problem_headers(error: MilestonesError) -> list[tuple[bytes, bytes]]:
    """The headers an error's answer carries whoever renders it: the 401's and 403's challenge (RFC 6750),
    and, for a 503, when to try again. Neither is kept by a cache."""
    if isinstance(error, KeyRequired):
        if error.presented:
            return [NO_STORE, (b"www-authenticate", b'Bearer realm="milestones", error="invalid_token"')]
        return [NO_STORE, (b"www-authenticate", b'Bearer realm="milestones"')]
    if isinstance(error, ScopeRequired):
        return [NO_STORE, (b"www-authenticate", b'Bearer realm="milestones", error="insufficient_scope"')]
    if isinstance(error, DatabaseUnavailable):
        return [NO_STORE, (b"retry-after", b"1")]
    return []


def problem_description(status: int, types: list[str]) -> str:
    named = ", ".join(f"`{t}`" for t in dict.fromkeys(types))
    return f"{_DESCRIPTIONS[status]}. Problem type: {named}."


def problem_responses(*problems: int | str) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems an operation can answer with, each naming its problem types: a
    status (its usual type, or about:blank) or a type's slug. 400 is always included.

    Any request can be malformed (an invalid Host or Content-Length header is refused before routing), and
    Litestar documents its own 400 body on every operation with parameters; the entry here replaces that one
    with the problem document this service actually sends (its validation errors are answered as 422).
    """
    types: dict[int, list[str]] = {400: [PROBLEM_TYPES["malformed-request"].uri]}
    for given in problems:
        if isinstance(given, str):
            problem_type = PROBLEM_TYPES[given]
            types.setdefault(problem_type.status, []).append(problem_type.uri)
        else:
            default = DEFAULT_TYPES.get(given)
            types.setdefault(given, []).append(BLANK if default is None else PROBLEM_TYPES[default].uri)
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            description=problem_description(status, types[status]),
            media_type=PROBLEM_JSON,
            # Litestar would otherwise attach random example values to the shared ProblemDetails schema.
            generate_examples=False,
        )
        for status in sorted(types)
    }


def on_milestones_error(request: Request[Any, Any, Any], exc: MilestonesError) -> Response[Any]:
    if isinstance(exc, DatabaseUnavailable):
        watch = request.app.state.get("database_watch")
        if watch is not None:  # logged once when it goes, and once when it is back
            watch.unavailable(exc.detail)
    return problem_response(error_document(exc), _as_dict(problem_headers(exc)), request)


def _as_dict(headers: list[tuple[bytes, bytes]]) -> dict[str, str] | None:
    return {name.decode(): value.decode() for name, value in headers} or None


def on_request_invalid(request: Request[Any, Any, Any], exc: RequestInvalid) -> Response[Any]:
    type_ = MALFORMED_REQUEST if exc.status == 400 else INVALID_REQUEST
    return problem(exc.status, exc.detail, type_=type_, errors=exc.errors, request=request)


def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's query, path and header validation, answered as 422 naming every bad parameter in plain words."""
    declared = _parameter_names(request)
    given = {**request.path_params, **dict(request.query_params)}
    named = {
        name: rule
        for name, (rule, valid) in _PARAMETERS.items()
        if name in given and name in declared.values() and isinstance(given[name], str) and not valid(given[name])
    }
    for e in exc.extra if isinstance(exc.extra, list) else []:
        key = str(e.get("key", "request"))
        name = declared.get(key, key)
        named.setdefault(name, _PARAMETERS[name][0] if name in _PARAMETERS else "is not valid")
    errors = [FieldError(name, rule) for name, rule in named.items()]
    detail = "; ".join(f"{e.field} {e.message}" for e in errors) or "The request is not valid."
    return problem(422, detail + ".", type_=INVALID_REQUEST, errors=errors, request=request)


def _parameter_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The handler's arguments and the names a request gives them: the framework's errors name the argument
    (`variant`), a client knows the parameter (`state`, a name the framework reserves for itself). Only these
    are checked, so a stray `size=3` on another operation is not reported as one of its parameters."""
    return {
        argument: getattr(field.kwarg_definition, "name", None) or argument
        for argument, field in request.route_handler.parsed_fn_signature.parameters.items()
        if argument not in RESERVED_KWARGS  # the framework's own: State, Request, ...
    }


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    detail = (
        exc.detail
        if exc.detail and exc.detail != HTTPStatus(status).phrase
        else _DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
    )
    return problem(status, detail, headers=exc.headers, request=request)


UNEXPECTED = "The server failed to handle this request; it has been logged."


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, UNEXPECTED, request=request)


EXCEPTION_HANDLERS: Any = {
    MilestonesError: on_milestones_error,
    RequestInvalid: on_request_invalid,
    ValidationException: on_validation,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}
