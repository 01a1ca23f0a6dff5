"""A milestone as the API shows it: the API's presenters and the events' data shape it here, one way."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from milestones.badges import badge_path
from milestones.catalog import CatalogVersions
from milestones.contract import MilestoneOut
from milestones.domain import MetricType, Milestone, Status, progress
from milestones.wording.labels import accessibility_label, milestone_name
from milestones.wording.languages import ENGLISH


@lru_cache(maxsize=4096)  # thresholds and common values repeat in every listing
def number(value: Decimal) -> float:
    """A JSON number without noise: 100, not 100.0; 312.5, not 312.50."""
    return int(value) if value == value.to_integral_value() else float(value)


def milestone_out(m: Milestone, language: str = ENGLISH, catalogs: CatalogVersions | None = None) -> MilestoneOut:
    """A milestone as served, in a language. `catalogs` (every stored version) give its translated name, from the
    version the record shows, and its badge, which names that version when it draws the rung otherwise than the
    latest does (a retired rung, an older threshold)."""
    # A revoked milestone shows what it was achieved with, as an achieved one does.
    state = None if m.status is not Status.IN_PROGRESS else progress(m)
    key = m.definition_key
    if language == ENGLISH:
        name = m.name
    else:
        name = milestone_name(m, None if catalogs is None else catalogs.definition(m.catalog_version, key), language)
    version = (
        None
        if catalogs is None or m.catalog_version == catalogs.latest_version
        else catalogs.shown_version(m.catalog_version, key)
    )
    out = MilestoneOut(
        id=m.id,
        mentor_id=m.mentor_id,
        name=name,
        type=m.type,
        status=m.status,
        threshold=number(m.threshold),
        accessibility_label=accessibility_label(m, state, language, name),
        badge_image_url=badge_path(key, language) if version is None else badge_path(key, language, version),
    )
    if state is None:
        if m.achieved_value is not None:
            out.achieved_value = number(m.achieved_value)
        if m.achieved_at is not None:
            out.achieved_at = m.achieved_at
        if m.achieved_at_precision is not None:
            out.achieved_at_precision = m.achieved_at_precision
        if m.status is Status.REVOKED:
            if m.revoked_at is not None:
                out.revoked_at = m.revoked_at
            if m.revocation_reason is not None:
                out.revocation_reason = m.revocation_reason
        elif not m.supported:
            out.supported = False
    else:
        out.achieved_value = out.current_value = number(state.current_value)
        out.progress_percentage = state.percentage
        out.remaining = number(state.remaining)
    if m.type is MetricType.CONTACTS_HELPED and m.value_is_upper_bound is not None:
        out.value_is_upper_bound = m.value_is_upper_bound
    return out
