"""What integrators read: the API reference pages (Swagger UI, ReDoc) and a page per problem type.

Everything the pages load is shipped in the package (`web/static`, see its VENDORED.md): they work offline
and under the service's Content-Security-Policy. Their URLs are relative, so they also work when the
service is mounted under a path prefix.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler
from msgspec import Struct

from milestones.web.problem_types import PROBLEM_TYPES, ProblemType
from milestones.web.route_table import DESCRIBES_SERVICE_PAGE, DOCS_ASSET, DOCS_PAGE, REDOC_PAGE, declare

STATIC = Path(str(files("milestones.web") / "static"))
ASSETS_PATH = "/docs/assets"
HTML = "text/html"


class ProblemTypeOut(Struct):
    """A problem type, explained."""

    type: str
    title: str
    status: int
    description: str
    how_to_fix: str


def _page(name: str) -> bytes:
    return (STATIC / name).read_bytes()


@get("/docs", include_in_schema=False, media_type=HTML, opt=declare(DOCS_PAGE))
async def swagger_ui() -> bytes:
    return _page("swagger-ui.html")


@get("/redoc", include_in_schema=False, media_type=HTML, opt=declare(REDOC_PAGE))
async def redoc() -> bytes:
    return _page("redoc.html")


@get("/problems/{name:str}", include_in_schema=False, opt=declare(DESCRIBES_SERVICE_PAGE))
async def problem_type_page(
    request: Request[Any, Any, Any], name: Annotated[str, PathParameter(max_length=100)]
) -> Response[Any]:
    """A page (or, when asked with Accept: application/json, a JSON document) saying what a problem type
    means and how to fix the request."""
    problem = PROBLEM_TYPES.get(name)
    if problem is None:
        raise NotFoundException(f"There is no problem type {name!r}; every type is listed at /problems/.")
    if wants_html(request):
        return Response(problem_page(problem), media_type=HTML)
    return Response(_explained(problem), media_type="application/json")


@get("/problems", include_in_schema=False, opt=declare(DESCRIBES_SERVICE_PAGE))
async def problem_index(request: Request[Any, Any, Any]) -> Response[Any]:
    """Every problem type: a page, or a JSON list when asked with Accept: application/json."""
    if not wants_html(request):
        return Response([_explained(p) for p in PROBLEM_TYPES.values()], media_type="application/json")
    items = "".join(
        f'<li><a href="problems/{p.slug}"><code>{p.uri}</code></a>: {escape(p.title)} ({p.status})</li>'
        for p in PROBLEM_TYPES.values()
    )
    page = _document("Problem types", f"<h1>Problem types</h1><ul>{items}</ul>", stylesheet="docs/assets/problem.css")
    return Response(page, media_type=HTML)


def wants_html(request: Request[Any, Any, Any]) -> bool:
    """A browser's Accept (or none at all) gets the page; a client that prefers JSON gets JSON."""
    return request.accept.best_match(["text/html", "application/json", "application/problem+json"]) == "text/html"


def _explained(problem: ProblemType) -> ProblemTypeOut:
    return ProblemTypeOut(problem.uri, problem.title, problem.status, problem.means, problem.fix)


def problem_page(problem: ProblemType) -> bytes:
    body = (
        f"<h1>{escape(problem.title)}</h1>"
        f"<p class=type>Problem type <code>{problem.uri}</code>, answered with HTTP status {problem.status}.</p>"
        f"<h2>What it means</h2><p>{escape(problem.means)}</p>"
        f"<h2>How to fix the request</h2><p>{escape(problem.fix)}</p>"
        '<p><a href="../problems">Every problem type</a> · <a href="../docs">API reference</a></p>'
    )
    return _document(problem.title, body, stylesheet="../docs/assets/problem.css")


def _document(title: str, body: str, *, stylesheet: str) -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}: Milestones API</title>"
        f'<link rel="stylesheet" href="{stylesheet}"></head>'
        f"<body><main>{body}</main></body></html>"
    ).encode()


DOCS_ROUTES: list[ControllerRouterHandler] = [
    swagger_ui,
    redoc,
    problem_index,
    problem_type_page,
    # The vendored files do not change within a release of the service.
    create_static_files_router(
        ASSETS_PATH,
        directories=[STATIC],
        cache_control=CacheControlHeader(max_age=86400, public=True),
        opt=declare(DOCS_ASSET),
    ),
]
