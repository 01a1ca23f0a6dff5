"""The domain: milestone rules as pure functions of plain data, with no web framework, database or clock.

`model` names things, `rows` is the stored form the rules work on, `rules` decides every write and
`changes` is what a write is. The model's names are importable from here.
"""

from milestones.domain.model import (
    ID_SEPARATOR,
    MAX_PERIOD_DAYS,
    MENTOR_ID_PATTERN,
    Definition,
    MetricType,
    Milestone,
    MilestoneQuery,
    MilestoneUpdate,
    Period,
    Progress,
    Status,
    Summary,
    Tier,
    Translation,
    future_start,
    in_progress_order,
    is_definition_key,
    is_mentor_id,
    mentor_of,
    milestone_id,
    progress,
)

__all__ = [
    "ID_SEPARATOR",
    "MAX_PERIOD_DAYS",
    "MENTOR_ID_PATTERN",
    "Definition",
    "MetricType",
    "Milestone",
    "MilestoneQuery",
    "MilestoneUpdate",
    "Period",
    "Progress",
    "Status",
    "Summary",
    "Tier",
    "Translation",
    "future_start",
    "in_progress_order",
    "is_definition_key",
    "is_mentor_id",
    "mentor_of",
    "milestone_id",
    "progress",
]
