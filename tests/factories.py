"""Small builders of test data: request bodies and domain objects with sensible defaults."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from milestones.domain import Definition, MetricType, Period, Summary
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
) -> dict[str, Any]:
    """A POST /api/v1/milestones body; a calendar year unless dates are given."""
    return {
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
) -> Period:
    end = end or date(start.year, 12, 31)
    return Period(start, end, start.year, Summary(Decimal(hours), contacts, activities))


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
