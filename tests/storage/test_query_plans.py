"""Every hot query is answered from an index; a lost index fails here rather than in production."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from milestones.domain.rows import encode_time
from milestones.settings import Settings
from milestones.storage import MilestoneQuery, queries

pytestmark = pytest.mark.anyio

MENTOR_RANGE = queries.mentor_range("mentor_001")
MENTOR_PAGE = queries.list_milestones(MilestoneQuery(mentor_id="mentor_001"), encode_time)
WALK = queries.list_milestones(MilestoneQuery(after_id="mentor_001~100h"), encode_time)

# (name, sql, parameters) of each query the request paths run.
HOT_QUERIES: list[tuple[str, str, tuple[Any, ...]]] = [
    ("get one", queries.GET_MILESTONE, ("mentor_001~100h",)),
    ("mentor's milestones", queries.MENTOR_MILESTONES, MENTOR_RANGE),
    ("mentor's in progress", queries.MENTOR_MILESTONES_WITH_STATUS, (*MENTOR_RANGE, "in_progress")),
    (
        "mentor's in progress with their periods' span",
        queries.MENTOR_IN_PROGRESS_WITH_SPAN,
        ("mentor_001", "mentor_001", *MENTOR_RANGE),
    ),
    ("mentor's periods", queries.MENTOR_PERIODS, ("mentor_001",)),
    ("mentor's period rows", queries.MENTOR_PERIOD_ROWS, ("mentor_001",)),
    ("mentor's name", queries.MENTOR_DISPLAY_NAME, ("mentor_001",)),
    ("mentor's listing", MENTOR_PAGE.page, tuple(MENTOR_PAGE.page_params)),
    ("cursor walk", WALK.page, (*WALK.page_params, 20, 0)),
    ("idempotency key", queries.GET_IDEMPOTENCY_KEY, ("k",)),
]


A_DAY_AGO = datetime(2026, 3, 1, tzinfo=UTC)
# Bulk detection loads a batch of mentors at once; each database has its own form (and so do times).
BULK_QUERIES: dict[str, list[tuple[str, str, tuple[Any, ...]]]] = {
    "sqlite": [
        ("batch's periods", queries.MENTORS_PERIODS_SQLITE, ('["a", "b"]',)),
        ("batch's milestones", queries.MENTORS_MILESTONES_SQLITE, ('["a", "b"]',)),
        ("expired idempotency keys", queries.DELETE_EXPIRED_IDEMPOTENCY_KEYS, (encode_time(A_DAY_AGO),)),
        ("export's milestone page", queries.MILESTONES_AFTER, ("m~100h", 5000)),
        ("re-evaluation's walk", queries.MILESTONE_VERSIONS_AFTER, ("m~100h", 20000)),
        ("export's period page", queries.PERIODS_AFTER, ("m", "2025-01-01", "2025-12-31", 5000)),
        ("due webhook deliveries", queries.CLAIM_WEBHOOK_DELIVERIES_SQLITE, (encode_time(A_DAY_AGO),) * 2 + (8,)),
    ],
    "postgres": [
        ("batch's periods", queries.MENTORS_PERIODS_POSTGRES, (["a", "b"],)),
        ("batch's milestones", queries.MENTORS_MILESTONES_POSTGRES, (["a", "b"],)),
        ("expired idempotency keys", queries.DELETE_EXPIRED_IDEMPOTENCY_KEYS, (A_DAY_AGO,)),
        ("export's milestone page", queries.MILESTONES_AFTER, ("m~100h", 5000)),
        ("re-evaluation's walk", queries.MILESTONE_VERSIONS_AFTER, ("m~100h", 20000)),
        ("export's period page", queries.PERIODS_AFTER, ("m", date(2025, 1, 1), date(2025, 12, 31), 5000)),
        ("due webhook deliveries", queries.CLAIM_WEBHOOK_DELIVERIES_POSTGRES, (A_DAY_AGO, A_DAY_AGO, 8)),
    ],
}


@pytest.mark.parametrize("index", range(len(BULK_QUERIES["sqlite"])))
async def test_bulk_queries_use_an_index(settings: Settings, index: int) -> None:
    name, sql, params = BULK_QUERIES["sqlite" if settings.is_sqlite else "postgres"][index]
    await test_hot_queries_use_an_index(settings, name, sql, params)


@pytest.mark.parametrize(("name", "sql", "params"), HOT_QUERIES, ids=[q[0] for q in HOT_QUERIES])
async def test_hot_queries_use_an_index(settings: Settings, name: str, sql: str, params: tuple[Any, ...]) -> None:
    if settings.is_sqlite:
        conn = sqlite3.connect(settings.sqlite_path)
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        conn.close()
        assert "SEARCH" in plan, f"{name}: {plan}"
        # json_each is a table-valued function: scanning the batch's ids is the point.
        scans = [step for step in plan.split(" | ") if "SCAN" in step and "CONSTANT" not in step]
        assert all("json_each" in step or step.startswith("SCAN ids") for step in scans), f"{name}: {plan}"
        return
    conn = await asyncpg.connect(settings.database_url)
    try:
        # Tiny test tables are always cheaper to scan; forbid it to see which index the planner would use.
        await conn.execute("SET enable_seqscan = off")
        rows = await conn.fetch(f"EXPLAIN {queries.numbered(sql)}", *params)
        plan = " | ".join(r[0] for r in rows)
    finally:
        await conn.close()
    # "Index Cond": the index narrows the search (a full index scan would say only "Index Scan").
    assert "Index Cond" in plan, f"{name}: {plan}"
    assert "Seq Scan" not in plan, f"{name}: {plan}"
