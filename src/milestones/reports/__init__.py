"""Reports on the program as a whole: each milestone's rarity, and the coordinators' milestone report."""

from milestones.reports.program import DEFAULT_STALLED_DAYS, DefinitionCounts, MilestoneReport, milestone_report
from milestones.reports.rarity import Rarity, rarity

__all__ = [
    "DEFAULT_STALLED_DAYS",
    "DefinitionCounts",
    "MilestoneReport",
    "Rarity",
    "milestone_report",
    "rarity",
]
