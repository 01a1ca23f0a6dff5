"""Access keys: the digests of the keys that `milestones keys create` makes, never the keys themselves.

Idempotency keys are now stored with the id of the access key that sent them in front ("env:1a2b3c4d <key>"),
so their column widens; SQLite does not enforce the length, so only PostgreSQL's column changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "access_keys",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        # SHA-256 of the key, hex: the key itself is shown once, when it is created, and kept nowhere.
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        # Set when the key is revoked; the row stays, so that its id still explains the changes it made.
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_access_keys"),
        sa.UniqueConstraint("digest", name="uq_access_keys_digest"),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("idempotency_keys", "key", type_=sa.String(320))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DELETE FROM idempotency_keys WHERE length(key) > 255")
        op.alter_column("idempotency_keys", "key", type_=sa.String(255))
    op.drop_table("access_keys")
