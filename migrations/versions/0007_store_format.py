"""the store records its on-disk format version (issue 19)

Revision ID: 0007
Revises: 0006

``store_format`` is a small key/value table; its ``format_version`` row holds
the swarmstore on-disk format the store was written in (``1``: the format of
every store up to this revision -- manifests, frames, inline frames). A store
whose format is newer than the running swarmstore knows is refused with
``StoreVersionError`` (see ``swarmstore.meta.tables.StoreFormatRow``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "store_format",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_store_format")),
    )
    op.bulk_insert(table, [{"name": "format_version", "value": "1"}])


def downgrade() -> None:
    op.drop_table("store_format")
