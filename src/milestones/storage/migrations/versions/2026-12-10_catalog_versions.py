"""Catalog versions: the milestone catalog stored in the database, in versions, and each record's version.

Every worker and host serves the latest row of `catalog_versions` (by `seq`), so that two processes started
with different catalog files cannot decide one mentor's records differently. A version is kept whole (its
definitions as JSON, and their content hash): a record earned under a retired rung or an older threshold is
still shown with its own version's words and badge. `milestones.catalog_version` names the version whose
definition a record shows.

The first version is the catalog the migration is given (`milestones migrate` passes the configured file,
MILESTONES_CATALOG_PATH, or the packaged one), and every existing record is marked with it: until now they
were all decided under that one file. Adding the column with a default is instant on both databases (no
table rewrite on PostgreSQL 11+, a schema change only on SQLite).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

from milestones.catalog import CatalogVersion, catalog_of, content_of, load_catalog_file

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def _first_catalog() -> CatalogVersion:
    """The catalog `milestones.storage.migrate` hands over (the configured one), else the packaged one."""
    given: Callable[[], CatalogVersion] | None = context.config.attributes.get("catalog")
    if given is not None:
        return given()
    packaged = load_catalog_file()
    return catalog_of(packaged.definitions, packaged.version)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.create_table(
        "catalog_versions",
        # Publication order: the latest version is the highest seq.
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_catalog_versions"),
        sa.UniqueConstraint("version", name="uq_catalog_versions_version"),
    )
    first = _first_catalog()
    now = datetime.now(UTC).replace(microsecond=0)
    # SQLite keeps times as the rows' fixed-width text (domain.rows.encode_time), PostgreSQL as timestamptz.
    published_at: object = now if postgres else now.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    bind.execute(
        sa.text(
            "INSERT INTO catalog_versions (seq, version, content_hash, content, published_at) "
            "VALUES (1, :version, :content_hash, :content, :published_at)"
        ),
        {
            "version": first.version,
            "content_hash": first.content_hash,
            "content": content_of(first.definitions),
            "published_at": published_at,
        },
    )
    if postgres:
        # The identity's next value follows the row inserted with an explicit seq.
        op.execute("SELECT setval(pg_get_serial_sequence('catalog_versions', 'seq'), 1)")
    op.add_column(
        "milestones",
        sa.Column("catalog_version", sa.String(64), nullable=False, server_default=first.version),
    )
    if postgres:
        # Existing rows keep the value; every later row is written with its own version by the write path.
        op.alter_column("milestones", "catalog_version", server_default=None)


def downgrade() -> None:
    # In place on SQLite too (3.35+): a batch rebuild would lose the table's WITHOUT ROWID.
    op.drop_column("milestones", "catalog_version")
    op.drop_table("catalog_versions")
