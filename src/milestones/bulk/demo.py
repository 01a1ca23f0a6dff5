"""A small, realistic demo data set, made by code: three dozen mentors' summaries over three years."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import msgspec

DEMO_MENTORS = (
    "ada", "grace", "alan", "katherine", "linus", "margaret", "dennis", "barbara", "ken", "frances",
    "edsger", "radia", "donald", "hedy", "tim", "anita", "guido", "joan", "john", "karen",
    "bjarne", "shafi", "leslie", "sophie", "niklaus", "lynn", "vint", "mary", "yukihiro", "jean",
    "james", "adele", "brian", "evelyn", "whitfield", "carol",
)  # fmt: skip
# Hours a year of each kind of mentor: occasional, regular, committed, and the few who mentor all the time.
_HOURS_A_YEAR = (18.0, 55.0, 140.0, 320.0)
# Fixed, so that every run of `milestones demo` loads the same summaries (and a second run changes nothing).
_SEED = 20250101
_encode = msgspec.json.Encoder().encode


def demo_summaries(last_year: int) -> Iterator[bytes]:
    """POST bodies for the demo mentors (mentor ids `demo_<name>`), for `last_year` and the two years before.

    Most mentors report calendar years; some report half-years. Some joined in the second or third year,
    and each has a level of activity that varies a little from year to year, so the data set holds mentors
    with many milestones, mentors with a first one, and mentors just short of one.
    """
    chance = random.Random(_SEED)  # noqa: S311 (demo data, not secrets)
    years = range(last_year - 2, last_year + 1)
    for index, name in enumerate(DEMO_MENTORS):
        level = _HOURS_A_YEAR[index % len(_HOURS_A_YEAR)] * chance.uniform(0.75, 1.3)
        joined = years[0] + (1 if index % 5 == 3 else 2 if index % 7 == 5 else 0)
        halves = index % 4 == 1
        for year in years:
            if year < joined:
                continue
            hours = level * chance.uniform(0.8, 1.25)
            if halves:
                first = chance.uniform(0.35, 0.65)
                yield _body(name, year, f"{year}-01-01", f"{year}-06-30", hours * first, chance)
                yield _body(name, year, f"{year}-07-01", f"{year}-12-31", hours * (1 - first), chance)
            else:
                yield _body(name, year, f"{year}-01-01", f"{year}-12-31", hours, chance)


def _body(name: str, year: int, start: str, end: str, hours: float, chance: random.Random) -> bytes:
    # Quarter hours; about one new person per six hours; an activity (a session, a review) per hour and a half.
    quarter_hours = round(hours * 4)
    body: dict[str, Any] = {
        "mentor_id": f"demo_{name}",
        "period": {"year": year, "start_date": start, "end_date": end},
        "summary": {
            "total_hours": quarter_hours // 4 if quarter_hours % 4 == 0 else quarter_hours / 4,
            "unique_contacts_helped": max(1, round(hours / chance.uniform(4.5, 8.0))),
            "activity_count": max(1, round(hours / chance.uniform(1.1, 1.9))),
        },
    }
    return _encode(body)
