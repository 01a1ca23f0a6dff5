"""Initial schema: mentors' periods and their milestones.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "periods",
        sa.Column("mentor_id", sa.String(128), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        # Hours are kept as exact hundredths.
        sa.Column("total_hours_centi", sa.BigInteger(), nullable=False),
        sa.Column("unique_contacts_helped", sa.BigInteger(), nullable=False),
        sa.Column("activity_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("mentor_id", "start_date", "end_date", name="pk_periods"),
        sa.CheckConstraint("start_date <= end_date", name="ck_periods_dates_ordered"),
    )
    op.create_table(
        "milestones",
        sa.Column("id", sa.String(96), nullable=False),
        sa.Column("mentor_id", sa.String(128), nullable=False),
        sa.Column("definition_key", sa.String(40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        # Thresholds and values are exact hundredths of the metric.
        sa.Column("threshold_centi", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_centi", sa.BigInteger(), nullable=False),
        sa.Column("achieved_centi", sa.BigInteger(), nullable=True),
        sa.Column("achieved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("set_by_person", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_milestones"),
        sa.UniqueConstraint("mentor_id", "definition_key", name="uq_milestones_mentor_id_definition_key"),
        sa.CheckConstraint("status IN ('achieved', 'in_progress')", name="ck_milestones_status"),
    )
    # Serves a mentor's milestones and the global listing in catalog order.
    op.create_index("ix_milestones_mentor_id_position_id", "milestones", ["mentor_id", "position", "id"])
    op.create_index("ix_milestones_status_achieved_at", "milestones", ["status", "achieved_at"])


def downgrade() -> None:
    op.drop_index("ix_milestones_status_achieved_at", table_name="milestones")
    op.drop_index("ix_milestones_mentor_id_position_id", table_name="milestones")
    op.drop_table("milestones")
    op.drop_table("periods")
