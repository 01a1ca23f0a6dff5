"""The demo data set: made by code, the same every time, and every summary valid."""

from __future__ import annotations

from milestones.bulk.demo import DEMO_MENTORS, demo_summaries
from milestones.contract import RecordSummaryIn, decode_strict


def test_the_demo_is_the_same_every_time_and_every_summary_is_valid() -> None:
    first = list(demo_summaries(2025))
    assert first == list(demo_summaries(2025))
    summaries = [decode_strict(body, RecordSummaryIn) for body in first]
    mentors = {s.mentor_id for s in summaries}
    assert mentors == {f"demo_{name}" for name in DEMO_MENTORS}
    assert 30 <= len(mentors) <= 50
    assert {s.period.year for s in summaries} == {2023, 2024, 2025}
    assert any(s.period.end_date.month == 6 for s in summaries)  # some mentors report half-years
    late = {s.mentor_id for s in summaries} - {s.mentor_id for s in summaries if s.period.year == 2023}
    assert late  # some joined later


def test_the_years_follow_the_last_year_asked() -> None:
    assert {decode_strict(b, RecordSummaryIn).period.year for b in demo_summaries(2030)} == {2028, 2029, 2030}
