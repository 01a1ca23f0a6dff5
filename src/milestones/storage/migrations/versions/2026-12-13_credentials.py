"""Credentials: the keys that sign them, each credential's place in the revocation status list, a recipient id.

`credential_keys` holds the signing keys the service generated for itself (a quick start: production keys come
from a file or the environment and are never stored); a retired key stays, so credentials it signed still
verify against the JWKS. `credential_status` gives each milestone whose credential was issued its index in the
W3C Bitstring Status List, for good (an index is never reused). `mentors.recipient_id` is the platform's URL or
DID for the mentor, the credentials' subject.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE mentors ADD COLUMN recipient_id VARCHAR(500)")
    op.create_table(
        "credential_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name="pk_credential_keys"),
    )
    op.create_table(
        "credential_status",
        # AUTOINCREMENT on SQLite: an index once handed out is never handed out again.
        sa.Column("list_index", sa.Integer(), sa.Identity(start=1), nullable=False),
        sa.Column("milestone_id", sa.String(300), nullable=False),
        sa.Column("mentor_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("list_index", name="pk_credential_status"),
        sa.UniqueConstraint("milestone_id", name="uq_credential_status_milestone"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_credential_status_mentor", "credential_status", ["mentor_id"])


def downgrade() -> None:
    op.drop_index("ix_credential_status_mentor", table_name="credential_status")
    op.drop_table("credential_status")
    op.drop_table("credential_keys")
    op.execute("ALTER TABLE mentors DROP COLUMN recipient_id")
