"""Events: the outbox a platform follows (GET /api/v1/events), written by the write path with each change.

One row per step that made an event (a request, a bulk line, an erasure), like history's: when, who, which
request, why, under which catalog version, whether push delivery tells of it (`notify`; `detect --no-notify`
records false), the set of its events' types as bits (`types`, so a feed filtered by type skips rows here),
and its transitions packed as history packs them. Rows are read in feed order, by mentor for erasure and a
feed filtered to one mentor, and pruned by time (BRIN on PostgreSQL, as history).

PostgreSQL: `txid` is the writing transaction's id (xid8, set by default). Writers of different mentors commit
out of id order, so the feed is read in (txid, id) order below the oldest transaction still running
(`pg_snapshot_xmin`): every row a later reader can see sorts after everything read before. SQLite has one
writer at a time, so id order is commit order and it needs no such column.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "events",
        # SQLite: INTEGER PRIMARY KEY, the rowid itself, so rows are appended in id (and commit) order.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(), nullable=False),
        # The mentor, or for `mentor.erased` their salted hash.
        sa.Column("mentor_id", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("catalog_version", sa.String(64), nullable=True),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("types", sa.Integer(), nullable=False),
        sa.Column("transitions", sa.LargeBinary(), nullable=False),
        *([] if postgres else [sa.PrimaryKeyConstraint("id", name="pk_events")]),
        # AUTOINCREMENT: an erasure may remove the newest rows, and their ids must never be given out again.
        sqlite_autoincrement=True,
    )
    if postgres:
        op.execute("ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id()")
        # The feed's order is the key: no second index on id alone for writers to keep.
        op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (txid, id)")
        op.execute("CREATE INDEX ix_events_mentor_id_txid_id ON events (mentor_id, txid, id)")
        op.create_index("ix_events_at", "events", ["at"], postgresql_using="brin")
    else:
        op.create_index("ix_events_mentor_id_id", "events", ["mentor_id", "id"])
        op.create_index("ix_events_at", "events", ["at"])


def downgrade() -> None:
    op.drop_table("events")
