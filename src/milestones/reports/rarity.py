"""A milestone's rarity: how many mentors hold it achieved, and what share of the mentors with a period that is."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from milestones.domain import Status
from milestones.domain.rows import WITH_PERIOD, counted_status

_ACHIEVED = Status.ACHIEVED.value


class Rarity(NamedTuple):
    """One definition's rarity: revoked records are not achieved ones, so they are not counted."""

    achieved_by: int
    # achieved_by over the mentors with a stored period, 0 to 1 (0 while there are none), to four places.
    achieved_by_share: float


def rarity(counts: dict[str, int], keys: Iterable[str]) -> dict[str, Rarity]:
    """Each definition's rarity, by key, from the mentor counts the write path keeps (service.mentor_counts)."""
    mentors = counts.get(WITH_PERIOD, 0)
    shown: dict[str, Rarity] = {}
    for key in keys:
        achieved = counts.get(counted_status(_ACHIEVED, key), 0)
        shown[key] = Rarity(achieved, round(min(achieved / mentors, 1.0), 4) if mentors else 0.0)
    return shown
