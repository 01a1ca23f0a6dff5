"""Request and response models of the HTTP API; the OpenAPI document is generated from these."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from milestones.domain import (
    MAX_PERIOD_DAYS,
    MAX_REASON,
    MENTOR_ID_PATTERN,
    Evidence,
    MetricType,
    Period,
    Precision,
    Status,
    Summary,
    Tier,
    is_mentor_id,
)
from milestones.domain.evidence import day_totals, evidence_problems, period_contacts

MAX_HOURS = 1_000_000
MAX_COUNT = 10_000_000
MAX_VALUE = 1_000_000_000_000
# Identifiers and dated activities one summary may carry.
MAX_EVIDENCE = 10_000
MAX_DISPLAY_NAME = 200
# The POST summary route's body limit: the longest compact body with 10,000 identifiers of 128 characters and
# 10,000 activities naming one, every character of them escaped (5.4 MiB), rounded up. Other routes keep
# MILESTONES_MAX_BODY_BYTES.
SUMMARY_MAX_BODY_BYTES = 6 * 1024 * 1024

# What each field must be, in the words a validation error uses (`Meta.extra["rule"]`); a field whose type
# cannot say everything also names a `check`, run by the struct and by `decode_strict` alike.
MENTOR_ID_RULE = "must be 1 to 128 letters, digits or . _ : @ - (and not . or ..)"
DATE_RULE = "must be a date, as YYYY-MM-DD (for example 2025-12-31)"
HOURS_RULE = f"must be a number from 0 to {MAX_HOURS:,} with at most 2 decimal places"
COUNT_RULE = f"must be a whole number from 0 to {MAX_COUNT:,}"
YEAR_RULE = "must be a whole number from 1 to 9999"
STATUS_RULE = "must be achieved, in_progress or revoked"
REASON_RULE = f"must be 1 to {MAX_REASON} characters, not only spaces"
VALUE_RULE = f"must be a number from 0 to {MAX_VALUE:,} with at most 2 decimal places"
MOMENT_RULE = "must be a date and time with its time zone, as 2026-01-03T09:00:00Z"
CONTACT_RULE = "must be 1 to 128 visible characters (no spaces), or a hash written sha256: and 64 lowercase hex digits"
CONTACTS_RULE = f"must be a list of at most {MAX_EVIDENCE:,} contact identifiers"
ACTIVITIES_RULE = f"must be a list of at most {MAX_EVIDENCE:,} activities, each with date and hours, and maybe contact"
DISPLAY_NAME_RULE = f"must be 1 to {MAX_DISPLAY_NAME} characters, not only spaces, without control characters"
# Visible ASCII; an identifier that starts "sha256:" must be a whole hash, so that plain and hashed never mix unseen.
ESTIMATE_DESCRIPTION = (
    "An estimate, not a promise: the day the remaining amount is reached at the mentor's pace so far (the value over "
    "the days from their first period's start to their last period's end), counted from the later of that end and "
    "today. Left out without a pace, when the last period ended more than a year ago, or when it would be more "
    "than ten years away"
)
CONTACT_PATTERN = r"^(sha256:[0-9a-f]{64}|(?!sha256:)[\x21-\x7e]{1,128})$"


def exact(value: float) -> Decimal:
    """The decimal a JSON number was written as: repr is the shortest text that round-trips (312.57, not
    312.569999...)."""
    return Decimal(repr(value))


def has_two_decimals_at_most(value: float) -> bool:
    return exact(value).as_tuple().exponent >= -2  # type: ignore[operator]


def is_whole(value: float) -> bool:
    return float(value).is_integer()


def iso_date(text: str) -> date | None:
    """A YYYY-MM-DD date given as text (a path or query parameter), or None when it is not one."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None  # date.fromisoformat would also take 20250101 and 2025-W01-1
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def is_display_name(text: str) -> bool:
    """1 to 200 characters with something to read, and none that a page or a log line should not hold."""
    return bool(text.strip()) and not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def is_reason(text: str) -> bool:
    return bool(text.strip()) and len(text) <= MAX_REASON


def has_a_utc_equivalent(moment: datetime) -> bool:
    """0001-01-01T00:00:00+05:00 is valid RFC 3339 but has no UTC equivalent in Python."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


MentorId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=128,
        pattern=MENTOR_ID_PATTERN,
        description="1 to 128 characters: letters, digits and . _ : @ - (not . or ..)",
        examples=["mentor_001"],
        extra={"rule": MENTOR_ID_RULE},
    ),
]
# multipleOf only in the document: msgspec's own check would refuse 312.57, whose float is not a multiple of 0.01.
Hours = Annotated[
    float,
    Meta(
        ge=0,
        le=MAX_HOURS,
        description="At most 2 decimal places.",
        extra_json_schema={"extra": {"multipleOf": 0.01}},
        extra={"rule": HOURS_RULE, "check": has_two_decimals_at_most},
    ),
]
Count = Annotated[
    float,
    Meta(
        ge=0,
        le=MAX_COUNT,
        description="A whole number (47 and 47.0 are both fine).",
        extra_json_schema={"extra": {"multipleOf": 1}},
        extra={"rule": COUNT_RULE, "check": is_whole},
    ),
]
Year = Annotated[int, Meta(ge=1, le=9999, extra={"rule": YEAR_RULE})]
Day = Annotated[date, Meta(extra={"rule": DATE_RULE})]
AchievedValue = Annotated[
    float,
    Meta(
        ge=0,
        le=MAX_VALUE,
        extra_json_schema={"extra": {"minimum": 0, "multipleOf": 0.01}},
        extra={"rule": VALUE_RULE, "check": has_two_decimals_at_most},
    ),
]
Moment = Annotated[datetime, Meta(tz=True, extra={"rule": MOMENT_RULE, "check": has_a_utc_equivalent})]
StatusValue = Annotated[Status, Meta(extra={"rule": STATUS_RULE})]
Reason = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_REASON,
        examples=["Hours were double-counted in the October summary"],
        extra={"rule": REASON_RULE, "check": is_reason},
    ),
]
Contact = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=128,
        pattern=CONTACT_PATTERN,
        description=(
            "An opaque identifier of a person helped, or sha256:<64 lowercase hex> of one under the platform's salt"
        ),
        examples=["c-17"],
        extra={"rule": CONTACT_RULE},
    ),
]
DisplayName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_DISPLAY_NAME,
        examples=["Ada Lovelace"],
        extra={"rule": DISPLAY_NAME_RULE, "check": is_display_name},
    ),
]
# Request structs refuse unknown fields (forbid_unknown_fields); this tells the OpenAPI document so.
Closed = Meta(extra_json_schema={"extra": {"additionalProperties": False}})
# Litestar leaves a zero lower bound out of the document on optional fields; this restates it.
_MINIMUM_ZERO = {"extra": {"minimum": 0}}

T = TypeVar("T")


def described(text: str) -> Meta:
    """A field's description in the OpenAPI document."""
    return Meta(description=text)


class FieldError(Struct):
    """One reason a request was refused, naming the offending field."""

    field: Annotated[str, described("The field or parameter, as a dotted path for body fields (summary.total_hours)")]
    message: Annotated[str, described("What the value must be, in plain words")]


class ProblemDetails(Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem details document."""

    type: Annotated[
        str, described("The problem type: a URI reference whose page (GET it) says what it means and how to fix it")
    ]
    title: Annotated[str, described("A short summary of the problem type, the same for every problem of the type")]
    status: Annotated[int, Meta(ge=400, le=599, description="The HTTP status code")]
    detail: Annotated[str, described("What went wrong with this request")]
    errors: Annotated[list[FieldError], described("Every invalid field, on 422 and some 400 answers")] | UnsetType = (
        UNSET
    )


class RequestInvalid(Exception):
    """A body or query that cannot be accepted; rendered as 400 (malformed) or 422 (invalid)."""

    def __init__(self, detail: str, errors: list[FieldError], *, malformed: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.status = 400 if malformed else 422


class MalformedBody(RequestInvalid):
    """A body that is no JSON document at all (400): why, in plain words, and where the text stopped making
    sense (line, column), when it did somewhere."""

    def __init__(self, reason: str, position: tuple[int, int] | None = None) -> None:
        where = "" if position is None else f" at line {position[0]}, column {position[1]}"
        super().__init__(f"The body {reason}{where}.", [FieldError("body", reason + where)], malformed=True)
        self.reason = reason
        self.position = position


class PeriodIn(Struct, forbid_unknown_fields=True):
    """The period a summary covers: at most 366 days, inclusive."""

    year: Annotated[Year, described("The year of start_date")]
    start_date: Annotated[Day, described("First day of the period (inclusive)")]
    end_date: Annotated[Day, described("Last day of the period (inclusive), not before start_date")]


class SummaryIn(Struct, forbid_unknown_fields=True):
    """What the mentor did in the period."""

    total_hours: Annotated[Hours, described("Hours mentored in the period, at most 2 decimal places")]
    unique_contacts_helped: Annotated[Count, described("Distinct people the mentor helped in the period")]
    activity_count: Annotated[Count, described("Mentoring activities (sessions, reviews, ...) in the period")]

    def __post_init__(self) -> None:
        _check_fields(self)


class ActivityIn(Struct, forbid_unknown_fields=True):
    """One dated activity of the period."""

    date: Annotated[Day, described("The day it happened, within the period")]
    hours: Annotated[Hours, described("Its hours, at most 2 decimal places")]
    contact: Annotated[Contact, described("Who was helped, as in `contacts`")] | UnsetType = UNSET

    def __post_init__(self) -> None:
        _check_fields(self)


Contacts = Annotated[
    list[Contact],
    Meta(
        max_length=MAX_EVIDENCE,
        description=(
            "The period's contact identifiers (optional): opaque strings, or salted sha256: hashes; all of a "
            "mentor's of one kind. With them, unique_contacts_helped must be their number of distinct entries, "
            "and the mentor's lifetime contacts count each person once."
        ),
        extra={"rule": CONTACTS_RULE},
    ),
]
Activities = Annotated[
    list[Annotated[ActivityIn, Closed]],
    Meta(
        max_length=MAX_EVIDENCE,
        description=(
            "The period's dated activity (optional): the summary must agree (total_hours their sum, activity_count "
            "their number, unique_contacts_helped their distinct contacts when each names one). A milestone it "
            "achieves is dated the day its running total crossed the threshold."
        ),
        extra={"rule": ACTIVITIES_RULE},
    ),
]


class RecordSummaryIn(Struct, forbid_unknown_fields=True):
    """A mentor's summary for one period, as the platform sends it."""

    mentor_id: Annotated[MentorId, described("The platform's id for the mentor")]
    period: Annotated[PeriodIn, Closed]
    summary: Annotated[SummaryIn, Closed]
    contacts: Contacts | UnsetType = UNSET
    activities: Activities | UnsetType = UNSET
    mentor_display_name: (
        Annotated[
            DisplayName,
            Meta(description="The mentor's name as their page shows it (optional; the latest one sent is kept)"),
        ]
        | UnsetType
    ) = UNSET

    def __post_init__(self) -> None:
        if not is_mentor_id(self.mentor_id):
            raise ValueError(f"`mentor_id` {MENTOR_ID_RULE}")
        p = self.period
        problems = []
        if p.end_date < p.start_date:
            problems.append("`period.end_date` must not be before period.start_date")
        elif (p.end_date - p.start_date).days + 1 > MAX_PERIOD_DAYS:
            problems.append(f"`period.end_date` is too far: a period spans at most {MAX_PERIOD_DAYS} days")
        if p.year != p.start_date.year:
            problems.append("`period.year` must be the year of period.start_date")
        if isinstance(self.mentor_display_name, str) and not is_display_name(self.mentor_display_name):
            problems.append(f"`mentor_display_name` {DISPLAY_NAME_RULE}")
        if self.contacts is not UNSET or self.activities is not UNSET:
            s = self.summary
            problems.extend(
                f"`{where}` {what}"
                for where, what in evidence_problems(
                    p.start_date,
                    p.end_date,
                    exact(s.total_hours),
                    int(s.unique_contacts_helped),
                    int(s.activity_count),
                    self._contacts,
                    self._activities,
                )
            )
        if problems:
            raise ValueError(_JOINED.join(problems))

    @property
    def _contacts(self) -> list[str] | None:
        return None if isinstance(self.contacts, UnsetType) else self.contacts

    @property
    def _activities(self) -> list[tuple[date, Decimal, str | None]] | None:
        if isinstance(self.activities, UnsetType):
            return None
        return [
            (a.date, exact(a.hours), None if isinstance(a.contact, UnsetType) else a.contact) for a in self.activities
        ]

    @property
    def display_name(self) -> str | None:
        return None if isinstance(self.mentor_display_name, UnsetType) else self.mentor_display_name

    def to_period(self) -> Period:
        activities = self._activities
        return Period(
            start_date=self.period.start_date,
            end_date=self.period.end_date,
            year=self.period.year,
            summary=Summary(
                total_hours=exact(self.summary.total_hours),
                unique_contacts_helped=int(self.summary.unique_contacts_helped),
                activity_count=int(self.summary.activity_count),
            ),
            evidence=Evidence(period_contacts(self._contacts, activities), day_totals(activities)),
        )


class MentorUpdateIn(Struct, forbid_unknown_fields=True):
    """What a platform may change about a mentor without posting a summary."""

    display_name: Annotated[
        DisplayName | None, Meta(description="The name their page shows (1 to 200 characters); null clears it")
    ]

    def __post_init__(self) -> None:
        if self.display_name is not None and not is_display_name(self.display_name):
            raise ValueError(f"`display_name` {DISPLAY_NAME_RULE}")


class MentorOut(Struct, kw_only=True, omit_defaults=True):
    """A mentor as stored: their id and, when the platform gave one, their name."""

    mentor_id: Annotated[str, described("The platform's id for the mentor")]
    display_name: Annotated[str, described("The name their page shows; left out when none is stored")] | UnsetType = (
        UNSET
    )


# A milestone's states and what moves it between them, for the OpenAPI document (the README has the same table).
MILESTONE_STATES = """
## A milestone's states

A milestone is **in progress**, **achieved**, **revoked** (taken back: it keeps its id, history, value and dates,
and gains `revoked_at` and `revocation_reason`) or **deleted** (no record; its history stays). An achieved
milestone carries `supported: false` while a correction keeps the mentor's value below its threshold.

| from | to | what moves it | history's `transition` |
| --- | --- | --- | --- |
| (none) | in progress | detection: the lowest unreached rung of its type | `created` |
| (none), in progress | achieved | detection: the value reaches the threshold; a person's PUT `achieved` \
| `achieved`, `updated` |
| achieved | in progress | a person's PUT `in_progress`, only below the threshold | `updated` |
| achieved | achieved, `supported: false` | a correction or removed period takes the value below the threshold \
(MILESTONES_ON_LOST_THRESHOLD=keep) | `unsupported` |
| achieved, `supported: false` | achieved | the values reach the threshold again | `supported` |
| achieved | revoked | a person's PUT `revoked` with a `reason`; a lost threshold under \
MILESTONES_ON_LOST_THRESHOLD=revoke (reason `data corrected`) | `revoked` |
| revoked | achieved | a person's PUT `achieved` | `reinstated` |
| any | deleted | a person's DELETE, or a record the rules no longer keep | `deleted` |
| deleted | in progress, achieved | a later summary that earns it again | `created`, `achieved` |

Revoking a milestone in progress, and PUT `in_progress` on a revoked one, are refused (422). Detection never awards a
revoked milestone again. Lists leave revoked milestones out unless asked for with `status=revoked`.
"""


class MilestoneUpdateIn(Struct, forbid_unknown_fields=True):
    """A partial update: fields left out keep their values."""

    status: (
        Annotated[
            StatusValue,
            described(
                "achieved (a revoked milestone is reinstated), in_progress (only below the threshold, never on a "
                "revoked milestone), or revoked (only an achieved milestone; with `reason`)"
            ),
        ]
        | UnsetType
    ) = UNSET
    reason: (
        Annotated[Reason, described("Why the milestone is revoked (1 to 500 characters): with status revoked only")]
        | UnsetType
    ) = UNSET
    achieved_value: Annotated[AchievedValue, described("The value the milestone was achieved with")] | UnsetType = UNSET
    achieved_at: (
        Annotated[Moment, described("When it was achieved, with a time zone; not in the future")] | UnsetType
    ) = UNSET

    def __post_init__(self) -> None:
        _check_fields(self)


class Pagination(Struct, kw_only=True, omit_defaults=True):
    """Where this page sits in the listing."""

    page: Annotated[int, described("This page's number, from 1")]
    limit: Annotated[int, described("Items per page")]
    # Left out of a cursor walk, which does not count.
    total: Annotated[int, described("Matching items in all pages (left out of a cursor walk)")] | UnsetType = UNSET
    # Present when more items follow in id order: pass it as `cursor` to get them.
    next_cursor: (
        Annotated[str, described("Present when more items follow: pass it as `cursor` for the next page")] | UnsetType
    ) = UNSET


class MilestoneOut(Struct, kw_only=True, omit_defaults=True):
    """A milestone as served; fields that do not apply to its status are left out."""

    id: Annotated[str, described("The milestone's id: the mentor's id, ~, and the definition's key")]
    mentor_id: Annotated[str, described("The mentor it belongs to")]
    name: Annotated[str, described("The milestone's name, from the catalog")]
    type: Annotated[MetricType, described("What it counts: hours, unique contacts or activities")]
    status: Annotated[
        Status,
        described("achieved, in_progress, or revoked (listed only when asked for with status=revoked)"),
    ]
    threshold: Annotated[float, described("The value that achieves it")]
    achieved_value: (
        Annotated[
            float,
            described("Achieved or revoked: the value it was achieved with; in progress: the value so far"),
        ]
        | UnsetType
    ) = UNSET
    achieved_at: Annotated[datetime, described("When it was achieved (UTC); achieved or revoked only")] | UnsetType = (
        UNSET
    )
    current_value: Annotated[float, described("The mentor's value so far; in progress only")] | UnsetType = UNSET
    revoked_at: Annotated[datetime, described("When it was revoked (UTC); revoked only")] | UnsetType = UNSET
    revocation_reason: Annotated[str, described("Why it was revoked; revoked only")] | UnsetType = UNSET
    supported: (
        Annotated[
            bool,
            described(
                "Achieved only, and present only when false: a correction or a removed period took the mentor's "
                "value below the threshold it was achieved at (MILESTONES_ON_LOST_THRESHOLD=keep); it stays "
                "achieved until the values reach it again"
            ),
        ]
        | UnsetType
    ) = UNSET
    achieved_at_precision: (
        Annotated[
            Precision,
            described(
                "How achieved_at was found; achieved only: `day` (dated activity shows the day the threshold was "
                "crossed), `period_end` (the end of the period whose summary crossed it), `detected` (the time it "
                "was detected, when earlier) or `set_by_person`"
            ),
        ]
        | UnsetType
    ) = UNSET
    value_is_upper_bound: (
        Annotated[
            bool,
            described(
                "Contacts milestones only: true when counts of two or more periods were summed and any came without "
                "contact identifiers, so one person may be counted more than once"
            ),
        ]
        | UnsetType
    ) = UNSET
    progress_percentage: (
        Annotated[
            int, Meta(ge=0, le=99, extra_json_schema=_MINIMUM_ZERO, description="Percent of the way; in progress only")
        ]
        | UnsetType
    ) = UNSET
    remaining: Annotated[float, described("What is left to reach the threshold; in progress only")] | UnsetType = UNSET
    estimated_completion: (
        Annotated[date, described(ESTIMATE_DESCRIPTION + "; in the in-progress list and the evidence only")] | UnsetType
    ) = UNSET
    accessibility_label: Annotated[str, described("A sentence a screen reader can speak about this milestone")]
    badge_image_url: Annotated[str, described("The badge image (PNG; the same path ending .svg gives the SVG)")]


class MilestonePage(Struct):
    """A page of milestones."""

    data: Annotated[list[MilestoneOut], described("The milestones on this page")]
    pagination: Pagination


class TransitionOut(Struct, kw_only=True):
    """What a write would do to one milestone, as history would record it."""

    milestone_id: Annotated[str, described("The milestone")]
    transition: Annotated[
        str, described("What would happen: created, progressed, achieved, deleted or revised (as in history)")
    ]
    before: Annotated[MilestoneStateOut | None, described("Its state before; null when it does not exist")]
    after: Annotated[MilestoneStateOut | None, described("Its state after; null when it would be removed")]


class RecordedPage(Struct, kw_only=True, omit_defaults=True):
    """The mentor's milestones after a summary was recorded, and the achieved milestones whose threshold a
    correction took the mentor's value below; with `?dry_run=true`, what the POST would store and change (nothing
    was stored, and no history or event written)."""

    data: Annotated[list[MilestoneOut], described("The mentor's milestones (revoked ones left out)")]
    pagination: Pagination
    unsupported: (
        Annotated[
            list[str],
            described(
                "Ids of achieved milestones this summary took the mentor's value below the threshold of; they stay "
                "achieved with `supported: false` (MILESTONES_ON_LOST_THRESHOLD=keep). Present when any"
            ),
        ]
        | UnsetType
    ) = UNSET
    revoked: (
        Annotated[
            list[str],
            described(
                "Ids of achieved milestones this summary revoked for that reason (MILESTONES_ON_LOST_THRESHOLD="
                "revoke, the reason `data corrected`). Present when any"
            ),
        ]
        | UnsetType
    ) = UNSET
    dry_run: (
        Annotated[bool, described("Present, and true, only on `?dry_run=true`: nothing was stored")] | UnsetType
    ) = UNSET
    transitions: (
        Annotated[
            list[TransitionOut],
            described(
                "With `?dry_run=true` only: each milestone the POST would move, and how; empty when nothing would "
                "change"
            ),
        ]
        | UnsetType
    ) = UNSET


class MilestoneDeleted(Struct):
    """The milestone record was removed."""

    deleted: Annotated[bool, described("Always true")]
    id: Annotated[str, described("The removed milestone's id")]


class SummaryOut(Struct):
    """What the mentor did in the period, as stored."""

    total_hours: Annotated[float, described("Hours mentored in the period")]
    unique_contacts_helped: Annotated[int, described("Distinct people helped in the period")]
    activity_count: Annotated[int, described("Mentoring activities in the period")]


class PeriodOut(Struct):
    """A stored period and its summary."""

    year: Annotated[int, described("The year of start_date")]
    start_date: Annotated[date, described("First day (inclusive)")]
    end_date: Annotated[date, described("Last day (inclusive)")]
    summary: SummaryOut


class PeriodList(Struct):
    """A mentor's stored periods, oldest first."""

    data: Annotated[list[PeriodOut], described("The periods")]


class PeriodDeleted(Struct, kw_only=True, omit_defaults=True):
    """The period was removed and the mentor's milestones evaluated again."""

    deleted: Annotated[bool, described("Always true")]
    mentor_id: Annotated[str, described("The mentor")]
    start_date: Annotated[date, described("First day of the removed period")]
    end_date: Annotated[date, described("Last day of the removed period")]
    unsupported: (
        Annotated[
            list[str],
            described(
                "Ids of achieved milestones the removal took the mentor's value below the threshold of (kept, "
                "with `supported: false`). Present when any"
            ),
        ]
        | UnsetType
    ) = UNSET
    revoked: (
        Annotated[
            list[str], described("Ids of achieved milestones the removal revoked for that reason. Present when any")
        ]
        | UnsetType
    ) = UNSET


class MentorErased(Struct):
    """Everything stored about the mentor was removed, in one transaction. The answer names the mentor only by
    the salted hash that history keeps."""

    erased: Annotated[bool, described("Always true")]
    mentor_hash: Annotated[
        str, described("The salted hash (HMAC-SHA256) that names the erased mentor in history, never the id")
    ]
    erased_at: Annotated[datetime, described("When, in UTC")]
    removed: Annotated[
        dict[str, int],
        described(
            "Rows removed, by kind: periods, milestones, history_entries, events, idempotency_records, "
            "mentor_records (the mentor's name), webhook_deliveries (pending ones are cancelled), and whatever "
            "else the service stores about mentors"
        ),
    ]


class _NamesAMentor(Struct):
    mentor_id: str


_MENTOR_NAMED = msgspec.json.Decoder(_NamesAMentor)


def mentor_named_in(body: bytes) -> str | None:
    """The mentor_id a JSON request body names, if it names a valid one (the rest of the body is not
    validated here: an invalid body is refused later, and names no mentor whose data could be stored)."""
    try:
        mentor_id = _MENTOR_NAMED.decode(body).mentor_id
    except msgspec.DecodeError:
        return None
    return mentor_id if is_mentor_id(mentor_id) else None


class MilestoneStateOut(Struct, kw_only=True, omit_defaults=True):
    """A milestone's stored state at one moment, as history keeps it."""

    status: Annotated[Status, described("achieved, in_progress or revoked")]
    current_value: Annotated[float, described("The mentor's value of the milestone's metric")]
    achieved_value: Annotated[float, described("The value it was achieved with; achieved only")] | UnsetType = UNSET
    achieved_at: Annotated[datetime, described("When it was achieved (UTC); achieved only")] | UnsetType = UNSET
    set_by_person: Annotated[bool, described("A person set it with PUT; detection no longer moves it")]
    threshold: Annotated[float, described("The value that achieves it")]
    revoked_at: Annotated[datetime, described("When it was revoked (UTC); revoked only")] | UnsetType = UNSET
    revocation_reason: Annotated[str, described("Why it was revoked; revoked only")] | UnsetType = UNSET
    supported: (
        Annotated[bool, described("Achieved only, present when false: the values no longer reach its threshold")]
        | UnsetType
    ) = UNSET


class HistoryPeriodOut(Struct):
    """The period a summary recorded, or a removal removed."""

    start_date: Annotated[date, described("First day (inclusive)")]
    end_date: Annotated[date, described("Last day (inclusive)")]


class HistoryEntryOut(Struct, kw_only=True, omit_defaults=True):
    """What one change did to one milestone, who made it and why."""

    milestone_id: Annotated[str, described("The milestone (it may have been deleted since)")]
    at: Annotated[datetime, described("When the change was made (UTC)")]
    actor: Annotated[str, described("Who made it: an access key's id, `anonymous` (no keys configured) or `cli`")]
    request_id: (
        Annotated[str, described("The X-Request-ID of the request that made it; left out for commands")] | UnsetType
    ) = UNSET
    cause: Annotated[
        str,
        described(
            "Why: `post` (a summary), `put`, `delete`, `period_removed`, `bulk` (`milestones detect`) or "
            "`reevaluation` (`milestones reevaluate`, after a catalog change)"
        ),
    ]
    period: Annotated[HistoryPeriodOut, described("The period a summary recorded or a removal removed")] | UnsetType = (
        UNSET
    )
    catalog_version: (
        Annotated[str, described("The catalog version the change was decided under, once recorded")] | UnsetType
    ) = UNSET
    transition: Annotated[
        str,
        described(
            "What happened: `created` (a new record in progress), `progressed` (its value moved), `achieved`, "
            "`updated` (a person's PUT), `deleted`, `revised` (the catalog changed its name, threshold or order), "
            "`revoked` (by a person, or by a correction under MILESTONES_ON_LOST_THRESHOLD=revoke), `reinstated` "
            "(a person set a revoked milestone achieved again), `unsupported` (a correction took the value below "
            "its threshold; it stays achieved) or `supported` (the value reaches its threshold again)"
        ),
    ]
    # Always present: null before a milestone existed, and after it was removed.
    before: Annotated[MilestoneStateOut | None, described("Its state before; null when it did not exist")]
    after: Annotated[MilestoneStateOut | None, described("Its state after; null when it was removed")]


class EvidencePeriodOut(Struct, kw_only=True, omit_defaults=True):
    """One period's part in a milestone's value."""

    start_date: Annotated[date, described("First day (inclusive)")]
    end_date: Annotated[date, described("Last day (inclusive)")]
    value: Annotated[float, described("What this period added to the value")]
    contacts: (
        Annotated[
            list[str],
            described(
                "Exact contacts only: the identifiers first seen in this period (not in an earlier one), in the order "
                "of the day an activity first named them, those without a day last"
            ),
        ]
        | UnsetType
    ) = UNSET


class EvidenceRuleOut(Struct, kw_only=True, omit_defaults=True):
    """The rule that applied: the catalog's definition the record shows."""

    type: Annotated[MetricType, described("What it counts: hours, unique contacts or activities")]
    threshold: Annotated[float, described("The value that achieves it")]
    catalog_version: Annotated[str, described("The catalog version whose definition the record shows")] | UnsetType = (
        UNSET
    )


class CrossingOut(Struct, kw_only=True, omit_defaults=True):
    """Where the value reached the threshold."""

    start_date: Annotated[date, described("First day of the period whose summary crossed the threshold")]
    end_date: Annotated[date, described("Last day of that period")]
    day: (
        Annotated[date, described("The day it was crossed, where the period's dated activity shows it")] | UnsetType
    ) = UNSET


class MilestoneEvidenceOut(Struct, kw_only=True, omit_defaults=True):
    """What a milestone is made of: why it stands where it does."""

    milestone_id: Annotated[str, described("The milestone")]
    status: Annotated[Status, described("achieved, in_progress or revoked")]
    rule: EvidenceRuleOut
    value: Annotated[
        float,
        described(
            "The mentor's value of the milestone's metric now: the sum of the periods' values (an achieved "
            "milestone keeps the value it was achieved with, `achieved_value`)"
        ),
    ]
    value_is_upper_bound: Annotated[
        bool,
        described(
            "true when counts of two or more periods were summed and any came without contact identifiers, so one "
            "person may be counted more than once; false when the value is exact"
        ),
    ]
    periods: Annotated[list[EvidencePeriodOut], described("The periods the value is made of, in date order")]
    achieved_value: Annotated[float, described("The value it was achieved with; achieved only")] | UnsetType = UNSET
    achieved_at: Annotated[datetime, described("When it was achieved (UTC); achieved only")] | UnsetType = UNSET
    achieved_at_precision: (
        Annotated[Precision, described("How achieved_at was found, as on the milestone; achieved only")] | UnsetType
    ) = UNSET
    crossed: (
        Annotated[
            CrossingOut,
            described(
                "Achieved only: the period (and, where known, the day) in which the periods' running total reached "
                "the threshold; left out when they do not reach it (a person set it, or periods were corrected)"
            ),
        ]
        | UnsetType
    ) = UNSET
    set_by_person: Annotated[bool, described("A person set it with PUT; detection no longer moves it")]
    set_by: (
        Annotated[
            HistoryEntryOut,
            described("The history entry of the PUT that set it, while history keeps it; set by a person only"),
        ]
        | UnsetType
    ) = UNSET
    estimated_completion: Annotated[date, described(ESTIMATE_DESCRIPTION + "; in progress only")] | UnsetType = UNSET


class HistoryPage(Struct):
    """A page of history, oldest first; `pagination.next_cursor` resumes it."""

    data: Annotated[list[HistoryEntryOut], described("The entries on this page, oldest first")]
    pagination: Pagination


class EventDataOut(Struct, kw_only=True, omit_defaults=True):
    """What happened: the milestone as the API shows it (in English), or the erased mentor's hash; who and why."""

    milestone_id: Annotated[str, described("The milestone; milestone events only")] | UnsetType = UNSET
    mentor_id: Annotated[str, described("The mentor; milestone events only")] | UnsetType = UNSET
    mentor_hash: (
        Annotated[str, described("mentor.erased: the salted hash (HMAC-SHA256) that names the erased mentor")]
        | UnsetType
    ) = UNSET
    transition: (
        Annotated[
            str, described("The transition: created, progressed, achieved, updated, deleted, revoked, reinstated")
        ]
        | UnsetType
    ) = UNSET
    milestone: (
        Annotated[
            MilestoneOut,
            described("The milestone as the API shows it, in English: after the change, or as it was when deleted"),
        ]
        | UnsetType
    ) = UNSET
    cause: Annotated[
        str,
        described(
            "Why: post, put, delete, period_removed, bulk (`milestones detect`), reevaluation (`milestones "
            "reevaluate`) or erasure"
        ),
    ]
    actor: Annotated[str, described("Who: an access key's id, `anonymous` (no keys configured) or `cli`")]
    request_id: (
        Annotated[str, described("The X-Request-ID of the request that made it; left out for commands")] | UnsetType
    ) = UNSET
    catalog_version: (
        Annotated[str, described("The catalog version the change was decided under, once recorded")] | UnsetType
    ) = UNSET
    notify: Annotated[bool, described("False when the change asked not to be pushed (`milestones detect --no-notify`)")]


class EventOut(Struct, kw_only=True, omit_defaults=True):
    """One event as a CloudEvents 1.0 JSON envelope."""

    specversion: Annotated[Literal["1.0"], described("The CloudEvents version")]
    id: Annotated[str, described("The event's id, unique in this service")]
    source: Annotated[str, described("The service: MILESTONES_PUBLIC_URL, or /milestones")]
    type: Annotated[
        str,
        described(
            "milestone.achieved, milestone.progressed, milestone.updated, milestone.deleted, milestone.revoked, "
            "milestone.reinstated or mentor.erased"
        ),
    ]
    time: Annotated[datetime, described("When the change was made (UTC)")]
    subject: Annotated[str, described("The milestone's id; for mentor.erased, the mentor's salted hash")]
    datacontenttype: Annotated[Literal["application/json"], described("Always application/json")]
    data: EventDataOut


class EventPage(Struct):
    """A page of the event feed, in commit order; `pagination.next_cursor` resumes it (always present)."""

    data: Annotated[list[EventOut], described("The events on this page, oldest first")]
    pagination: Pagination


class DefinitionOut(Struct, kw_only=True, omit_defaults=True):
    """One rung of the catalog: what it takes, and where its badge is."""

    key: Annotated[str, described("The definition's key, the end of its milestones' ids")]
    name: Annotated[str, described("The milestone's name")]
    description: Annotated[str, described("What it takes, in a sentence")]
    type: Annotated[MetricType, described("What it counts")]
    threshold: Annotated[float, described("The value that achieves it")]
    # Left out when the catalog names no tier for it.
    tier: (
        Annotated[Tier, described("Its tier (the badge's colours); left out when the catalog names none")] | UnsetType
    ) = UNSET
    badge_image_url: Annotated[str, described("The badge (PNG; .svg for the SVG)")]
    badge_locked_image_url: Annotated[str, described("The greyed, not yet achieved badge")]
    # Rarity: aggregates that name no mentor, so public with the catalog.
    achieved_by: Annotated[
        int, Meta(ge=0, description="How many mentors hold it achieved (revoked records are not counted)")
    ]
    achieved_by_share: Annotated[
        float,
        Meta(
            ge=0, le=1, description="achieved_by over the mentors with a stored period, 0 to 1 (0 while there are none)"
        ),
    ]


class DefinitionCatalog(Struct):
    """Every milestone that can be reached, in catalog order."""

    catalog_version: Annotated[
        str, Meta(description="A content hash of the catalog: it changes when any definition does")
    ]
    data: Annotated[list[DefinitionOut], described("The definitions, in catalog order")]


class DefinitionReportOut(Struct):
    """One definition's line of the milestone report."""

    key: Annotated[str, described("The definition's key")]
    achieved: Annotated[int, Meta(ge=0, description="Mentors who hold it achieved (revoked records not counted)")]
    in_progress: Annotated[int, Meta(ge=0, description="Mentors on their way to it")]


class StalledMentorOut(Struct):
    """A mentor whose latest period ended more than `stalled_days` ago while a rung is in progress."""

    mentor_id: Annotated[str, described("The platform's id for the mentor")]
    last_period_end: Annotated[date, described("The end of the mentor's latest stored period")]
    in_progress: Annotated[list[str], described("The keys of the definitions in progress, in catalog order")]


class MilestoneReportOut(Struct):
    """The program's milestone report: per definition, mentors achieved and in progress; a page of stalled mentors."""

    catalog_version: Annotated[str, described("The catalog version whose definitions are reported")]
    stalled_days: Annotated[
        int, described("A mentor is stalled when their latest period ended more days ago than this")
    ]
    mentors_with_period: Annotated[int, Meta(ge=0, description="Mentors with a stored period")]
    definitions: Annotated[list[DefinitionReportOut], described("Every definition, in catalog order")]
    stalled: Annotated[list[StalledMentorOut], described("A page of stalled mentors, in mentor id order")]
    pagination: Annotated[Pagination, described("The stalled mentors' page: `next_cursor` when more follow")]


class HealthOut(Struct):
    """The service's state."""

    status: Annotated[str, described("ok (live) or ready")]


# A summary body has 9 keys and 3 string values (mentor_id and the dates, which hold no quotes), so 24
# quotes; each optional field adds its key's two and its strings' (see `_quotes_in`). With no backslash (no
# escapes) and every key of the decoded summary accounted for, one more quote could only open a repeated key,
# which msgspec takes silently (the later value wins) and decode_strict refuses.
_QUOTES_IN_A_SUMMARY = 24

# msgspec's typed decoding: strict about types ("47" is not a number) but blind to repeated keys.
decode_summary = msgspec.json.Decoder(RecordSummaryIn).decode


def _quotes_in(summary: RecordSummaryIn) -> int:
    """The quotes a body holds that writes `summary` once, without escapes."""
    quotes = _QUOTES_IN_A_SUMMARY
    if not isinstance(summary.contacts, UnsetType):
        quotes += 2 + 2 * len(summary.contacts)
    if not isinstance(summary.activities, UnsetType):
        # "activities", then per entry "date", its value and "hours", and "contact" and its value when named.
        quotes += 2 + sum(6 if isinstance(a.contact, UnsetType) else 10 for a in summary.activities)
    if not isinstance(summary.mentor_display_name, UnsetType):
        quotes += 4
    return quotes


def cannot_repeat_a_key(body: bytes, summary: RecordSummaryIn) -> bool:
    """Whether a body that `decode_summary` decoded into `summary` plainly holds no repeated key; when False,
    only `decode_strict` can tell. A cheap test for the hot paths (POST, bulk lines)."""
    if b"\\" in body:
        return False
    quotes = body.count(b'"')
    # 24 can only be a summary alone: every optional field adds its key's quotes.
    return quotes == _QUOTES_IN_A_SUMMARY or quotes == _quotes_in(summary)


def decode_strict(raw: bytes, model: type[T]) -> T:
    """Decode a JSON body with no type coercion, refusing duplicate keys, NaN and Infinity. A body that is not
    valid is refused naming every offending field, each in plain words."""
    document = _parsed(raw)
    errors = field_errors(document, model)
    if not errors:
        try:
            return msgspec.convert(document, model, strict=True)
        except msgspec.ValidationError as exc:  # rules across fields (__post_init__)
            errors = _post_init_errors(str(exc))
    raise RequestInvalid("; ".join(f"{e.field} {e.message}" for e in errors) + ".", errors)


def _parsed(raw: bytes) -> Any:
    """The JSON document a body holds; MalformedBody, in plain words rather than the parser's, when it holds
    none."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"is not UTF-8 text (byte {exc.start + 1} cannot be read as UTF-8)") from None
    if not text.strip():
        raise MalformedBody("is empty; send a JSON object")
    try:
        return json.loads(
            text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant, parse_int=_integer
        )
    except _DuplicateKey as exc:
        raise RequestInvalid("The JSON body repeats a key.", [FieldError(str(exc), "is given twice")]) from exc
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"is not valid JSON: {_json_mistake(exc.msg)}", (exc.lineno, exc.colno)) from None
    except RecursionError:
        raise MalformedBody("is not valid here: its arrays and objects are nested too deeply") from None
    except ValueError as exc:  # NaN or Infinity, from _refuse_constant
        raise MalformedBody(f"is not valid JSON: {exc}") from None


# The json module's messages, as a person would say them.
_JSON_MISTAKES = {
    "Expecting value": "expected a value (an object, array, string, number, true, false or null)",
    "Expecting property name enclosed in double quotes": "expected a field name in double quotes",
    "Expecting ':' delimiter": "expected a colon after the field name",
    "Expecting ',' delimiter": "expected a comma, or the end of the object or array",
    "Unterminated string starting at": "a string is not closed with a double quote",
    "Invalid control character at": "a string holds a control character (a tab or line break must be escaped)",
    "Invalid \\escape": "a string holds a backslash that starts no valid escape",
    "Invalid \\uXXXX escape": "a string holds a \\u escape without four hex digits",
    "Extra data": "more text follows the JSON value",
    "Unexpected UTF-8 BOM (decode using utf-8-sig)": "it starts with a byte order mark; leave that out",
    "Illegal trailing comma before end of object": "a comma comes just before the closing }",
    "Illegal trailing comma before end of array": "a comma comes just before the closing ]",
}


def _json_mistake(message: str) -> str:
    return _JSON_MISTAKES.get(message, "it cannot be read as JSON")


def _integer(text: str) -> int | float:
    """A JSON integer; one too long for Python to read (over 4,300 digits) is out of every field's range, so
    it is taken as infinite, for the field's own rule to refuse in its ordinary words."""
    try:
        return int(text)
    except ValueError:
        return float("-inf") if text.startswith("-") else float("inf")


def field_errors(document: Any, model: type[Any], prefix: str = "") -> list[FieldError]:
    """Every field of `document` that `model` (a request Struct) does not accept, with its rule."""
    if not isinstance(document, dict):
        return [FieldError(prefix or "body", "must be a JSON object")]
    fields = msgspec.structs.fields(model)
    known = {f.encode_name for f in fields}
    errors = [
        FieldError(_joined(prefix, key), "is not a field of this request") for key in document if key not in known
    ]
    for f in fields:
        where = _joined(prefix, f.encode_name)
        if f.encode_name not in document:
            if f.required:
                errors.append(FieldError(where, "is required"))
            continue
        errors.extend(_value_errors(document[f.encode_name], _without_unset(f.type), where))
    return errors


def _value_errors(value: Any, kind: Any, where: str) -> list[FieldError]:
    """Why one value is not of `kind`, naming it (and each bad entry of a list, as `activities[3].hours`)."""
    nested = _struct_of(kind)
    if nested is not None:
        return field_errors(value, nested, where)
    rule, check = _rule_of(kind)
    item = _list_item(kind)
    if item is not None and isinstance(value, list):
        try:
            msgspec.convert(value, kind, strict=True)
        except msgspec.ValidationError:
            found = [e for i, entry in enumerate(value) for e in _value_errors(entry, item, f"{where}[{i}]")]
            return found or [FieldError(where, rule or "is not valid")]
        return []
    try:
        converted = msgspec.convert(value, kind, strict=True)
    except msgspec.ValidationError:
        return [FieldError(where, rule or "is not valid")]
    if check is not None and not check(converted):
        return [FieldError(where, rule or "is not valid")]
    return []


def _list_item(kind: Any) -> Any:
    """The entries' type of a list type (annotated or not), else None."""
    base = get_args(kind)[0] if get_origin(kind) is Annotated else kind
    return get_args(base)[0] if get_origin(base) is list else None


_JOINED = "; "


def _check_fields(struct: Struct) -> None:
    """Run the fields' own checks (`Meta.extra["check"]`), which their types cannot state."""
    for name, encode_name, rule, check in _checks_of(type(struct)):
        value = getattr(struct, name)
        if value is not UNSET and not check(value):
            raise ValueError(f"`{encode_name}` {rule}")


@cache  # runs on every decoded body and bulk line; reading a struct's fields resolves its annotations
def _checks_of(model: type[Struct]) -> tuple[tuple[str, str, str | None, Callable[[Any], bool]], ...]:
    found = []
    for f in msgspec.structs.fields(model):
        rule, check = _rule_of(_without_unset(f.type))
        if check is not None:
            found.append((f.name, f.encode_name, rule, check))
    return tuple(found)


def _post_init_errors(error: str) -> list[FieldError]:
    """msgspec's "`a` rule; `b` rule - at `$.x`" from a __post_init__, as field errors."""
    message, _, path = error.partition(" - at `$")
    prefix = ".".join(p for p in path.rstrip("`").split(".") if p)
    errors = []
    for problem in message.split(_JOINED):
        named = re.match(r"`([\w.]+)` (.*)", problem)
        if named:
            errors.append(FieldError(_joined(prefix, named.group(1)), named.group(2)))
        else:
            errors.append(FieldError(prefix or "body", problem))
    return errors


def _joined(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _without_unset(kind: Any) -> Any:
    """`X | UnsetType` as X: absent is handled before conversion."""
    if get_origin(kind) in (Union, UnionType):
        args = [a for a in get_args(kind) if a is not UnsetType]
        return args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007
    return kind


def _struct_of(kind: Any) -> type[Struct] | None:
    base = get_args(kind)[0] if get_origin(kind) is Annotated else kind
    return base if isinstance(base, type) and issubclass(base, Struct) else None


def _rule_of(kind: Any) -> tuple[str | None, Callable[[Any], bool] | None]:
    """A field's rule in plain words and its extra check, from its `Meta.extra`."""
    if get_origin(kind) is not Annotated:
        return None, None
    for meta in get_args(kind)[1:]:
        if isinstance(meta, Meta) and meta.extra:
            return meta.extra.get("rule"), meta.extra.get("check")
    return None, None


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# --- webhooks (admin) --------------------------------------------------------------------------------------------


class WebhookIn(Struct, forbid_unknown_fields=True):
    """An endpoint to push events to."""

    url: Annotated[str, described("Where events are POSTed: an http or https URL (a public address)")]
    events: (
        Annotated[list[str], described("The event types it takes (milestone.achieved, ...); all when left out")]
        | UnsetType
    ) = UNSET


class WebhookOut(Struct, kw_only=True, omit_defaults=True):
    """A webhook endpoint (never its secret, which is shown once)."""

    id: Annotated[str, described("The endpoint's id (wh_...)")]
    url: Annotated[str, described("Where events are POSTed")]
    events: Annotated[list[str], described("The event types it takes; empty for every type")]
    enabled: Annotated[bool, described("Whether events are delivered to it")]
    created_at: Annotated[datetime, described("When it was added (UTC)")]
    disabled_reason: (
        Annotated[str, described("Why it is disabled: by an operator, or its retries ran out")] | UnsetType
    ) = UNSET


class WebhookSecretOut(Struct, kw_only=True):
    """An endpoint and its signing secret: shown once, when the endpoint is added and when the secret is rotated."""

    webhook: WebhookOut
    secret: Annotated[
        str, described("The signing secret (whsec_ and base64, as the Standard Webhooks specification writes it)")
    ]


class WebhookList(Struct):
    """Every webhook endpoint, oldest first."""

    data: Annotated[list[WebhookOut], described("The endpoints, oldest first")]


class DeliveryOut(Struct, kw_only=True, omit_defaults=True):
    """One event on its way to one endpoint."""

    id: Annotated[int, described("The delivery's id; its webhook-id header is msg_ and this id")]
    webhook_id: Annotated[str, described("The endpoint's id")]
    event_id: Annotated[str, described("The event's id (as in the feed), or test-... for a webhook.test")]
    event_type: Annotated[str, described("The event's type")]
    status: Annotated[str, described("pending, delivered, or failed (its retries ran out)")]
    attempts: Annotated[int, described("Attempts so far")]
    next_attempt_at: Annotated[datetime, described("When it is tried next, while pending")] | UnsetType = UNSET
    last_status_code: Annotated[int, described("The last answer's HTTP status")] | UnsetType = UNSET


class AttemptOut(Struct, kw_only=True, omit_defaults=True):
    """One attempt at a delivery, as the log keeps it (event ids and outcomes, never payloads)."""

    delivery_id: Annotated[int, described("The delivery (POST .../deliveries/{id}/redeliver sends it again)")]
    event_id: Annotated[str, described("The event's id")]
    at: Annotated[datetime, described("When the attempt ended (UTC)")]
    outcome: Annotated[
        str,
        described("delivered (2xx), rejected (another status), timeout, unreachable, or refused (a private address)"),
    ]
    status_code: Annotated[int, described("The receiver's HTTP status, when it answered")] | UnsetType = UNSET
    duration_ms: Annotated[int, described("How long the attempt took, in milliseconds")]


class AttemptPage(Struct):
    """An endpoint's most recent attempts, newest first."""

    data: Annotated[list[AttemptOut], described("The attempts, newest first")]
