"""A mentor's milestones as people see them: the page, the card other sites frame, and the card as an image.

Server-rendered with Jinja2 from the same presenters as the API (`milestone_out`: names, accessibility
labels, progress), so the page says exactly what the API says. Everything the page loads is shipped in the
package (`web/static/pages`, the badge SVGs): no script, no external font. URLs are relative, so the pages
also work when the service is mounted under a path prefix.

When reads need a key, a page opens only with a signed link (`milestones page-link`, see page_links.py): a
browser following a link cannot send a key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.datastructures import CacheControlHeader, State
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler
from markupsafe import Markup

from milestones.access.page_links import EXPIRES, SIGNATURE, link_opens
from milestones.badges import BADGES_PATH, BadgeState, badge_svg
from milestones.contract import MilestoneOut
from milestones.domain import Definition, MetricType, Milestone, MilestoneQuery, Status
from milestones.errors import KeyRequired
from milestones.service import MilestoneService, Window
from milestones.settings import Settings
from milestones.web.docs import STATIC
from milestones.web.html import render
from milestones.web.presenters import milestone_out
from milestones.web.request_state import language_of
from milestones.web.route_table import MENTOR_CARD, MENTOR_PAGE, PAGE_ASSET, declare
from milestones.web.routes import MentorIdParam, checked_mentor_id, service_of
from milestones.wording.labels import description_of, format_date, name_of
from milestones.wording.languages import ENGLISH, Word, format_month, tag, word
from milestones.wording.languages import format_date as local_date

PAGES_PATH = "/mentors"
STYLESHEET_PATH = "/assets/pages"
HTML = "text/html"
SVG = "image/svg+xml"
# A mentor holds at most one record per catalog entry; this is far above any catalog's length.
_ALL = 1000
CARD_BADGES = 4
_LONG_AGO = datetime.min.replace(tzinfo=UTC)
# A calendar day; Language's own `date` method hides the type's name inside the class.
Day = date


@dataclass(frozen=True, slots=True)
class Language:
    """What a page is written in: the front door's choice (`?locale=`, else Accept-Language, else English),
    its `lang` attribute, its words and its dates. The one place pages choose and apply a language."""

    id: str
    tag: str

    def words(self, text: str) -> str:
        return word(self.id, Word(text))

    def date(self, moment: datetime) -> str:
        return format_date(moment) if self.id == ENGLISH else local_date(moment, self.id)

    def month(self, day: Day) -> str:
        """A month and its year: how an estimate is shown, never a day, since it is a pace's guess."""
        return format_month(day, self.id)

    def carried(self, query: str) -> str:
        """A link's query to another of the mentor's pages: the signed link's, and the language when chosen."""
        return "&".join(part for part in (query, "" if self.id == ENGLISH else f"locale={self.tag}") if part)

    def badge(self, path: str) -> str:
        """A badge's URL that draws it in this language (relative to the service's root)."""
        if self.id == ENGLISH:
            return path
        return f"{path}{'&' if '?' in path else '?'}locale={self.tag}"


def language_of_request(request: Request[Any, Any, Any]) -> Language:
    language = language_of(request.scope)
    return Language(language, tag(language))


@dataclass(frozen=True, slots=True)
class Shown:
    """One milestone as the page shows it: the API's representation and where its badge is."""

    item: MilestoneOut
    key: str
    badge: str
    new: bool = False
    # The catalog version the record shows, whose definition its badge draws (a retired rung's included).
    version: str | None = None
    # In progress: the month it may be reached at the mentor's pace (`Language.month`), if there is a pace.
    estimate: str | None = None


@dataclass(frozen=True, slots=True)
class Rung:
    """A first milestone to reach, for a mentor with nothing yet."""

    key: str
    name: str
    description: str
    badge: str


@dataclass(slots=True)
class MentorView:
    """Everything a page, card or card image shows of one mentor."""

    mentor_id: str
    # The name the platform gave the mentor, if any: the heading shows it rather than the id.
    display_name: str | None = None
    achieved: list[Shown] = field(default_factory=list)
    next_up: list[Shown] = field(default_factory=list)
    first_rungs: list[Rung] = field(default_factory=list)
    every_rung_reached: bool = False  # then a sentence says so where "Next up" was

    @property
    def heading(self) -> str:
        return self.display_name or self.mentor_id

    @property
    def empty(self) -> bool:
        return not self.achieved and not self.next_up


def badge_svg_path(key: str, state: BadgeState = BadgeState.UNLOCKED, version: str | None = None) -> str:
    """A badge's SVG; `version` names the catalog version to draw it from when not the latest's picture."""
    query = [f"state={state}"] if state is not BadgeState.UNLOCKED else []
    if version is not None:
        query.append(f"version={version}")
    path = f"{BADGES_PATH}/{key}.svg"
    return f"{path}?{'&'.join(query)}" if query else path


async def mentor_view(service: MilestoneService, mentor_id: str, language: Language) -> MentorView:
    """What the page and the card show, read through the service and shaped as the API shapes it."""
    view = MentorView(mentor_id, await service.display_name(mentor_id))

    catalogs = service.catalogs

    def shown(m: Milestone, new: bool = False, estimate: date | None = None) -> Shown:
        state = BadgeState.UNLOCKED if m.status is Status.ACHIEVED else BadgeState.LOCKED
        key = m.definition_key
        badge = language.badge(badge_svg_path(key, state, catalogs.shown_version(m.catalog_version, key)))
        words = None if estimate is None else language.month(estimate)
        return Shown(milestone_out(m, language.id, catalogs), key, badge, new, m.catalog_version, words)

    found = await service.find(MilestoneQuery(mentor_id=mentor_id, status=Status.ACHIEVED, limit=_ALL))
    this_year, _ = await service.newly_achieved(mentor_id, None, None, Window(1, _ALL))
    new_ids = {m.id for m in this_year}
    # Most recent first: what a mentor has just reached is what they come to see.
    achieved = sorted(found.items, key=lambda m: (m.achieved_at or _LONG_AGO, m.position), reverse=True)
    view.achieved = [shown(m, m.id in new_ids) for m in achieved]
    in_progress = await service.in_progress(mentor_id, Window(1, _ALL))
    # The next rung of each type is the closest of that type; the listing's order (closest first) is kept.
    seen: set[MetricType] = set()
    for m in in_progress.items:
        if m.type not in seen:
            seen.add(m.type)
            view.next_up.append(shown(m, estimate=in_progress.estimates.get(m.id)))
    if view.empty:
        view.first_rungs = first_rungs(service.catalog, language)
    view.every_rung_reached = {d.key for d in service.catalog} <= {m.definition_key for m in found.items}
    return view


def first_rungs(catalog: tuple[Definition, ...], language: Language) -> list[Rung]:
    """The first milestone of each type, in catalog order: where a new mentor starts."""
    firsts: dict[MetricType, Definition] = {}
    for definition in catalog:
        firsts.setdefault(definition.type, definition)
    return [
        Rung(
            d.key,
            name_of(d, language.id),
            description_of(d, language.id),
            language.badge(badge_svg_path(d.key, BadgeState.LOCKED)),
        )
        for d in sorted(firsts.values(), key=lambda d: d.position)
    ]


def link_query(request: Request[Any, Any, Any], settings: Settings, service: MilestoneService, mentor_id: str) -> str:
    """The signed link's query to carry on to the page's other forms ('' when reads need no key).

    Raises KeyRequired when reads need a key and the request's link does not open this mentor's page.
    """
    if not settings.read_requires_key:
        return ""
    expires, given = request.query_params.get(EXPIRES), request.query_params.get(SIGNATURE)
    if not link_opens(settings.page_link_secret, mentor_id, expires, given, service.now()):
        if expires is None and given is None:
            raise KeyRequired(
                "This page needs a signed link: the service's operator makes one with `milestones page-link`.",
                presented=False,
            )
        raise KeyRequired("This link has expired or is not valid; ask for a new one.", presented=True)
    return urlencode({EXPIRES: expires, SIGNATURE: given})


def _answer(body: str, media_type: str) -> Response[str]:
    return Response(body, media_type=media_type)  # cached as the route's policy says


@get(PAGES_PATH + "/{mentor_id:str}", include_in_schema=False, opt=declare(MENTOR_PAGE))
async def mentor_page(request: Request[Any, Any, Any], state: State, mentor_id: MentorIdParam) -> Response[str]:
    """The mentor's page: achieved badges with their dates, and the next milestone of each type."""
    service = service_of(state)
    query = link_query(request, state.settings, service, checked_mentor_id(mentor_id))
    language = language_of_request(request)
    view = await mentor_view(service, mentor_id, language)
    body = render("mentor.html", view=view, lang=language, _=language.words, root="../", query=query)
    return _answer(body, HTML)


@get(PAGES_PATH + "/{mentor_id:str}/card", include_in_schema=False, opt=declare(MENTOR_CARD))
async def mentor_card(request: Request[Any, Any, Any], state: State, mentor_id: MentorIdParam) -> Response[str]:
    """A compact summary for an iframe on the platform's own pages (MILESTONES_EMBED_ORIGINS)."""
    service = service_of(state)
    query = link_query(request, state.settings, service, checked_mentor_id(mentor_id))
    language = language_of_request(request)
    view = await mentor_view(service, mentor_id, language)
    body = render(
        "card.html",
        view=view,
        lang=language,
        _=language.words,
        root="../../",
        query=language.carried(query),
        shown=view.achieved[:CARD_BADGES],
    )
    return _answer(body, HTML)


@get(PAGES_PATH + "/{mentor_id:str}/card.svg", include_in_schema=False, opt=declare(MENTOR_PAGE))
async def mentor_card_image(request: Request[Any, Any, Any], state: State, mentor_id: MentorIdParam) -> Response[str]:
    """The card as one shareable SVG image, with its text alternative in <title> and <desc>."""
    service = service_of(state)
    link_query(request, state.settings, service, checked_mentor_id(mentor_id))
    language = language_of_request(request)
    view = await mentor_view(service, mentor_id, language)

    # An image cannot load other files: the badges are drawn inside it.
    def drawn(key: str, state: str, version: str | None = None) -> Markup:
        # A record's own version's definition: a retired rung is still drawn (never a KeyError).
        definition = service.catalogs.definition(version, key)
        if definition is None:  # only a key no stored version ever defined: nothing to draw
            return Markup("")
        return Markup(badge_svg(definition, 88, BadgeState(state), language.id))  # noqa: S704 (our escaped SVG)

    body = render(
        "card.svg", view=view, lang=language, _=language.words, shown=view.achieved[:CARD_BADGES], drawn=drawn
    )
    return _answer(body, SVG)


PAGE_ROUTES: list[ControllerRouterHandler] = [
    mentor_page,
    mentor_card,
    mentor_card_image,
    # Shipped with the release; a day's caching, as for the docs' assets. Open without a key, as /assets is.
    create_static_files_router(
        STYLESHEET_PATH,
        directories=[STATIC / "pages"],
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86400, public=True),
        opt=declare(PAGE_ASSET),
    ),
]
