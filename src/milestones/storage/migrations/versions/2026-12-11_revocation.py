"""Revocation: a milestone's `revoked` status, when and why it was revoked, and whether its values support it.

`milestones.status` may be `revoked` (the check constraint changes). `revoked_at` and `revocation_reason` say when
and why a person or the rules took an achieved milestone back; `supported` is false while a correction keeps the
mentor's value below an achieved milestone's threshold (MILESTONES_ON_LOST_THRESHOLD=keep). Every stored row is
supported and none is revoked.

SQLite cannot change a check constraint in place: the table is built again from its own stored definition with
the new check (so it stays WITHOUT ROWID, with its columns' defaults), the rows copied over.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-11
"""

from __future__ import annotations

from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None

_CONSTRAINT = "ck_milestones_status"
_BEFORE = "status IN ('achieved', 'in_progress')"
_AFTER = "status IN ('achieved', 'in_progress', 'revoked')"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    moment = "TIMESTAMP WITH TIME ZONE" if dialect == "postgresql" else "DATETIME"
    true = "true" if dialect == "postgresql" else "1"
    # Plain ALTER TABLE on both: SQLite's batch mode would rebuild the table without its WITHOUT ROWID.
    op.execute(f"ALTER TABLE milestones ADD COLUMN revoked_at {moment}")
    op.execute("ALTER TABLE milestones ADD COLUMN revocation_reason VARCHAR(500)")
    op.execute(f"ALTER TABLE milestones ADD COLUMN supported BOOLEAN NOT NULL DEFAULT {true}")
    _replace_status_check(dialect, _BEFORE, _AFTER)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    # The older schema has no revoked status: a revoked milestone goes back to the achieved one it was.
    op.execute("UPDATE milestones SET status = 'achieved' WHERE status = 'revoked'")
    _replace_status_check(dialect, _AFTER, _BEFORE)
    for column in ("supported", "revocation_reason", "revoked_at"):
        op.execute(f"ALTER TABLE milestones DROP COLUMN {column}")


def _replace_status_check(dialect: str, before: str, after: str) -> None:
    if dialect == "postgresql":
        op.execute(f"ALTER TABLE milestones DROP CONSTRAINT {_CONSTRAINT}")
        op.execute(f"ALTER TABLE milestones ADD CONSTRAINT {_CONSTRAINT} CHECK ({after})")
        return
    bind = op.get_bind()
    stored = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'milestones'")
    definition = stored.scalar_one()
    if before not in definition:
        raise RuntimeError(f"the milestones table's stored definition has no check {before!r}")
    rebuilt = definition.replace(before, after).replace("milestones", "milestones_rebuilt", 1)
    op.execute(rebuilt)
    op.execute("INSERT INTO milestones_rebuilt SELECT * FROM milestones")
    op.execute("DROP TABLE milestones")
    op.execute("ALTER TABLE milestones_rebuilt RENAME TO milestones")
