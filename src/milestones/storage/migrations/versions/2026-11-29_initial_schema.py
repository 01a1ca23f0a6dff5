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
    postgres = op.get_bind().dialect.name == "postgresql"
    # Byte order for ids on PostgreSQL, so a mentor's ids ("<mentor_id>~<key>") form one index range.
    id_type = sa.String(300, collation="C") if postgres else sa.String(300)
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
        sa.CheckConstraint("start_date <= end_date", name="dates_ordered"),
        # Rows live in primary-key order: a mentor's periods sit together.
        sqlite_with_rowid=False,
    )
    op.create_table(
        "milestones",
        # "<mentor_id>~<definition_key>": neither part can contain "~", so the id is unique per pair.
        sa.Column("id", id_type, nullable=False),
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
        # With the primary key, this makes (mentor_id, definition_key) unique without a second index.
        sa.CheckConstraint("id = mentor_id || '~' || definition_key", name="id_is_mentor_and_key"),
        sa.CheckConstraint("status IN ('achieved', 'in_progress')", name="status"),
        # Clustered by id, so a mentor's milestones are neighbours and bulk loads append.
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("milestones")
    op.drop_table("periods")
