"""Every route's policy, declared once beside its handler, and the one table every layer reads it from.

A handler states its policy with `opt=declare(POLICY)`: who may call it, which rate limit counts it, whether
its answer is worded in the request's language, how it is framed and cached, and whether the fast path may
answer it. `RouteTable` is built from the framework app's own routes at start-up (so a route cannot exist
without a policy: building the table fails), and the front door matches each request against it once; access,
rate limits, the answer's headers, the fast path and the OpenAPI document all read the match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from litestar import Litestar
from litestar.routes import HTTPRoute

from milestones.web.observability import untyped

POLICY = "milestones.policy"
# Where the front door leaves a request's match, for the fast path (which then needs no table of its own).
MATCHED = "milestones.route"


class Access(Enum):
    """Who may call a route."""

    PUBLIC = "public"  # describes the service (docs, problems, health, the catalog, badges): never a key
    READ = "read"  # a mentor's data: a read key when MILESTONES_READ_REQUIRES_KEY is set
    SIGNED_LINK = "signed link"  # a page a browser opens from a link: a signed link instead of a key (pages.py)
    WRITE = "write"  # a write key once any key exists
    ADMIN = "admin"  # an admin key, always: refused until one exists, even while writes are open
    METRICS = "metrics"  # the service's counts: a read key when MILESTONES_METRICS_REQUIRE_KEY (default: as reads)


class Framing(Enum):
    """What an answer is, for its security headers and for how its errors are shown."""

    API = "api"  # JSON: nothing to frame or to run, so no Content-Security-Policy
    PAGE = "page"  # HTML (or SVG) for people: `default-src 'self'`; errors as an HTML page to browsers
    DOCS = "docs"  # the vendored Swagger UI and ReDoc, which need inline styles (see front_door.CSP)
    REDOC = "redoc"  # ReDoc also runs its search index in a blob: worker
    IMAGE = "image"  # badges and static files: `default-src 'self'` (an SVG can hold a script)


_HTML = frozenset({Framing.PAGE, Framing.DOCS, Framing.REDOC})


# Compared and hashed by identity (eq=False): the front door keys its header blocks by policy on every request.
@dataclass(frozen=True, slots=True, eq=False)
class RoutePolicy:
    """One route's policy. `rate_limit` names the limit that counts it ("reads" or "writes"), None when none
    does; `cache_control` is what its successful answers say (None: what the handler says); `catalog` whether
    its answers depend on the served catalog (the front door then reads the latest version first, when due)."""

    access: Access
    rate_limit: str | None
    framing: Framing = Framing.API
    worded: bool = False
    embeddable: bool = False
    cache_control: bytes | None = None
    fast: bool = False
    catalog: bool = True

    @property
    def html(self) -> bool:
        """An HTML page: its errors are shown as a page to browsers, and a trailing slash on it is redirected."""
        return self.framing in _HTML


def declare(policy: RoutePolicy) -> dict[str, Any]:
    """A handler's `opt` carrying its policy."""
    return {POLICY: policy}


# The policies the service's routes use, named for what they serve.
# Health, /openapi.json: never the catalog, so a liveness probe never waits on the database.
DESCRIBES_SERVICE = RoutePolicy(Access.PUBLIC, rate_limit=None, catalog=False)
# The counts by route and status say how busy the service is and what it is asked: as private as reads unless
# the operator says otherwise. Never rate limited, like the health checks, so a scraper always gets them.
METRICS = RoutePolicy(Access.METRICS, rate_limit=None)
DESCRIBES_SERVICE_PAGE = RoutePolicy(
    Access.PUBLIC, rate_limit=None, framing=Framing.PAGE, catalog=False
)  # problem pages
DOCS_PAGE = RoutePolicy(Access.PUBLIC, rate_limit=None, framing=Framing.DOCS)
REDOC_PAGE = RoutePolicy(Access.PUBLIC, rate_limit=None, framing=Framing.REDOC)
DOCS_ASSET = RoutePolicy(Access.PUBLIC, rate_limit=None, framing=Framing.IMAGE)
CATALOG = RoutePolicy(Access.PUBLIC, rate_limit="reads", worded=True)
# Badges change only when the catalog does, which takes a restart; a day keeps embeds cheap and still fresh.
BADGE = RoutePolicy(
    Access.PUBLIC, rate_limit="reads", framing=Framing.IMAGE, worded=True, cache_control=b"public, max-age=86400"
)
PAGE_ASSET = RoutePolicy(Access.PUBLIC, rate_limit="reads", framing=Framing.IMAGE)
MENTOR_READ = RoutePolicy(Access.READ, rate_limit="reads", worded=True)
MENTOR_READ_FAST = RoutePolicy(Access.READ, rate_limit="reads", worded=True, fast=True)
MENTOR_READ_PLAIN = RoutePolicy(Access.READ, rate_limit="reads")  # periods: no words to translate
MENTOR_WRITE = RoutePolicy(Access.WRITE, rate_limit="writes", worded=True)
MENTOR_WRITE_FAST = RoutePolicy(Access.WRITE, rate_limit="writes", worded=True, fast=True)
MENTOR_DELETE = RoutePolicy(Access.WRITE, rate_limit="writes")
# A change to the mentor themselves (PATCH: their name); nothing in its answer is worded.
MENTOR_UPDATE = RoutePolicy(Access.WRITE, rate_limit="writes")
# A page shows what is stored for one mentor; it changes with every recorded summary, so it is never cached
# by a shared cache, and a browser checks again after a minute.
MENTOR_PAGE = RoutePolicy(
    Access.SIGNED_LINK, rate_limit="reads", framing=Framing.PAGE, worded=True, cache_control=b"private, max-age=60"
)
MENTOR_CARD = RoutePolicy(
    Access.SIGNED_LINK,
    rate_limit="reads",
    framing=Framing.PAGE,
    worded=True,
    embeddable=True,
    cache_control=b"private, max-age=60",
)
ADMIN = RoutePolicy(Access.ADMIN, rate_limit="writes")
# The program report names stalled mentors: read as a mentor's data is. Its words are keys and numbers.
REPORT = RoutePolicy(Access.READ, rate_limit="reads")
# A milestone's credential: a mentor's data, opened as the mentor's page is (a signed link when reads need a key),
# so that a mentor can carry the link to a wallet. Never kept by a shared cache.
CREDENTIAL = RoutePolicy(Access.SIGNED_LINK, rate_limit="reads", cache_control=b"private, no-cache")
# The keys that verify credentials and the revocation status list: for any verifier, never a key. The list
# changes with every revocation, so it is checked again each time.
CREDENTIAL_CHECKS = RoutePolicy(Access.PUBLIC, rate_limit="reads", cache_control=b"no-cache", catalog=False)
# A request no route answers (404, or 405 for a method a path does not have): as strict as a mentor's data,
# so that probing unknown paths tells nothing a key would not.
UNMATCHED_READ = RoutePolicy(Access.READ, rate_limit="reads")
UNMATCHED_WRITE = RoutePolicy(Access.WRITE, rate_limit="writes")
# OPTIONS: a CORS preflight never carries credentials, and the framework answers the rest from memory.
OPTIONS = RoutePolicy(Access.PUBLIC, rate_limit=None)


class RouteMatch(NamedTuple):
    """What a request matched: its route's template (as the log, metrics and OpenAPI document name it), the
    policy, the operation's name, and the values of the template's parameters. (A named tuple: one is made for
    each request with a parameter, and it is the cheapest immutable record to make.)"""

    template: str | None
    policy: RoutePolicy
    operation: str = ""
    params: tuple[str, ...] = ()
    trailing_slash: bool = False


@dataclass(slots=True)
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    parameter: _Node | None = None
    rest: dict[str, RouteMatch] | None = None  # a {name:path} parameter: the rest of the path, any depth
    routes: dict[str, RouteMatch] | None = None  # method -> route ending here


class RouteTable:
    """The framework app's routes and their policies, matched on whole segments as the framework matches
    them: a literal segment before a parameter, a parameter before a path parameter."""

    def __init__(self, app: Litestar | None = None) -> None:
        self._root = _Node()
        self._literal: dict[tuple[str, str], RouteMatch] = {}  # routes without parameters: one lookup
        # Routes with one parameter, the last segment or the one before: (method, what precedes it, what follows).
        self._around: dict[tuple[str, str, str], RouteMatch] = {}
        self.routes: dict[tuple[str, str], RouteMatch] = {}
        missing: list[str] = []
        for route in () if app is None else app.routes:
            if not isinstance(route, HTTPRoute):
                continue
            template = untyped(route.path)
            for handler in route.route_handlers:
                for method in handler.http_methods:
                    if method == "OPTIONS":
                        policy = OPTIONS
                    else:
                        declared = handler.opt.get(POLICY)
                        if not isinstance(declared, RoutePolicy):
                            missing.append(f"{method} {template}")
                            continue
                        policy = declared
                    operation = handler.operation_id if isinstance(handler.operation_id, str) else handler.handler_name
                    match = RouteMatch(template, policy, operation)
                    self.routes[(method, template)] = match
                    self._insert(route.path, method, match)
                    if "{" not in template:
                        self._literal[(method, template)] = match
                    elif template.count("{") == 1 and ":path}" not in route.path:
                        before, _, rest = template.partition("{")
                        after = rest.partition("}")[2]
                        if after.count("/") <= 1:
                            self._around[(method, before, after)] = match
        if missing:
            raise RuntimeError(f"routes without a declared policy (opt=declare(...)): {sorted(missing)}")

    def _insert(self, path: str, method: str, match: RouteMatch) -> None:
        node = self._root
        for part in path.strip("/").split("/") if path != "/" else []:
            if part.startswith("{") and part.endswith(":path}"):
                node.rest = node.rest or {}
                node.rest[method] = match
                return
            if part.startswith("{"):
                node.parameter = node.parameter or _Node()
                node = node.parameter
            else:
                node = node.literal.setdefault(part, _Node())
        node.routes = node.routes or {}
        node.routes[method] = match

    def match(self, method: str, path: str) -> RouteMatch:
        """The route a request goes to, or the policy of one no route answers."""
        literal = self._literal.get((method, path))
        if literal is not None:
            return literal
        slash = len(path) > 1 and path[-1] == "/"
        if slash:
            path = path[:-1]
            literal = self._literal.get((method, path))
            if literal is not None:
                return RouteMatch(literal.template, literal.policy, literal.operation, (), True)
        # The hot routes have one parameter: two lookups, before the walk through the tree.
        head, _, last = path.rpartition("/")
        if last:
            around = self._around.get((method, head + "/", ""))
            if around is not None:
                return RouteMatch(around.template, around.policy, around.operation, (last,), slash)
            start, _, segment = head.rpartition("/")
            if segment:
                around = self._around.get((method, start + "/", "/" + last))
                if around is not None:
                    return RouteMatch(around.template, around.policy, around.operation, (segment,), slash)
        parts = path[1:].split("/") if len(path) > 1 else []
        params: list[str] = []
        found = self._straight(parts, method, params)
        if found is None:
            params.clear()
            found = self._walk(self._root, parts, 0, method, params)
        if found is None:
            return UNMATCHED_READS if method in _READS else UNMATCHED_WRITES
        if params or slash:
            return RouteMatch(found.template, found.policy, found.operation, tuple(params), slash)
        return found

    def _straight(self, parts: list[str], method: str, params: list[str]) -> RouteMatch | None:
        """The match found without turning back (a literal segment where there is one, else the parameter):
        every route the service has is found so; `_walk` tries the other ways when this finds none."""
        node: _Node | None = self._root
        for part in parts:
            assert node is not None
            child = node.literal.get(part)
            if child is None:
                if node.parameter is None or not part:
                    return None
                params.append(part)
                child = node.parameter
            node = child
        if node is None or node.routes is None:
            return None
        return node.routes.get(method)

    def _walk(self, node: _Node, parts: list[str], at: int, method: str, params: list[str]) -> RouteMatch | None:
        if at == len(parts):
            if node.routes is not None and method in node.routes:
                return node.routes[method]
            return None if node.rest is None else node.rest.get(method)
        part = parts[at]
        child = node.literal.get(part)
        if child is not None:
            found = self._walk(child, parts, at + 1, method, params)
            if found is not None:
                return found
        if node.parameter is not None and part:
            params.append(part)
            found = self._walk(node.parameter, parts, at + 1, method, params)
            if found is not None:
                return found
            params.pop()
        if node.rest is not None:
            return node.rest.get(method)
        return None

    def policy_of(self, method: str, template: str) -> RoutePolicy:
        """The policy of a route named as the OpenAPI document names it (`/api/v1/milestones/{milestone_id}`)."""
        return self.routes[(method, template)].policy


_READS = frozenset({"GET", "HEAD"})
UNMATCHED_READS = RouteMatch(None, UNMATCHED_READ)
UNMATCHED_WRITES = RouteMatch(None, UNMATCHED_WRITE)
