"""The domain's vocabulary: metrics, statuses, definitions, periods and milestones as the service reads them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

MAX_PERIOD_DAYS = 366
ID_SEPARATOR = "~"
_MENTOR_CHARACTERS = r"[A-Za-z0-9._:@-]{1,128}"
_DEFINITION_KEY_PATTERN = r"[a-z0-9_]{1,40}"
# Not "." or "..": clients resolve such path segments away, so those mentors' URLs could not be reached.
MENTOR_ID_PATTERN = rf"^(?!\.\.?$){_MENTOR_CHARACTERS}$"
_MENTOR_ID = re.compile(MENTOR_ID_PATTERN[1:-1])
_DEFINITION_KEY = re.compile(_DEFINITION_KEY_PATTERN)
# "<mentor_id>~<definition_key>" in one pattern: every GET of one milestone checks it.
_MILESTONE_ID = re.compile(rf"(?!\.\.?~)(?P<mentor>{_MENTOR_CHARACTERS})~{_DEFINITION_KEY_PATTERN}")
_ZERO = Decimal(0)


class MetricType(StrEnum):
    """What a milestone counts."""

    HOURS_LOGGED = "hours_logged"
    CONTACTS_HELPED = "contacts_helped"
    ACTIVITY_COUNT = "activity_count"


class Tier(StrEnum):
    """How high a rung stands on its ladder; a badge takes its colours from it."""

    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"
    DIAMOND = "diamond"


class Precision(StrEnum):
    """How an achieved milestone's date was found."""

    DAY = "day"  # the day dated activity crossed the threshold
    PERIOD_END = "period_end"  # the end of the period whose summary crossed it
    DETECTED = "detected"  # the time it was detected, earlier than either
    SET_BY_PERSON = "set_by_person"  # a person's PUT


class Status(StrEnum):
    """Where a mentor stands on one milestone."""

    ACHIEVED = "achieved"
    IN_PROGRESS = "in_progress"
    # Taken back by a person (PUT) or by the rules (a lost threshold under MILESTONES_ON_LOST_THRESHOLD=revoke):
    # it keeps its dates, detection never awards it again, and only a person's PUT `achieved` reinstates it.
    REVOKED = "revoked"


class LostThreshold(StrEnum):
    """What the rules do with an achieved milestone whose threshold a correction or a removed period takes the
    mentor's value back below (MILESTONES_ON_LOST_THRESHOLD)."""

    KEEP = "keep"  # it stays achieved, marked `supported: false` until the values reach it again
    REVOKE = "revoke"  # it is revoked, with the reason REVOKED_BY_CORRECTION


# The reason a milestone revoked by the rules carries.
REVOKED_BY_CORRECTION = "data corrected"
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class Definition:
    """One rung of the milestone ladder, as the catalog describes it."""

    key: str
    name: str
    type: MetricType
    threshold: Decimal
    position: int
    # Both optional in a catalog: without a description one is worded from the type and threshold, and
    # without a tier the badge takes its type's colours.
    description: str | None = None
    tier: Tier | None = None
    # The catalog's own words in other languages (a custom catalog's [milestone.translations.<locale>]).
    translations: tuple[Translation, ...] = ()
    # What earns it, in the catalog's words: a credential's criteria (its description when absent).
    criteria: str | None = None

    def translation(self, language: str) -> Translation | None:
        return next((t for t in self.translations if t.language == language), None)


@dataclass(frozen=True, slots=True)
class Translation:
    """A definition's name, and optionally its description, in one language (a locale id: `es`, `pt_BR`)."""

    language: str
    name: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """What a mentor did in one period."""

    total_hours: Decimal
    unique_contacts_helped: int
    activity_count: int


@dataclass(frozen=True, slots=True)
class DayTotal:
    """One day's dated activity in a period: its hours and number of activities."""

    day: date
    hours: Decimal
    activities: int


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a period's summary is made of, when the platform sent it.

    `contacts`: the period's distinct contact identifiers (sorted), each with the first day an activity named it
    (None: not dated), or None when the summary came with a count only. `days`: the dated activity, one total
    per day in date order (empty when none was sent).
    """

    contacts: tuple[tuple[str, date | None], ...] | None = None
    days: tuple[DayTotal, ...] = ()


NO_EVIDENCE = Evidence()
HASHED_CONTACT = re.compile(r"sha256:[0-9a-f]{64}")


def is_hashed_contact(contact: str) -> bool:
    """A salted hash (`sha256:<64 hex>`) rather than a plain identifier."""
    return contact.startswith("sha256:") and HASHED_CONTACT.fullmatch(contact) is not None


@dataclass(frozen=True, slots=True)
class Period:
    """A mentor's summary for an inclusive date range; (start_date, end_date) identifies it."""

    start_date: date
    end_date: date
    year: int
    summary: Summary
    evidence: Evidence = NO_EVIDENCE

    @property
    def span(self) -> tuple[date, date]:
        return (self.start_date, self.end_date)


def future_start(start_date: date, today: date) -> str | None:
    """Why a period cannot be recorded yet, if it starts after today: its summary would be stamped with
    today's date before anything in it happened."""
    if start_date <= today:
        return None
    return f"The period starts on {start_date}, after today ({today}); record its summary once it has begun."


@dataclass(frozen=True, slots=True)
class Milestone:
    """A stored milestone of one mentor as it is served: reached, or the next rung being worked towards.

    The rules work on `rows.MilestoneRow` (integer hundredths); this is the same record in exact decimals.
    """

    id: str
    mentor_id: str
    definition_key: str
    name: str
    type: MetricType
    threshold: Decimal
    position: int
    status: Status
    current_value: Decimal
    achieved_value: Decimal | None = None
    achieved_at: datetime | None = None
    # A person's PUT is a decision that later detection must not override.
    set_by_person: bool = False
    # The catalog version whose definition it shows (rows.MilestoneRow.catalog_version).
    catalog_version: str = ""
    # How achieved_at was found (achieved only).
    achieved_at_precision: Precision | None = None
    # A contacts value that sums counts of periods, some without identifiers: the same person may count twice.
    # None where it is not known (a past state that history kept, as the events show it).
    value_is_upper_bound: bool | None = False
    # Revoked only: when, and why.
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    # Achieved only: False while the mentor's value is below the threshold it was achieved at, after a correction
    # or a removed period took it there (MILESTONES_ON_LOST_THRESHOLD=keep).
    supported: bool = True


@dataclass(frozen=True, slots=True)
class Progress:
    """How far an in-progress milestone has come."""

    current_value: Decimal
    percentage: int
    remaining: Decimal


@dataclass(frozen=True, slots=True)
class MilestoneUpdate:
    """A partial update from a person; None means 'leave as it is'."""

    status: Status | None = None
    achieved_value: Decimal | None = None
    achieved_at: datetime | None = None
    # Why a milestone is revoked: required with status `revoked`, taken with it only.
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class MilestoneQuery:
    """Filters and window of a milestone listing; achieved_* bounds are [from, to)."""

    mentor_id: str | None = None
    type: MetricType | None = None
    status: Status | None = None
    achieved_from: datetime | None = None
    achieved_before: datetime | None = None
    # Keyset pagination: only ids after this one, in id order, and no count.
    after_id: str | None = None
    # False: leave out achieved milestones of a type whose higher rung the mentor also achieved.
    superseded: bool = True
    offset: int = 0
    limit: int = 20


def milestone_id(mentor_id: str, definition_key: str) -> str:
    """A stable, URL-safe id for (mentor, definition): "<mentor_id>~<definition_key>".

    "~" can occur in neither part (both are validated), so the id is unique per pair and reads back to it.
    """
    return f"{mentor_id}{ID_SEPARATOR}{definition_key}"


def is_mentor_id(value: str) -> bool:
    """1 to 128 ASCII letters, digits and . _ : @ -, other than "." and ".."."""
    # fullmatch, because a pattern's `$` would also accept a trailing newline.
    return _MENTOR_ID.fullmatch(value) is not None


def is_definition_key(value: str) -> bool:
    """1 to 40 of a-z, 0-9 and _."""
    return _DEFINITION_KEY.fullmatch(value) is not None


def mentor_of(milestone_id: str) -> str | None:
    """The mentor a milestone id names, or None when it cannot be an id of ours (which no database is asked
    about: such an id may hold what a database cannot even store, such as a NUL character)."""
    found = _MILESTONE_ID.fullmatch(milestone_id)
    return None if found is None else found["mentor"]


def progress(milestone: Milestone) -> Progress:
    """Progress towards the threshold: a whole percentage in 0..99 and what is left, never negative."""
    current, threshold = milestone.current_value, milestone.threshold
    percentage = int((current * 100) // threshold) if threshold > 0 else 0
    remaining = threshold - current if current < threshold else _ZERO
    return Progress(current, 99 if percentage > 99 else max(percentage, 0), remaining)


def in_progress_order(milestones: Iterable[Milestone]) -> list[Milestone]:
    """In-progress milestones closest to completion first."""

    def closeness(m: Milestone) -> tuple[int, Decimal, int, str]:
        p = progress(m)
        return (-p.percentage, p.remaining, m.position, m.id)

    return sorted((m for m in milestones if m.status is Status.IN_PROGRESS), key=closeness)
