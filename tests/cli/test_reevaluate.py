"""`milestones reevaluate` and `milestones catalog publish --dry-run`, end to end on both databases: rungs added are
backfilled with their dates, raised thresholds keep what was earned (keep), dry runs change nothing, recompute is
refused in one line."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from milestones.catalog import catalog_of, load_catalog
from milestones.domain import Milestone, Status
from milestones.domain.changes import Cause
from milestones.settings import Settings
from milestones.storage import open_repository
from tests.cli.conftest import Command, in_a_process
from tests.cli.test_catalog import PACKAGED, raised
from tests.database_contents import rows_as_text
from tests.factories import summary_body


def contents(settings: Settings) -> dict[str, list[str]]:
    """Every row of every table (a full read, to show that nothing changed)."""
    return asyncio.run(rows_as_text(settings))


HALVES = (("2025-01-01", "2025-06-30"), ("2025-07-01", "2025-12-31"))


def summaries(tmp_path: Path, *lines: dict[str, object]) -> Path:
    path = tmp_path / "summaries.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def with_rungs(tmp_path: Path, *rungs: tuple[str, int]) -> Path:
    """The packaged catalog, version 2027-02, with hours rungs added."""
    text = 'version = "2027-02"\n' + PACKAGED.read_text(encoding="utf-8")
    text += "".join(
        f'\n[[milestone]]\nkey = "{key}"\nname = "{key}"\ntype = "hours_logged"\nthreshold = {threshold}\n'
        for key, threshold in rungs
    )
    path = tmp_path / "added.toml"
    path.write_text(text, encoding="utf-8")
    return path


def milestones_of(settings: Settings, mentor_id: str) -> dict[str, Milestone]:
    return asyncio.run(_milestones_of(settings, mentor_id))


async def _milestones_of(settings: Settings, mentor_id: str) -> dict[str, Milestone]:
    repository = await open_repository(settings)
    try:
        return {m.definition_key: m for m in await repository.mentor_milestones(mentor_id)}
    finally:
        await repository.close()


def causes(settings: Settings, mentor_id: str) -> list[Cause]:
    return asyncio.run(_causes(settings, mentor_id))


async def _causes(settings: Settings, mentor_id: str) -> list[Cause]:
    repository = await open_repository(settings)
    try:
        return [entry.cause for entry in await repository.history(mentor_id, 0, 100)]
    finally:
        await repository.close()


def test_an_added_rung_is_backfilled_with_the_day_it_was_reached(
    milestones: Command, database: Settings, tmp_path: Path
) -> None:
    # 20 hours in each half of 2025: 5 hours is reached in the first half, 30 in the second.
    lines = [summary_body("m_1", hours=20, start_date=start, end_date=end) for start, end in HALVES]
    assert milestones("detect", str(summaries(tmp_path, *lines))).status == 0
    assert milestones("catalog", "publish", str(with_rungs(tmp_path, ("5h", 5), ("30h", 30)))).status == 0

    ran = milestones("reevaluate")
    assert (ran.status, ran.err) == (0, "")
    assert ran.out.startswith("version 2027-02: 1 mentor re-evaluated, 0 mentors already at this version skipped; ")
    assert "transitions: achieved 2" in ran.out

    stored = milestones_of(database, "m_1")
    assert stored["5h"].status is Status.ACHIEVED
    assert stored["5h"].achieved_at == datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC)
    assert stored["30h"].status is Status.ACHIEVED
    assert stored["30h"].achieved_at == datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert stored["5h"].catalog_version == stored["30h"].catalog_version == "2027-02"
    # The next rung is still 50 hours, now shown under the new version.
    assert (stored["50h"].status, stored["50h"].catalog_version) == (Status.IN_PROGRESS, "2027-02")
    assert (causes(database, "m_1"))[-1] is Cause.REEVALUATION

    # Run again: the mentor is at the latest version and skipped; nothing is written twice.
    before = contents(database)
    again = milestones("reevaluate")
    assert again.out.startswith("version 2027-02: 0 mentors re-evaluated, 1 mentor already at this version skipped")
    assert contents(database) == before


def test_a_raised_threshold_keeps_what_was_earned_under_keep(
    milestones: Command, database: Settings, tmp_path: Path
) -> None:
    first = catalog_of(load_catalog()).version
    lines = [summary_body("m_earned", hours=55), summary_body("m_working", hours=20)]
    assert milestones("detect", str(summaries(tmp_path, *lines))).status == 0
    assert milestones("catalog", "publish", str(raised(tmp_path))).status == 0  # 50 hours raised to 60

    ran = milestones("reevaluate", "--policy", "keep")
    assert ran.status == 0
    assert "1 achieved milestone kept below a raised threshold" in ran.out

    earned = milestones_of(database, "m_earned")
    # Grandfathered: still achieved, shown with the version (and threshold) it was earned under.
    assert (earned["50h"].status, earned["50h"].catalog_version, earned["50h"].threshold) == (
        Status.ACHIEVED,
        first,
        Decimal(50),
    )
    assert earned["100h"].status is Status.IN_PROGRESS
    working = milestones_of(database, "m_working")
    # In progress moves to the new version's threshold.
    assert (working["50h"].status, working["50h"].threshold, working["50h"].catalog_version) == (
        Status.IN_PROGRESS,
        Decimal(60),
        "2027-01",
    )


def test_dry_runs_change_nothing_and_say_what_would_change(
    milestones: Command, database: Settings, tmp_path: Path
) -> None:
    lines = [summary_body(f"m_{n}", hours=hours) for n, hours in enumerate((3, 20, 55, 120))]
    assert milestones("detect", str(summaries(tmp_path, *lines))).status == 0
    catalog = with_rungs(tmp_path, ("5h", 5), ("30h", 30))

    before = contents(database)
    unpublished = milestones("catalog", "publish", "--dry-run", str(catalog))
    assert unpublished.status == 0
    out = unpublished.out.splitlines()
    assert out[0] == f"{catalog}: not published (dry run); re-evaluating every mentor under it:"
    assert out[1].startswith("dry run, nothing changed: version 2027-02: 4 mentors re-evaluated")
    assert "4 mentors would change" in out[1]
    assert out[2].startswith("transitions: achieved 5, ")  # 5h for three mentors, 30h for two
    assert out[3] == "for example:"
    assert out[4].startswith("  m_0: ")
    assert contents(database) == before

    assert milestones("catalog", "publish", str(catalog)).status == 0
    published = contents(database)
    dry = milestones("reevaluate", "--dry-run")
    assert dry.status == 0
    assert dry.out.splitlines()[1:] == out[2:]
    assert contents(database) == published


def test_recompute_revokes_what_a_raised_threshold_no_longer_supports(
    milestones: Command, database: Settings, tmp_path: Path
) -> None:
    lines = [summary_body("m_earned", hours=55), summary_body("m_clear", hours=70)]
    assert milestones("detect", str(summaries(tmp_path, *lines))).status == 0
    assert milestones("catalog", "publish", str(raised(tmp_path))).status == 0  # 50 hours raised to 60

    ran = milestones("reevaluate", "--policy", "recompute")
    assert ran.status == 0
    assert "revoked 1" in ran.out
    assert "0 achieved milestones kept below a raised threshold" in ran.out

    earned = milestones_of(database, "m_earned")["50h"]
    assert (earned.status, earned.revocation_reason) == (Status.REVOKED, "threshold raised")
    assert milestones_of(database, "m_clear")["50h"].status is Status.ACHIEVED
    assert causes(database, "m_earned")[-1] is Cause.REEVALUATION


def test_one_mentor_and_an_unknown_one(milestones: Command, database: Settings, tmp_path: Path) -> None:
    assert milestones("detect", str(summaries(tmp_path, summary_body("m_1", hours=20)))).status == 0
    assert milestones("catalog", "publish", str(with_rungs(tmp_path, ("5h", 5)))).status == 0
    assert "1 mentor re-evaluated" in milestones("reevaluate", "--mentor", "m_1").out
    unknown = milestones("reevaluate", "--mentor", "m_nobody")
    assert (unknown.status, unknown.err_lines) == (1, ["milestones: nothing is stored about mentor 'm_nobody'"])


def test_a_terminal_gets_progress_and_a_pipe_does_not(tmp_path: Path) -> None:
    env = {"MILESTONES_DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}"}
    lines = [summary_body(f"p{i}", hours=20) for i in range(30)]
    assert in_a_process("detect", str(summaries(tmp_path, *lines)), cwd=tmp_path, env=env).status == 0
    assert in_a_process("catalog", "publish", str(with_rungs(tmp_path, ("5h", 5))), cwd=tmp_path, env=env).status == 0
    quiet = in_a_process("reevaluate", "--dry-run", "--batch-size", "10", cwd=tmp_path, env=env)
    assert (quiet.status, quiet.err) == (0, "")
    # TTY_COMPATIBLE=1 is rich's own switch for "this output is a terminal".
    shown = in_a_process("reevaluate", "--batch-size", "10", cwd=tmp_path, env={**env, "TTY_COMPATIBLE": "1"})
    assert shown.status == 0
    frames = shown.err.replace("\r", "\n")
    assert "10 mentors," in frames  # redrawn per batch
    assert "30 mentors," in frames
    assert "mentors/s" in frames
    assert shown.out.startswith("version 2027-02: 30 mentors re-evaluated")
