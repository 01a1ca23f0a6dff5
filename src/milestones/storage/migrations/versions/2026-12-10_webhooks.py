"""Webhooks: the endpoints events are pushed to, the deliveries on their way, and the log of attempts.

`webhook_endpoints`: a receiver's URL, the event types it takes (the outbox's bits), whether it is enabled, its
signing secret (Fernet-encrypted when MILESTONES_SECRET_KEY is set) and, for a day after a rotation, the one before,
and `cursor`: how far in the event feed deliveries have been made for it (a feed position, as text).

`webhook_deliveries`: one row per event per endpoint, the queue the delivery loop claims from: due at `next_at`
(a claim pushes it past the request's timeout, so a worker that dies mid-delivery lets another retry), the
rendered event (it holds mentor data: erasure removes a mentor's rows), attempts so far and the last answer.

`webhook_attempts`: one row per try: when, the outcome, the answer's status and how long it took. Event ids and
outcomes only, never a payload or a header.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def _identity() -> sa.Column[int]:
    # SQLite: INTEGER PRIMARY KEY, the rowid itself.
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("types", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.String(512), nullable=False),
        sa.Column("previous_secret", sa.String(512), nullable=True),
        sa.Column("previous_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.String(96), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_reason", sa.String(256), nullable=True),
    )
    op.create_table(
        "webhook_deliveries",
        _identity(),
        sa.Column("endpoint_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        # The mentor the event is about (for mentor.erased, their hash): erasure removes their deliveries.
        sa.Column("mentor_id", sa.String(128), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        # Bumped by every claim: a worker records its attempt only while its claim is the newest.
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_id_event_id"),
        sqlite_autoincrement=True,
    )
    # The loop's one question, "what is due?", reads only pending rows.
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_webhook_deliveries_mentor_id", "webhook_deliveries", ["mentor_id"])
    op.create_table(
        "webhook_attempts",
        _identity(),
        sa.Column("endpoint_id", sa.String(32), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhook_attempts_endpoint_id_id", "webhook_attempts", ["endpoint_id", "id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
