"""Evidence: a period's contact identifiers and dated activity, how each achieved date was found, and mentors' names.

`periods.contacts` holds the period's identifiers (one a line, sorted, each with the first day an activity named
it) or NULL for a count only; `periods.daily` its dated activity, one day a line. `milestones.achieved_at_precision`
says how an achieved milestone's date was found; stored rows get theirs here: `set_by_person` where a person set
the milestone, `period_end` where the date is the last second of one of the mentor's period end dates, else
`detected` (detection's own time, earlier than the period's end). `milestones.value_is_upper_bound` marks contacts
values summed over two or more periods with nobody's identifiers: every stored contacts value with counts from
two or more periods. `mentors` holds what the platform tells about a mentor apart from summaries: their name.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

# The mentor's periods whose end date makes this milestone's achieved_at, and their count with a contacts value.
_AT_PERIOD_END = {
    "postgresql": (
        "EXISTS (SELECT 1 FROM periods p WHERE p.mentor_id = milestones.mentor_id"
        " AND milestones.achieved_at = (p.end_date + time '23:59:59') AT TIME ZONE 'UTC')"
    ),
    "sqlite": (
        "EXISTS (SELECT 1 FROM periods p WHERE p.mentor_id = milestones.mentor_id"
        " AND milestones.achieved_at = p.end_date || 'T23:59:59.000000Z')"
    ),
}
_SUMMED = (
    "(SELECT count(*) FROM periods p WHERE p.mentor_id = milestones.mentor_id AND p.unique_contacts_helped > 0) >= 2"
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # Plain ALTER TABLE on both: SQLite's batch mode would rebuild the tables without their WITHOUT ROWID.
    op.execute("ALTER TABLE periods ADD COLUMN contacts TEXT")
    op.execute("ALTER TABLE periods ADD COLUMN daily TEXT")
    op.execute("ALTER TABLE milestones ADD COLUMN achieved_at_precision VARCHAR(16)")
    false = "false" if dialect == "postgresql" else "0"
    op.execute(f"ALTER TABLE milestones ADD COLUMN value_is_upper_bound BOOLEAN NOT NULL DEFAULT {false}")
    op.execute(
        "UPDATE milestones SET achieved_at_precision = CASE"  # noqa: S608 (this module's own text only)
        " WHEN set_by_person THEN 'set_by_person'"
        f" WHEN {_AT_PERIOD_END[dialect]} THEN 'period_end'"
        " ELSE 'detected' END"
        " WHERE status = 'achieved'"
    )
    op.execute(
        f"UPDATE milestones SET value_is_upper_bound = {'true' if dialect == 'postgresql' else '1'}"  # noqa: S608
        f" WHERE type = 'contacts_helped' AND {_SUMMED}"
    )
    op.create_table(
        "mentors",
        sa.Column("mentor_id", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("mentor_id", name="pk_mentors"),
    )


def downgrade() -> None:
    op.drop_table("mentors")
    for table, column in (
        ("milestones", "value_is_upper_bound"),
        ("milestones", "achieved_at_precision"),
        ("periods", "daily"),
        ("periods", "contacts"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
