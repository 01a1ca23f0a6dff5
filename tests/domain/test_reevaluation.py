"""Re-evaluation's decision, on rows: a version's new rung is backfilled, a raised threshold keeps what was earned
(keep) or is revoked (recompute), and in-progress records move to the new next rung."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from milestones.domain import MetricType
from milestones.domain.changes import COMMAND_LINE, Cause
from milestones.domain.reevaluation import Policy, reevaluate
from milestones.domain.rows import PeriodRow, StoredRows
from milestones.domain.rules import RuleCatalog, milestones_after, record_summaries
from tests.factories import definition, ladder

NOW = "2026-06-01T00:00:00Z"


def stored(hours: int) -> StoredRows:
    """One mentor's rows after posting a 2025 summary of `hours` hours under the small ladder, version v1."""
    period = PeriodRow("m_1", "2025-01-01", "2025-12-31", 2025, hours * 100, 0, 0)
    change = record_summaries([(1, period)], StoredRows([], []), RuleCatalog(ladder(), "v1"), NOW, actor=COMMAND_LINE)
    return StoredRows(change.periods_written, change.milestones_written)


def test_a_new_rung_is_backfilled_and_in_progress_moves_to_the_new_next_rung() -> None:
    rows = stored(150)  # 100h achieved, 300h in progress
    added = (
        *ladder(),
        definition("200h", MetricType.HOURS_LOGGED, 200, 6),
        definition("50h", MetricType.HOURS_LOGGED, 50, 7),
    )
    change = reevaluate(["m_1"], rows, RuleCatalog(added, "v2"), NOW)
    assert change.cause is Cause.REEVALUATION and change.catalog_version == "v2" and not change.notify
    kinds = {t.milestone_id: t.kind for t in change.transitions}
    assert kinds["m_1~50h"] == "achieved"
    assert kinds["m_1~200h"] == "created"  # the new next rung
    assert kinds["m_1~300h"] == "deleted"  # no longer the next rung
    after = {row.definition_key: row for row in milestones_after(rows, change)}
    assert after["50h"].achieved_at == "2025-12-31T23:59:59.000000Z"
    assert (after["200h"].status, after["200h"].catalog_version) == ("in_progress", "v2")
    assert after["100h"].catalog_version == "v1"


def test_a_raised_threshold_keeps_the_achieved_milestone_under_keep() -> None:
    rows = stored(150)
    raised = tuple(replace(d, threshold=Decimal(200)) if d.key == "100h" else d for d in ladder())
    change = reevaluate(["m_1"], rows, RuleCatalog(raised, "v2"), NOW, policy=Policy.KEEP)
    assert "m_1~100h" not in {t.milestone_id for t in change.transitions}
    kept = {row.definition_key: row for row in milestones_after(rows, change)}["100h"]
    assert (kept.status, kept.threshold_centi, kept.catalog_version) == ("achieved", 10000, "v1")


def test_the_same_version_again_changes_nothing() -> None:
    rows = stored(150)
    assert not reevaluate(["m_1"], rows, RuleCatalog(ladder(), "v1"), NOW).writes_anything


def test_recompute_revokes_what_a_raised_threshold_no_longer_supports_and_keeps_what_a_person_set() -> None:
    rows = stored(150)
    raised = tuple(replace(d, threshold=Decimal(200)) if d.key == "100h" else d for d in ladder())
    change = reevaluate(["m_1"], rows, RuleCatalog(raised, "v2"), NOW, policy=Policy.RECOMPUTE)
    assert {t.milestone_id: t.kind for t in change.transitions}["m_1~100h"] == "revoked"
    revoked = {row.definition_key: row for row in milestones_after(rows, change)}["100h"]
    assert (revoked.status, revoked.revocation_reason, revoked.revoked_at) == ("revoked", "threshold raised", NOW)
    assert (revoked.achieved_at, revoked.catalog_version) == ("2025-12-31T23:59:59.000000Z", "v1")

    set_by_person = StoredRows(
        rows.periods,
        [row._replace(set_by_person=True) if row.definition_key == "100h" else row for row in rows.milestones],
    )
    kept = reevaluate(["m_1"], set_by_person, RuleCatalog(raised, "v2"), NOW, policy=Policy.RECOMPUTE)
    assert "m_1~100h" not in {t.milestone_id for t in kept.transitions}

    # Revoked, it stays revoked when the mentor is decided again, whatever the policy.
    after = StoredRows(rows.periods, milestones_after(rows, change))
    for policy in Policy:
        again = reevaluate(["m_1"], after, RuleCatalog(ladder(), "v3"), NOW, policy=policy)
        assert "m_1~100h" not in {t.milestone_id for t in again.transitions}
