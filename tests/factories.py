"""Small builders of test data: request bodies and domain objects with sensible defaults."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from milestones.domain import Definition, Evidence, MetricType, Period, Summary
from milestones.domain.evidence import day_totals, period_contacts
from tests.reference_model import MentorState


def summary_body(
    mentor_id: str = "mentor_001",
    *,
    year: int = 2025,
    start_date: str | None = None,
    end_date: str | None = None,
    hours: Any = 312.5,
    contacts: Any = 47,
    activities: Any = 198,
    identifiers: list[Any] | None = None,
    dated: list[Any] | None = None,
    display_name: Any = None,
) -> dict[str, Any]:
    """A POST /api/v1/milestones body; a calendar year unless dates are given. Optional fields when given:
    `identifiers` (contacts), `dated` (activities as [date, hours, contact or None]), `display_name`."""
    optional: dict[str, Any] = {}
    if identifiers is not None:
        optional["contacts"] = identifiers
    if dated is not None:
        optional["activities"] = [
            {"date": day, "hours": h} | ({} if contact is None else {"contact": contact}) for day, h, contact in dated
        ]
    if display_name is not None:
        optional["mentor_display_name"] = display_name
    return optional | {
        "mentor_id": mentor_id,
        "period": {
            "year": year,
            "start_date": start_date or f"{year}-01-01",
            "end_date": end_date or f"{year}-12-31",
        },
        "summary": {"total_hours": hours, "unique_contacts_helped": contacts, "activity_count": activities},
    }


def period(
    start: date = date(2025, 1, 1),
    end: date | None = None,
    *,
    hours: str = "0",
    contacts: int = 0,
    activities: int = 0,
    identifiers: tuple[str, ...] | None = None,
    days: tuple[tuple[date, str, str | None], ...] | None = None,
) -> Period:
    """A period's summary; with `identifiers` (its contacts) and `days` (dated activities: day, hours, contact)
    as evidence, from which the summary's numbers then follow unless given."""
    end = end or date(start.year, 12, 31)
    if identifiers is None and days is None:
        return Period(start, end, start.year, Summary(Decimal(hours), contacts, activities))
    dated = [(day, Decimal(h), contact) for day, h, contact in days or ()]
    evidence = Evidence(period_contacts(identifiers, dated or None), day_totals(dated or None))
    if dated:
        hours = str(sum((h for _, h, _ in dated), Decimal(0)))
        activities = len(dated)
    if evidence.contacts is not None:
        contacts = len(evidence.contacts)
    return Period(start, end, start.year, Summary(Decimal(hours), contacts, activities), evidence)


def definition(key: str, metric: MetricType, threshold: int | str | Decimal, position: int) -> Definition:
    return Definition(key, f"{threshold} {metric.value}", metric, Decimal(str(threshold)), position)


def ladder() -> tuple[Definition, ...]:
    """A small catalog: three hour rungs, two contact rungs, one activity rung."""
    return (
        definition("100h", MetricType.HOURS_LOGGED, 100, 0),
        definition("300h", MetricType.HOURS_LOGGED, 300, 1),
        definition("500h", MetricType.HOURS_LOGGED, 500, 2),
        definition("25contacts", MetricType.CONTACTS_HELPED, 25, 3),
        definition("50contacts", MetricType.CONTACTS_HELPED, 50, 4),
        definition("100activities", MetricType.ACTIVITY_COUNT, 100, 5),
    )


def mentor_state(mentor_id: str = "mentor_001", *periods: Period) -> MentorState:
    return MentorState(mentor_id=mentor_id, periods=tuple(periods), milestones=())


async def publish_catalog(settings: Any, path: Any) -> None:
    """Publish a catalog file as the latest version in the settings' database, as `milestones catalog publish`."""
    from datetime import UTC, datetime

    from milestones.catalog import catalog_of, load_catalog_file
    from milestones.storage import open_repository

    read = load_catalog_file(path)
    repository = await open_repository(settings)
    try:
        if await repository.latest_catalog_version() is None:
            await repository.add_catalog_version(catalog_of(load_catalog_file().definitions), datetime.now(UTC))
        await repository.add_catalog_version(catalog_of(read.definitions, read.version), datetime.now(UTC))
    finally:
        await repository.close()
