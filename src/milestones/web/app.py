"""Builds the ASGI application: routes, error rendering, middleware, start-up and shutdown."""

from __future__ import annotations

import asyncio
import os
import sys
from copy import deepcopy
from functools import cache
from typing import IO, Annotated, Any, cast

import msgspec
from litestar import Litestar, Request, Response, Router, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Parameter,
    Schema,
    SecurityScheme,
    Server,
    Tag,
)
from litestar.params import PathParameter, QueryParameter
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope

from milestones import __version__
from milestones.access.keys import Scope as KeyScope
from milestones.badges import DEFAULT_SIZE, BadgeSize, BadgeState, badge_file, badge_image
from milestones.catalog import VERSION_PATTERN, CatalogVersions, catalog_of, load_catalog, load_catalog_file
from milestones.contract import MILESTONE_STATES, HealthOut, ProblemDetails
from milestones.events.asyncapi import ASYNCAPI_JSON, asyncapi_document
from milestones.ops import traces
from milestones.ops.freshness import Fresh
from milestones.ops.logs import configure_logging, event, log_format
from milestones.ops.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from milestones.ops.metrics import exposition
from milestones.ops.read_after import HEADER_NAME as READ_AFTER
from milestones.service import Clock, MilestoneService, utc_now
from milestones.settings import Settings
from milestones.web.access import AccessPolicy, needed_scope
from milestones.web.cors import CorsPolicy
from milestones.web.credentials import CREDENTIAL_ROUTES, CREDENTIALS
from milestones.web.docs import DOCS_ROUTES
from milestones.web.fast_path import CONTRACT_ALIAS_PATH, MILESTONES_PATH, FastPath
from milestones.web.front_door import FrontDoor, TracedFrontDoor
from milestones.web.observability import DatabaseWatch, RequestObserver, untyped
from milestones.web.pages import PAGE_ROUTES
from milestones.web.presenters import none_match
from milestones.web.problem_types import PROBLEM_TYPES
from milestones.web.problems import EXCEPTION_HANDLERS, problem, problem_description, problem_responses
from milestones.web.rate_limits import RateLimits, declare_429, declare_rate_limits
from milestones.web.request_state import language_of
from milestones.web.route_table import BADGE, DESCRIBES_SERVICE, METRICS, Access, RouteTable, declare
from milestones.web.routes import (
    BADGE_HEADERS,
    BADGES,
    DEFINITIONS,
    EVENT_ROUTES,
    EVENTS,
    HEALTH,
    MENTOR_ROUTES,
    MENTORS,
    MILESTONE_ROUTES,
    MILESTONES,
    NOT_MODIFIED,
    REPORT_ROUTES,
    REPORTS,
    IfNoneMatchHeader,
    list_definitions,
    service_of,
)
from milestones.web.webhooks import WEBHOOK_ROUTER, WEBHOOKS
from milestones.webhooks.delivery import DeliveryOptions
from milestones.wording.languages import languages, prepare, tag

OPENAPI_JSON = "application/vnd.oai.openapi+json"
SECURITY_SCHEME = "accessKey"
_KEY_PROBLEMS = {
    "401": problem_description(401, [PROBLEM_TYPES["key-required"].uri]),
    "403": problem_description(403, [PROBLEM_TYPES["scope-required"].uri]),
}


@cache
def _allowed_methods(app: Litestar) -> dict[str, bytes]:
    """Each route's path template (as in the ASGI scope) and the methods it answers."""
    return {
        untyped(route.path): ", ".join(sorted(route.methods)).encode()
        for route in app.routes
        if isinstance(route, HTTPRoute)
    }


async def list_every_method_on_options(message: Message, scope: Scope) -> None:
    """Litestar 2 answers OPTIONS with the methods of the first handler on a path only (litestar#4169)."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    allowed = _allowed_methods(Litestar.from_scope(scope)).get(scope.get("path_template", ""))
    if allowed is not None:
        headers = [(n, v) for n, v in message.get("headers", []) if n.lower() != b"allow"]
        message["headers"] = [*headers, (b"allow", allowed)]


@get(
    "/healthz",
    operation_id="getLiveness",
    tags=[HEALTH],
    summary="Liveness: the process is running",
    opt=declare(DESCRIBES_SERVICE),
)
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@get(
    "/readyz",
    operation_id="getReadiness",
    tags=[HEALTH],
    summary="Readiness: the database answers and its schema is current",
    responses=problem_responses("not-ready"),
    opt=declare(DESCRIBES_SERVICE),
)
async def readyz(request: Request[Any, Any, Any], state: State) -> Response[HealthOut] | Response[ProblemDetails]:
    reason = await service_of(state).readiness_problem()
    if reason is not None:
        not_ready = PROBLEM_TYPES["not-ready"].uri
        return problem(503, reason, type_=not_ready, headers={"Retry-After": "1"}, request=request)
    return Response(HealthOut(status="ready"))


@get(
    "/assets/badges/{file_name:str}",
    operation_id="getBadge",
    tags=[BADGES],
    summary="A milestone's badge image",
    description=(
        "`{key}.png` is a PNG of `size` pixels square; `{key}.svg` the SVG it is drawn from. "
        "`state=locked` is the greyed badge of a milestone not reached yet. `version` draws the rung as that "
        "catalog version defined it (a milestone's `badge_image_url` names it when it differs from the latest: "
        "a retired rung, an older threshold); without it, the latest version's rung, or for a retired one the "
        "newest version that defined it. Answers carry a strong ETag and answer a matching If-None-Match with 304."
    ),
    media_type="image/png",
    responses={**problem_responses(404, 422), 304: NOT_MODIFIED},
    response_headers=BADGE_HEADERS,
    opt=declare(BADGE),
)
async def badge(
    state: State,
    scope: Scope,
    file_name: Annotated[str, PathParameter(max_length=64, description="`{key}.png` or `{key}.svg`")],
    size: Annotated[BadgeSize, QueryParameter(description="Width and height in pixels")] = DEFAULT_SIZE,
    variant: Annotated[BadgeState, QueryParameter(name="state", description="locked: greyed, not yet reached")] = (
        BadgeState.UNLOCKED
    ),
    version: Annotated[
        str | None,
        QueryParameter(
            max_length=64, pattern=f"^{VERSION_PATTERN}$", description="The catalog version to draw the rung from"
        ),
    ] = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response[bytes]:
    wanted = badge_file(file_name)
    catalogs = service_of(state).catalogs
    named = None if version is None else catalogs.get(version)
    if version is not None and named is None:
        raise NotFoundException(f"There is no catalog version {version!r}.")
    if wanted is None:
        raise NotFoundException(f"There is no badge {file_name!r}.")
    definition = catalogs.definition(None, wanted[0]) if named is None else named.by_key.get(wanted[0])
    if definition is None:
        raise NotFoundException(f"There is no badge {file_name!r}{'' if named is None else f' in version {version}'}.")
    if wanted[1] == "png":
        # A first rendering takes 10 to 40 ms (resvg lets go of the GIL): off the event loop, so it holds up
        # no other request. Later ones come from the cache.
        image = await asyncio.to_thread(badge_image, definition, wanted[1], size, variant, language_of(scope))
    else:
        image = badge_image(definition, wanted[1], size, variant, language_of(scope))
    headers = {"ETag": image.etag}
    if none_match(if_none_match, image.etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(image.body, media_type=image.media_type, headers=headers)


@get("/metrics", include_in_schema=False, media_type=METRICS_CONTENT_TYPE, opt=declare(METRICS))
async def metrics(state: State) -> bytes:
    """Prometheus's text format: every worker's counts when there are several (this worker's up to the
    moment; the others' as of their last flush, at most 50 ms ago)."""
    observer = state.get("request_observer")
    if observer is not None:
        observer.flush()
    return exposition()


@get("/", include_in_schema=False, opt=declare(DESCRIBES_SERVICE), status_code=307, media_type="text/plain")
async def home() -> Response[bytes]:
    """The service's front page is its API reference (relative, so it holds under a path prefix)."""
    return Response(b"", status_code=307, headers={"Location": "docs"})


class ServiceDocuments:
    """The OpenAPI and AsyncAPI documents, built when first asked for: building them takes longer than the
    rest of the app (a third of a second), and most workers, and most tests, never serve them.

    The OpenAPI document is the one the running service applies. Who may call what depends on whether any key
    exists yet (with none, writes are open), and keys can be created while the service runs: the document is
    rendered both ways, and each request for it gets the one that is true now."""

    def __init__(
        self,
        app: Litestar,
        routes: RouteTable,
        access: AccessPolicy,
        settings: Settings,
        rate_limits: RateLimits | None,
    ) -> None:
        self.access = access
        self._app = app
        self._routes = routes
        self._settings = settings
        self._rate_limits = rate_limits
        self._renderings: dict[bool, tuple[dict[str, Any], bytes]] = {}
        self._events: bytes | None = None
        self._declared = False

    def _described(self) -> OpenAPI:
        """The framework's document with what it cannot know: headers, languages and rate limits (once)."""
        document = self._app.openapi_schema
        if not self._declared:
            declare_response_headers(document, self._app)
            declare_languages(document, self._routes)
            if self._settings.database_replica_urls:
                declare_read_after(document, self._routes)
            if self._rate_limits is not None:
                declare_rate_limits(document, self._rate_limits, self._routes)
            self._declared = True
        return document

    def openapi(self, *, keys_exist: bool) -> tuple[dict[str, Any], bytes]:
        """The OpenAPI document as a dictionary and as JSON, with or without keys in existence."""
        if keys_exist not in self._renderings:
            copy = deepcopy(self._described())
            declare_access(
                copy,
                self._routes,
                read_requires_key=self.access.read_requires_key,
                keys_exist=keys_exist,
                failed_attempts_limited=self._rate_limits is not None and self._rate_limits.failed_auth is not None,
            )
            as_dict = copy.to_schema()
            self._renderings[keys_exist] = (as_dict, msgspec.json.encode(as_dict))
        return self._renderings[keys_exist]

    async def current(self) -> tuple[dict[str, Any], bytes]:
        """The OpenAPI document as a dictionary and as JSON, for the keys there are now."""
        return self.openapi(keys_exist=await self.access.keys_exist())

    def events(self) -> bytes:
        """The AsyncAPI document, built from the OpenAPI document's schemas and feed operation, so the two
        describe the same events."""
        if self._events is None:
            self._events = msgspec.json.encode(
                asyncapi_document(
                    self._described().to_schema(),
                    version=__version__,
                    public_url=self._settings.public_url,
                    read_requires_key=self._settings.read_requires_key,
                )
            )
        return self._events


class LiveJson(JsonRenderPlugin):
    """/schema/openapi.json: the live document (the framework's plugin would serve the one built at start)."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return cast(bytes, request.scope["state"][LIVE_DOCUMENT][1])


class LiveYaml(YamlRenderPlugin):
    """/schema/openapi.yaml: the live document, as YAML."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, request.scope["state"][LIVE_DOCUMENT][0])


LIVE_DOCUMENT = "milestones.live_document"


async def read_live_document(request: Request[Any, Any, Any]) -> None:
    """Before /schema's routes: the document that is true now, for its plugins (which cannot wait)."""
    request.scope["state"][LIVE_DOCUMENT] = await request.app.state.documents.current()


@get("/openapi.json", include_in_schema=False, media_type=OPENAPI_JSON, opt=declare(DESCRIBES_SERVICE))
async def openapi_document(state: State) -> Response[bytes]:
    """The OpenAPI document where most tools look first; the same as /schema/openapi.json."""
    _, body = await state.documents.current()
    return Response(body, media_type=OPENAPI_JSON)


@get("/asyncapi.json", include_in_schema=False, media_type=ASYNCAPI_JSON, opt=declare(DESCRIBES_SERVICE))
async def event_document(state: State) -> Response[bytes]:
    """The AsyncAPI document: the events the feed serves, by type, with their payloads' schemas."""
    return Response(cast(ServiceDocuments, state.documents).events(), media_type=ASYNCAPI_JSON)


def declare_access(
    document: OpenAPI,
    routes: RouteTable,
    *,
    read_requires_key: bool,
    keys_exist: bool,
    failed_attempts_limited: bool = False,
) -> None:
    """State in the document which operations need which key scope, by the very rule the front door applies
    (each route's policy, `access.needed_scope`), with their 401 and 403 answers (and the 429 of too many failed
    attempts, when they are limited): none but admin operations while no key exists, since the service then
    lets anyone write."""
    document.components.security_schemes = {
        SECURITY_SCHEME: SecurityScheme(
            type="http",
            scheme="bearer",
            description="An access key, `Authorization: Bearer <key>`, with the scope an operation names (admin "
            "includes write, write includes read). A service with no keys configured lets anyone write.",
        )
    }
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "delete"):
            operation = getattr(item, method)
            if operation is None:
                continue
            access = routes.policy_of(method.upper(), path).access
            scope = needed_scope(access, read_requires_key=read_requires_key)
            if scope is None or not (keys_exist or scope is KeyScope.ADMIN):
                continue
            operation.security = [{SECURITY_SCHEME: [scope.label]}]
            problem = operation.responses["400"]
            assert isinstance(problem, OpenAPIResponse)
            for status, description in _KEY_PROBLEMS.items():
                operation.responses[status] = OpenAPIResponse(description=description, content=problem.content)
            operation.responses = dict(sorted(operation.responses.items()))
            if failed_attempts_limited and keys_exist:  # with no key at all, nothing is answered 401
                declare_429(operation)


_TEXT = Schema(type=OpenAPIType.STRING)


def declare_response_headers(document: OpenAPI, app: Litestar) -> None:
    """Give each operation's success answer the headers its handler declares (`response_headers`): an
    operation that states its answers with `responses=` would otherwise lose them from the document."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            declared = [h for h in handler.resolve_response_headers() if h.documentation_only]
            item = (document.paths or {}).get(untyped(route.path))
            if not declared or item is None or not handler.include_in_schema:
                continue
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                answer = None if operation is None else operation.responses.get(str(handler.status_code))
                if not isinstance(answer, OpenAPIResponse):
                    continue
                answer.headers = {
                    **(answer.headers or {}),
                    **{
                        h.name: OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description=h.description)
                        for h in declared
                    },
                }


def declare_languages(document: OpenAPI, routes: RouteTable) -> None:
    """Give every operation whose answer the front door words (its policy says `worded`) its two ways of asking
    for a language, as the front door reads them."""
    spoken = ", ".join(f"`{tag(language)}`" for language in languages())
    locale = Parameter(
        name="locale",
        param_in="query",
        schema=Schema(type=OpenAPIType.STRING),
        description=f"The language of the answer's words ({spoken}); wins over Accept-Language. A language "
        "the service does not speak is passed over for Accept-Language, then English.",
    )
    accept = Parameter(
        name="Accept-Language",
        param_in="header",
        schema=Schema(type=OpenAPIType.STRING),
        description="Preferred languages with q-values; the answer's Content-Language says which was chosen.",
    )
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "delete"):
            operation = getattr(item, method)
            if operation is not None and routes.policy_of(method.upper(), path).worded:
                operation.parameters = [*(operation.parameters or []), locale, accept]


def declare_read_after(document: OpenAPI, routes: RouteTable) -> None:
    """With read replicas: a write's answer carries the position it wrote at, and reads of mentor data take it
    back, as the front door gives and reads them (ops.read_after)."""
    sent_back = Parameter(
        name=READ_AFTER,
        param_in="header",
        schema=Schema(type=OpenAPIType.STRING, pattern="^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$"),
        description="The position the client's last write answered with (Milestones-Read-After): the answer "
        "shows that write, whichever host and database replica serve it. Without it a read may be up to "
        "MILESTONES_REPLICA_MAX_LAG_SECONDS behind; a value that is no position is passed over.",
    )
    given = OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING),
        description="The database's write position after this change: send it back on later reads (request "
        "header of the same name) to read this write on any host. Only on answers that wrote.",
    )
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method)
            if operation is None:
                continue
            access = routes.policy_of(method.upper(), path).access
            if method == "get" and access in (Access.READ, Access.SIGNED_LINK):
                operation.parameters = [*(operation.parameters or []), sent_back]
            elif method != "get" and access is Access.WRITE:
                for status, answer in operation.responses.items():
                    if status.startswith("2") and isinstance(answer, OpenAPIResponse):
                        answer.headers = {**(answer.headers or {}), READ_AFTER: given}


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_now,
    fast_path: bool = True,
    request_log: IO[bytes] | None = None,
) -> FrontDoor:
    """The ASGI application for the given settings: the outer layer, then the fast path in front of the
    Litestar app (the front door asks the fast path first on the routes whose policy allows it). Without
    `fast_path`, the framework answers everything (tests compare the two)."""
    settings = settings or Settings()
    prepare()
    access = AccessPolicy(
        settings.api_keys,
        read_requires_key=settings.read_requires_key,
        metrics_requires_key=settings.metrics_require_key,
    )
    database = DatabaseWatch()
    observer = RequestObserver(request_log, as_json=log_format(settings.log_format, sys.stderr) == "json")
    rate_limits = RateLimits.from_settings(settings)
    catalog = Fresh(CatalogVersions([catalog_of(load_catalog(settings.catalog_path))]))  # until the stored are read
    litestar = create_litestar_app(
        settings,
        clock=clock,
        access=access,
        database=database,
        observer=observer,
        rate_limits=rate_limits,
        catalog=catalog,
    )
    routes = cast(RouteTable, litestar.state.route_table)
    if rate_limits is not None:
        litestar.on_shutdown.append(rate_limits.close)
    door = TracedFrontDoor if traces.enabled() else FrontDoor
    return door(
        litestar,
        fast=FastPath(litestar, settings, routes) if fast_path else None,
        routes=routes,
        access=access,
        cors=CorsPolicy(settings.cors_origins) if settings.cors_origins else None,
        trusted_proxies=settings.trusted_proxies,
        proxy_header=settings.proxy_header,
        body_bounds=(settings.body_timeout_seconds, settings.body_deadline_seconds),
        observer=observer,
        database=database,
        embed_origins=settings.embed_origins,
        rate_limits=rate_limits,
        catalog=catalog,
        read_after=bool(settings.database_replica_urls),
    )


def create_litestar_app(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_now,
    access: AccessPolicy | None = None,
    database: DatabaseWatch | None = None,
    observer: RequestObserver | None = None,
    rate_limits: RateLimits | None = None,
    catalog: Fresh[CatalogVersions] | None = None,
) -> Litestar:
    """The framework application alone, with its route table (`state.route_table`) and its live OpenAPI
    document; the database is opened at start-up, and from then on `access` reads the stored keys through the
    service, and `catalog` the stored catalog versions."""
    settings = settings or Settings()
    # Served only until the stored versions are read at start-up, and published first on a database with none.
    read = load_catalog_file(settings.catalog_path)
    configured = catalog_of(read.definitions, read.version)
    access = access or AccessPolicy(
        settings.api_keys,
        read_requires_key=settings.read_requires_key,
        metrics_requires_key=settings.metrics_require_key,
    )

    async def open_service(app: Litestar) -> None:
        app.state.database_watch = database or DatabaseWatch()
        app.state.request_observer = observer
        app.state.service = service = await MilestoneService.open(settings, configured, clock)
        app.state.settings = settings
        access.attach(service.key_ring)
        if catalog is not None:

            async def stored_catalogs() -> CatalogVersions:
                try:
                    return await service.reload_catalogs()
                except Exception:  # the database away: serve what was read last; writes check in their transaction
                    return service.catalogs

            catalog.attach(stored_catalogs)
        # Events always have a retention; history only when MILESTONES_HISTORY_RETENTION_DAYS is set.
        app.state.pruning = asyncio.create_task(service.prune_hourly(settings.history_retention_days))
        # Webhooks are delivered off the request path, by a loop of each worker's own.
        app.state.delivery_loop = loop = service.delivery_loop(DeliveryOptions.of(settings))
        app.state.deliveries = asyncio.create_task(loop.run())
        event("worker started", pid=os.getpid())

    async def close_service(app: Litestar) -> None:
        # Absent when start-up failed (the database was unreachable); there is nothing to close then.
        pruning = app.state.get("pruning")
        if pruning is not None:
            pruning.cancel()
        deliveries = app.state.get("deliveries")
        if deliveries is not None:
            app.state.delivery_loop.stop()
            try:
                await asyncio.wait_for(asyncio.shield(deliveries), 5)
            except TimeoutError:  # a round stuck on the database: cut it short
                deliveries.cancel()
                await asyncio.gather(deliveries, return_exceptions=True)
        service = app.state.get("service")
        if service is not None:
            await service.close()
        event("worker stopped", pid=os.getpid())

    app = Litestar(
        route_handlers=[
            Router(MILESTONES_PATH, route_handlers=MILESTONE_ROUTES),
            Router(CONTRACT_ALIAS_PATH, route_handlers=MILESTONE_ROUTES, include_in_schema=False),
            Router("/api/v1/mentors", route_handlers=MENTOR_ROUTES),
            *EVENT_ROUTES,
            *REPORT_ROUTES,
            WEBHOOK_ROUTER,
            home,
            healthz,
            readyz,
            badge,
            list_definitions,
            openapi_document,
            event_document,
            metrics,
            *DOCS_ROUTES,
            *PAGE_ROUTES,
            *CREDENTIAL_ROUTES,
        ],
        on_startup=[open_service],
        on_shutdown=[close_service],
        exception_handlers=EXCEPTION_HANDLERS,
        before_send=[list_every_method_on_options],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Milestones",
            version=__version__,
            description="Detects, stores and serves mentoring milestones. Errors are RFC 9457 problem details; "
            "each problem `type` is a page (GET it) saying what it means and how to fix the request.\n"
            + MILESTONE_STATES,
            path="/schema",
            # The document only (/schema/openapi.json, .yaml): the pages are /docs and /redoc, from files
            # shipped in the package, where Litestar's own pages load their scripts from CDNs.
            openapi_router=Router(
                "/schema",
                route_handlers=[],
                opt=declare(DESCRIBES_SERVICE),
                before_request=read_live_document,
                include_in_schema=False,
            ),
            render_plugins=[LiveJson(), LiveYaml()],
            servers=[Server(url=settings.root_path or "/")],
            tags=[
                Tag(name=MILESTONES, description="Summaries in, milestones out"),
                Tag(name=MENTORS, description="A mentor's stored periods"),
                Tag(name=DEFINITIONS, description="The catalog of milestones that can be reached"),
                Tag(name=BADGES, description="Badge images"),
                Tag(name=EVENTS, description="The event feed (CloudEvents; described in /asyncapi.json)"),
                Tag(name=REPORTS, description="The program as a whole: milestones achieved, in progress, stalled"),
                Tag(name=WEBHOOKS, description="Endpoints events are pushed to, signed (Standard Webhooks); admin"),
                Tag(name=CREDENTIALS, description="Open Badges 3.0 credentials, their keys (JWKS) and revocation list"),
                Tag(name=HEALTH, description="Liveness and readiness"),
            ],
            components=Components(),
        ),
        debug=False,
    )
    routes = app.state.route_table = RouteTable(app)
    app.state.documents = ServiceDocuments(app, routes, access, settings, rate_limits)
    return app


def app_from_environment() -> Any:
    """Factory for `uvicorn --factory`: every worker process builds its app from the environment."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    if traces.configured():  # each worker exports its own spans (`serve` checked the settings first)
        traces.start()
    app = create_app(settings)
    if traces.enabled():
        cast(Litestar, app.app).on_shutdown.append(traces.stop)
    return app
