"""Shapes domain objects into response models; shared by the routes and the fast read path."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, date, datetime

from milestones.badges import badge_path, locked_badge_path
from milestones.catalog import CatalogVersions
from milestones.contract import (
    CrossingOut,
    DefinitionCatalog,
    DefinitionOut,
    DefinitionReportOut,
    EventPage,
    EvidencePeriodOut,
    EvidenceRuleOut,
    HistoryEntryOut,
    HistoryPage,
    HistoryPeriodOut,
    MilestoneEvidenceOut,
    MilestonePage,
    MilestoneReportOut,
    MilestoneStateOut,
    Pagination,
    PeriodOut,
    RecordedPage,
    StalledMentorOut,
    SummaryOut,
    TransitionOut,
)
from milestones.domain import Definition, Milestone, Period, Status, is_mentor_id, mentor_of
from milestones.domain.events import EventWindow, Position
from milestones.domain.explanation import PeriodPart
from milestones.domain.history import HistoryItem, MilestoneState, RecordedTransition
from milestones.domain.rows import from_centi, milestone_version
from milestones.domain.rules import ANY_VERSION
from milestones.events.cloudevents import cloud_event
from milestones.events.milestones import milestone_out as milestone_out
from milestones.events.milestones import number
from milestones.reports import MilestoneReport, Rarity
from milestones.service import InProgress, MilestoneEvidence, Recorded, Window
from milestones.wording.labels import description_of, name_of
from milestones.wording.languages import ENGLISH, tag


def etag(milestone: Milestone, language: str = ENGLISH) -> str:
    """The strong entity tag of a milestone's representation in a language. English keeps the bare version;
    another language adds its tag, so each language's answer has its own."""
    return language_tag(milestone_version(milestone), language)


def language_tag(version: str, language: str) -> str:
    return f'"{version}"' if language == ENGLISH else f'"{version}-{tag(language)}"'


def parse_if_match(header: str | None) -> frozenset[str] | None:
    """The versions an If-Match header accepts: None when absent, ANY_VERSION for '*'. Weak tags never match. A
    tag from an answer in another language names the same version (the language is what follows the first '-')."""
    if header is None:
        return None
    if header.strip() == "*":
        return ANY_VERSION
    tags = (tag.strip() for tag in header.split(","))
    return frozenset(tag[1:-1].partition("-")[0] for tag in tags if len(tag) >= 2 and tag[0] == tag[-1] == '"')


def none_match(header: str | None, entity_tag: str) -> bool:
    """Whether an If-None-Match header names this representation (compared weakly, as RFC 9110 says), so
    the answer is 304."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == entity_tag for tag in header.split(","))


def page_out(
    items: list[Milestone],
    total: int | None,
    window: Window,
    next_after: str | None = None,
    language: str = ENGLISH,
    catalogs: CatalogVersions | None = None,
) -> MilestonePage:
    pagination = Pagination(page=window.page, limit=window.limit)
    if total is not None:
        pagination.total = total
    if next_after is not None:
        pagination.next_cursor = encode_cursor(next_after)
    return MilestonePage(data=[milestone_out(m, language, catalogs) for m in items], pagination=pagination)


def recorded_out(recorded: Recorded, language: str = ENGLISH, catalogs: CatalogVersions | None = None) -> RecordedPage:
    """A POST's answer: the mentor's milestones, and the thresholds the summary lost (fields present when any)."""
    milestones, total = recorded.milestones, len(recorded.milestones)
    page = page_out(milestones, total, Window(1, max(20, total)), None, language, catalogs)
    out = RecordedPage(data=page.data, pagination=page.pagination)
    if recorded.unsupported:
        out.unsupported = recorded.unsupported
    if recorded.revoked:
        out.revoked = recorded.revoked
    return out


def in_progress_page(
    found: InProgress, window: Window, language: str = ENGLISH, catalogs: CatalogVersions | None = None
) -> MilestonePage:
    """The in-progress list: a page whose milestones carry their estimated completion, where there is one."""
    page = page_out(found.items, found.total, window, None, language, catalogs)
    if found.estimates:
        for out in page.data:
            day = found.estimates.get(out.id)
            if day is not None:
                out.estimated_completion = day
    return page


def evidence_out(found: MilestoneEvidence) -> MilestoneEvidenceOut:
    m, explanation = found.milestone, found.explanation
    rule = EvidenceRuleOut(type=m.type, threshold=number(m.threshold))
    if m.catalog_version:
        rule.catalog_version = m.catalog_version
    out = MilestoneEvidenceOut(
        milestone_id=m.id,
        status=m.status,
        rule=rule,
        value=number(from_centi(explanation.value_centi)),
        value_is_upper_bound=explanation.value_is_upper_bound,
        periods=[_part_out(part) for part in explanation.parts],
        set_by_person=m.set_by_person,
    )
    if m.status in (Status.ACHIEVED, Status.REVOKED):  # a revoked milestone keeps what it was achieved with
        if m.achieved_value is not None:
            out.achieved_value = number(m.achieved_value)
        if m.achieved_at is not None:
            out.achieved_at = m.achieved_at
        if m.achieved_at_precision is not None:
            out.achieved_at_precision = m.achieved_at_precision
        crossed = explanation.crossed
        if crossed is not None:
            out.crossed = CrossingOut(
                start_date=date.fromisoformat(crossed.start_date), end_date=date.fromisoformat(crossed.end_date)
            )
            if crossed.day is not None:
                out.crossed.day = date.fromisoformat(crossed.day)
    if found.set_by is not None:
        out.set_by = history_entry_out(found.set_by)
    if found.estimate is not None:
        out.estimated_completion = found.estimate
    return out


def _part_out(part: PeriodPart) -> EvidencePeriodOut:
    out = EvidencePeriodOut(
        start_date=date.fromisoformat(part.start_date),
        end_date=date.fromisoformat(part.end_date),
        value=number(from_centi(part.value_centi)),
    )
    if part.contacts is not None:
        out.contacts = list(part.contacts)
    return out


def encode_cursor(after_id: str) -> str:
    """An opaque resume point for keyset pagination."""
    return base64.urlsafe_b64encode(after_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str | None:
    """The id a cursor resumes after, or None when it is not one of ours."""
    try:
        after_id = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    # Only an id we could have issued: anything else (a NUL byte, say) never reaches the database.
    return after_id if mentor_of(after_id) is not None else None


def decode_mentor_cursor(cursor: str) -> str | None:
    """The mentor id a report's cursor resumes after, or None when it is not one of ours."""
    try:
        after_id = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return after_id if is_mentor_id(after_id) else None


def period_out(p: Period) -> PeriodOut:
    return PeriodOut(
        year=p.year,
        start_date=p.start_date,
        end_date=p.end_date,
        summary=SummaryOut(
            total_hours=number(p.summary.total_hours),
            unique_contacts_helped=p.summary.unique_contacts_helped,
            activity_count=p.summary.activity_count,
        ),
    )


def catalog_out(
    definitions: tuple[Definition, ...], version: str, rarities: dict[str, Rarity], language: str = ENGLISH
) -> DefinitionCatalog:
    return DefinitionCatalog(
        catalog_version=version,
        data=[definition_out(d, rarities.get(d.key, _NOT_HELD), language) for d in definitions],
    )


_NOT_HELD = Rarity(0, 0.0)


def definition_out(d: Definition, rarity: Rarity, language: str = ENGLISH) -> DefinitionOut:
    out = DefinitionOut(
        key=d.key,
        name=name_of(d, language),
        description=description_of(d, language),
        type=d.type,
        threshold=number(d.threshold),
        badge_image_url=badge_path(d.key, language),
        badge_locked_image_url=locked_badge_path(d.key, language),
        achieved_by=rarity.achieved_by,
        achieved_by_share=rarity.achieved_by_share,
    )
    if d.tier is not None:
        out.tier = d.tier
    return out


def rarity_tag(rarities: dict[str, Rarity]) -> str:
    """A short hash of the rarities a definitions answer shows, for its ETag: a write that moves a count changes it."""
    counted = ",".join(f"{key}={r.achieved_by}/{r.achieved_by_share}" for key, r in sorted(rarities.items()))
    return hashlib.blake2b(counted.encode(), digest_size=6).hexdigest()


def milestone_report_out(report: MilestoneReport, limit: int) -> MilestoneReportOut:
    pagination = Pagination(page=1, limit=limit)
    if report.next_after is not None:
        pagination.next_cursor = encode_cursor(report.next_after)
    return MilestoneReportOut(
        catalog_version=report.catalog_version,
        stalled_days=report.stalled_days,
        mentors_with_period=report.mentors_with_period,
        definitions=[DefinitionReportOut(d.key, d.achieved, d.in_progress) for d in report.definitions],
        stalled=[
            StalledMentorOut(m.mentor_id, date.fromisoformat(m.last_period_end), m.in_progress) for m in report.stalled
        ],
        pagination=pagination,
    )


def history_page(items: list[HistoryItem], limit: int, next_after: tuple[int, int] | None) -> HistoryPage:
    pagination = Pagination(page=1, limit=limit)
    if next_after is not None:
        pagination.next_cursor = encode_history_cursor(next_after)
    return HistoryPage(data=[history_entry_out(item) for item in items], pagination=pagination)


def history_entry_out(item: HistoryItem) -> HistoryEntryOut:
    entry, transition = item.entry, item.transition
    out = HistoryEntryOut(
        milestone_id=transition.milestone_id,
        at=entry.at,
        actor=str(entry.actor),
        cause=entry.cause.value,
        transition=transition.kind.value,
        before=_state_out(transition.before),
        after=_state_out(transition.after),
    )
    if entry.request_id is not None:
        out.request_id = entry.request_id
    if entry.period is not None:
        out.period = HistoryPeriodOut(start_date=entry.period[0], end_date=entry.period[1])
    if entry.catalog_version is not None:
        out.catalog_version = entry.catalog_version
    return out


def preview_out(page: RecordedPage, transitions: list[RecordedTransition]) -> RecordedPage:
    """What a POST with `?dry_run=true` answers: the page a POST would answer, and the transitions."""
    return RecordedPage(
        data=page.data,
        pagination=page.pagination,
        unsupported=page.unsupported,
        revoked=page.revoked,
        dry_run=True,
        transitions=[
            TransitionOut(
                milestone_id=t.milestone_id,
                transition=t.kind.value,
                before=_state_out(t.before),
                after=_state_out(t.after),
            )
            for t in transitions
        ],
    )


def _state_out(state: MilestoneState | None) -> MilestoneStateOut | None:
    if state is None:
        return None
    out = MilestoneStateOut(
        status=state.status,
        current_value=number(state.current_value),
        set_by_person=state.set_by_person,
        threshold=number(state.threshold),
    )
    if state.achieved_value is not None:
        out.achieved_value = number(state.achieved_value)
    if state.achieved_at is not None:
        out.achieved_at = state.achieved_at
    if state.revoked_at is not None:
        out.revoked_at = state.revoked_at
    if state.revocation_reason is not None:
        out.revocation_reason = state.revocation_reason
    if state.supported is False:
        out.supported = False
    return out


def encode_history_cursor(after: tuple[int, int]) -> str:
    """An opaque resume point in a history: the entry and the transition in it."""
    return base64.urlsafe_b64encode(f"{after[0]}.{after[1]}".encode()).decode().rstrip("=")


def decode_history_cursor(cursor: str) -> tuple[int, int] | None:
    """The position a history cursor resumes after, or None when it is not one of ours."""
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    entry, dot, index = text.partition(".")
    if not (dot and text.isascii() and entry.isdigit() and index.isdigit() and len(entry) <= 18 and len(index) <= 6):
        return None
    return int(entry), int(index)


def event_page(window: EventWindow, limit: int, source: str, catalogs: CatalogVersions) -> EventPage:
    """A page of the feed: the events as CloudEvents, and the cursor to resume with (always: a follower keeps
    polling with it, and an empty page's cursor moves up to the horizon)."""
    pagination = Pagination(page=1, limit=limit, next_cursor=encode_event_cursor(window.resume, window.resume_at))
    return EventPage(data=[cloud_event(e, source, catalogs) for e in window.events], pagination=pagination)


def encode_event_cursor(position: Position, at: datetime) -> str:
    """An opaque place in the feed: the position, and the time it is from (for the retention's 410)."""
    txid, row, index = position
    text = f"{txid}.{row}.{index + 1}.{int(at.timestamp())}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_event_cursor(cursor: str) -> tuple[Position, datetime] | None:
    """The position and time a feed cursor names, or None when it is not one of ours."""
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    parts = text.split(".")
    if len(parts) != 4 or not all(part.isascii() and part.isdigit() and len(part) <= 20 for part in parts):
        return None
    txid, row, index, seconds = map(int, parts)
    if txid >= 1 << 63 or row >= 1 << 63 or seconds > 253_402_300_799:  # beyond xid8, bigint, or year 9999
        return None
    return (txid, row, index - 1), datetime.fromtimestamp(seconds, UTC)
