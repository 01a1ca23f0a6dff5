"""Webhooks' pure parts: the retry schedule and event type names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from milestones.domain.events import ALL_TYPES, TYPE_BITS, EventType
from milestones.domain.webhooks import RetrySchedule, parse_types

BEGAN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_waits_grow_four_times_from_five_seconds_within_the_jitter_and_stop_at_the_cap() -> None:
    schedule = RetrySchedule()
    for attempts, wait in [(1, 5), (2, 20), (3, 80), (4, 320), (9, 6 * 3600), (12, 6 * 3600)]:
        now = BEGAN + timedelta(seconds=1)
        low = schedule.next_attempt(attempts, BEGAN, now, 0.0)
        high = schedule.next_attempt(attempts, BEGAN, now, 0.999999)
        assert low is not None and high is not None
        assert (low - now).total_seconds() == pytest.approx(wait * 0.8)
        assert (high - now).total_seconds() == pytest.approx(wait * 1.2, rel=1e-5)


def test_retries_go_on_for_at_least_a_day_then_stop() -> None:
    schedule = RetrySchedule()
    now, attempts = BEGAN, 0
    while True:
        attempts += 1
        following = schedule.next_attempt(attempts, BEGAN, now, 0.5)
        if following is None:
            break
        now = following
    assert now - BEGAN >= timedelta(hours=24)
    assert now - BEGAN < timedelta(hours=24) + schedule.cap * 1.2
    assert 8 <= attempts <= 14


def test_type_names_become_bits_and_none_means_every_type() -> None:
    assert parse_types([]) == ALL_TYPES
    assert parse_types(["milestone.achieved", "milestone.achieved"]) == TYPE_BITS[EventType.MILESTONE_ACHIEVED]
    with pytest.raises(ValueError, match=r"unknown event type 'milestone\.won'"):
        parse_types(["milestone.achieved", "milestone.won"])
