"""What the front door decides about a request and leaves in its ASGI scope for the layers inside it: who is
asking (the actor its changes record), the language its answer is worded in, and the route it matched."""

from __future__ import annotations

from typing import Any, cast

from litestar.types import Scope

from milestones.domain.changes import ANONYMOUS, Actor
from milestones.web.route_table import MATCHED, UNMATCHED_READS, RouteMatch
from milestones.wording.languages import ENGLISH

# The id of the key a request presented; absent without one.
ACTOR = "milestones.actor"
# The language the answer is worded in (a locale id, `pt_BR`), when that is not English.
LANGUAGE = "milestones.language"


def actor_of(scope: Scope | dict[str, Any]) -> Actor:
    """Who is making this request, as changes record it: the key, or `anonymous` without keys."""
    key_id = cast(dict[str, Any], scope).get(ACTOR)
    return ANONYMOUS if key_id is None else Actor.of_key(key_id)


def language_of(scope: Scope | dict[str, Any]) -> str:
    """The language to word this request's answer in: from `?locale=`, else Accept-Language, else English."""
    return cast(str, cast(dict[str, Any], scope).get(LANGUAGE, ENGLISH))


def match_of(scope: Scope | dict[str, Any]) -> RouteMatch:
    """The route the front door matched this request to (a request that came another way counts as unmatched)."""
    return cast(RouteMatch, cast(dict[str, Any], scope).get(MATCHED, UNMATCHED_READS))
