"""Erasure: the mentor beside each stored idempotent answer, and the service's own secrets (the erasure salt).

A stored answer to a POST with an Idempotency-Key repeats the mentor's milestones; erasure finds those answers
by this column (indexed) rather than by reading bodies. Answers stored before this migration have no mentor
beside them: they expire within a day of being made, as every idempotency record does.

`service_secrets` holds values the service makes once for itself and every process must share: the salt of
the hashes that name erased mentors, when MILESTONES_ERASURE_SALT is not set.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as table:
        table.add_column(sa.Column("mentor_id", sa.String(128), nullable=True))
    op.create_index("ix_idempotency_keys_mentor_id", "idempotency_keys", ["mentor_id"])
    op.create_table(
        "service_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_service_secrets"),
    )


def downgrade() -> None:
    op.drop_table("service_secrets")
    op.drop_index("ix_idempotency_keys_mentor_id", table_name="idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as table:
        table.drop_column("mentor_id")
