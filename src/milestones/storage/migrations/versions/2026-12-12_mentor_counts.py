"""Mentor counts: how many mentors hold each milestone in each status, and how many have a stored period.

The definitions endpoint shows each definition's rarity, and the program report its numbers, without reading the
milestones table: the write path keeps `mentor_counts` (storage/write_path.py), one row per counted set of mentors
and slot. `counted` names the set: `<status>:<definition key>` (mentors whose record of it is in that status:
`achieved:` ones are its rarity, revoked ones not among them), or `with_period` (mentors with a stored period).
A write adds its deltas to the slot of each mentor it changes (a hash of the id), so concurrent writers on
PostgreSQL rarely wait on one row; a reader sums the slots. The counts of the rows stored now go to slot 0.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "mentor_counts",
        sa.Column("counted", sa.String(200), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("mentors", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("counted", "slot", name="pk_mentor_counts"),
    )
    op.execute(
        "INSERT INTO mentor_counts (counted, slot, mentors)"
        " SELECT status || ':' || definition_key, 0, count(*) FROM milestones GROUP BY status, definition_key"
    )
    op.execute(
        "INSERT INTO mentor_counts (counted, slot, mentors)"
        " SELECT 'with_period', 0, count(DISTINCT mentor_id) FROM periods HAVING count(DISTINCT mentor_id) > 0"
    )


def downgrade() -> None:
    op.drop_table("mentor_counts")
