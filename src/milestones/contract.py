"""Request and response models of the HTTP API; the OpenAPI document is generated from these."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from milestones.domain import MAX_PERIOD_DAYS, MetricType, Period, Status, Summary

MENTOR_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,128}$"
_MENTOR_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
MAX_HOURS = 1_000_000
MAX_COUNT = 10_000_000
MAX_VALUE = 1_000_000_000_000

MentorId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=128,
        pattern=MENTOR_ID_PATTERN,
        description="1 to 128 characters: letters, digits and . _ : @ -",
        examples=["mentor_001"],
    ),
]
Hours = Annotated[float, Meta(ge=0, le=MAX_HOURS, description="At most 2 decimal places.")]
Count = Annotated[float, Meta(ge=0, le=MAX_COUNT, description="A whole number (47 and 47.0 are both fine).")]
AwareDatetime = Annotated[datetime, Meta(tz=True)]
# Request structs refuse unknown fields (forbid_unknown_fields); this tells the OpenAPI document so.
Closed = Meta(extra_json_schema={"extra": {"additionalProperties": False}})
# Litestar leaves a zero lower bound out of the document on optional fields; this restates it.
_MINIMUM_ZERO = {"extra": {"minimum": 0}}

T = TypeVar("T")


class FieldError(Struct):
    """One reason a request was refused, naming the offending field."""

    field: str
    message: str


class ProblemDetails(Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem details document."""

    type: str
    title: str
    status: Annotated[int, Meta(ge=400, le=599)]
    detail: str
    errors: list[FieldError] | UnsetType = UNSET


class RequestInvalid(Exception):
    """A body or query that cannot be accepted; rendered as 400 (malformed) or 422 (invalid)."""

    def __init__(self, detail: str, errors: list[FieldError], *, malformed: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.status = 400 if malformed else 422


def is_mentor_id(value: str) -> bool:
    # fullmatch, because the schema pattern's `$` would also accept a trailing newline.
    return _MENTOR_ID.fullmatch(value) is not None


def exact(value: float) -> Decimal:
    """The decimal a JSON number was written as: repr is the shortest text that round-trips (312.57, not
    312.569999...)."""
    return Decimal(repr(value))


def has_two_decimals_at_most(value: float) -> bool:
    return exact(value).as_tuple().exponent >= -2  # type: ignore[operator]


class PeriodIn(Struct, forbid_unknown_fields=True):
    year: Annotated[int, Meta(ge=1, le=9999)]
    start_date: date
    end_date: date


class SummaryIn(Struct, forbid_unknown_fields=True):
    total_hours: Hours
    unique_contacts_helped: Count
    activity_count: Count

    def __post_init__(self) -> None:
        if not has_two_decimals_at_most(self.total_hours):
            raise ValueError("`total_hours` may have at most 2 decimal places")
        for name in ("unique_contacts_helped", "activity_count"):
            if not float(getattr(self, name)).is_integer():
                raise ValueError(f"`{name}` must be a whole number")


class RecordSummaryIn(Struct, forbid_unknown_fields=True):
    """A mentor's summary for one period, as the platform sends it."""

    mentor_id: MentorId
    period: Annotated[PeriodIn, Closed]
    summary: Annotated[SummaryIn, Closed]

    def __post_init__(self) -> None:
        if not is_mentor_id(self.mentor_id):
            raise ValueError("`mentor_id` may hold only letters, digits and . _ : @ -")
        p = self.period
        if p.end_date < p.start_date:
            raise ValueError("`period.end_date` is before start_date")
        if p.year != p.start_date.year:
            raise ValueError("`period.year` must be the year of start_date")
        if (p.end_date - p.start_date).days + 1 > MAX_PERIOD_DAYS:
            raise ValueError(f"`period.end_date` is too far: a period spans at most {MAX_PERIOD_DAYS} days")

    def to_period(self) -> Period:
        return Period(
            start_date=self.period.start_date,
            end_date=self.period.end_date,
            year=self.period.year,
            summary=Summary(
                total_hours=exact(self.summary.total_hours),
                unique_contacts_helped=int(self.summary.unique_contacts_helped),
                activity_count=int(self.summary.activity_count),
            ),
        )


class MilestoneUpdateIn(Struct, forbid_unknown_fields=True):
    """A partial update: fields left out keep their values."""

    status: Status | UnsetType = UNSET
    achieved_value: Annotated[float, Meta(ge=0, le=MAX_VALUE, extra_json_schema=_MINIMUM_ZERO)] | UnsetType = UNSET
    achieved_at: AwareDatetime | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.achieved_value is not UNSET and not has_two_decimals_at_most(self.achieved_value):
            raise ValueError("`achieved_value` may have at most 2 decimal places")
        if self.achieved_at is not UNSET:
            try:
                # 0001-01-01T00:00:00+05:00 is valid RFC 3339 but has no UTC equivalent in Python.
                self.achieved_at.astimezone(UTC)
            except OverflowError:
                raise ValueError("`achieved_at` is out of range once converted to UTC") from None


class Pagination(Struct, kw_only=True, omit_defaults=True):
    page: int
    limit: int
    # Left out of a cursor walk, which does not count.
    total: int | UnsetType = UNSET
    # Present when more items follow in id order: pass it as `cursor` to get them.
    next_cursor: str | UnsetType = UNSET


class MilestoneOut(Struct, kw_only=True, omit_defaults=True):
    """A milestone as served; fields that do not apply to its status are left out."""

    id: str
    mentor_id: str
    name: str
    type: MetricType
    status: Status
    threshold: float
    achieved_value: float | UnsetType = UNSET
    achieved_at: datetime | UnsetType = UNSET
    current_value: float | UnsetType = UNSET
    progress_percentage: Annotated[int, Meta(ge=0, le=99, extra_json_schema=_MINIMUM_ZERO)] | UnsetType = UNSET
    remaining: float | UnsetType = UNSET
    accessibility_label: str
    badge_image_url: str


class MilestonePage(Struct):
    data: list[MilestoneOut]
    pagination: Pagination


class MilestoneDeleted(Struct):
    deleted: bool
    id: str


class SummaryOut(Struct):
    total_hours: float
    unique_contacts_helped: int
    activity_count: int


class PeriodOut(Struct):
    year: int
    start_date: date
    end_date: date
    summary: SummaryOut


class PeriodList(Struct):
    data: list[PeriodOut]


class PeriodDeleted(Struct):
    deleted: bool
    mentor_id: str
    start_date: date
    end_date: date


class HealthOut(Struct):
    status: str


# A summary body has 9 keys and 3 string values (mentor_id and the dates, which hold no quotes), so 24
# quotes. With no backslash (no escapes) and all 9 keys present, as decoding checks, a 25th quote could only
# open a repeated key, which msgspec takes silently (the later value wins) and decode_strict refuses.
_QUOTES_IN_A_SUMMARY = 24

# msgspec's typed decoding: strict about types ("47" is not a number) but blind to repeated keys.
decode_summary = msgspec.json.Decoder(RecordSummaryIn).decode


def cannot_repeat_a_key(body: bytes) -> bool:
    """Whether a summary body that `decode_summary` accepts plainly holds no repeated key; when False, only
    `decode_strict` can tell. A cheap test for the hot paths (POST, bulk lines)."""
    return b"\\" not in body and body.count(b'"') == _QUOTES_IN_A_SUMMARY


def decode_strict(raw: bytes, model: type[T]) -> T:
    """Decode a JSON body with no type coercion, refusing duplicate keys, NaN and Infinity."""
    try:
        document = json.loads(raw, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant)
    except _DuplicateKey as exc:
        raise RequestInvalid("The JSON body repeats a key.", [FieldError(str(exc), "duplicate key")]) from exc
    except (ValueError, RecursionError) as exc:
        raise RequestInvalid(
            "The body is not valid JSON.", [FieldError("body", str(exc)[:200])], malformed=True
        ) from exc
    try:
        return msgspec.convert(document, model, strict=True)
    except msgspec.ValidationError as exc:
        field, message = _field_and_message(str(exc))
        raise RequestInvalid(f"The body is not valid: {field}: {message}.", [FieldError(field, message)]) from exc


def _field_and_message(error: str) -> tuple[str, str]:
    """Turn msgspec's "message - at `$.a.b`" (our checks start with "`field` ...") into a dotted path."""
    message, _, path = error.partition(" - at `$")
    parts = [p for p in path.rstrip("`").split(".") if p]
    named = re.match(r"`([\w.]+)` (.*)", message) or re.search(r"field `(\w+)`", message)
    if named:
        parts.append(named.group(1))
        message = named.group(2) if named.re.pattern.startswith("`") else message
    return ".".join(parts) or "body", message


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
