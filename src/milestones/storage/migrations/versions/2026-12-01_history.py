"""History: one entry for each request, or line of a bulk run, that changed a mentor's milestones.

Each entry says when, who (actor), which request (its X-Request-ID), why (cause, and the period) and under
which catalog version, and holds the step's transitions packed as MessagePack: for each milestone its
definition key, the transition and its stored state before and after (codes and hundredths). One row per
step rather than per transition keeps a first bulk run's history at one row per summary. Entries are read
by mentor in id order, and pruned by time: a BRIN index on PostgreSQL (entries are appended in time order,
so it stays tiny and costs writers next to nothing), a B-tree on SQLite.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "history",
        # SQLite: INTEGER PRIMARY KEY, the rowid itself, so entries are appended in id order.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(), nullable=False),
        sa.Column("mentor_id", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        # An access key's id, `anonymous` or `cli`.
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("catalog_version", sa.String(64), nullable=True),
        sa.Column("transitions", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_history"),
    )
    op.create_index("ix_history_mentor_id_id", "history", ["mentor_id", "id"])
    if postgres:
        op.create_index("ix_history_at", "history", ["at"], postgresql_using="brin")
    else:
        op.create_index("ix_history_at", "history", ["at"])


def downgrade() -> None:
    op.drop_index("ix_history_at", table_name="history")
    op.drop_index("ix_history_mentor_id_id", table_name="history")
    op.drop_table("history")
