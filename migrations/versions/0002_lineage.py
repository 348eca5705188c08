"""lineage nodes and edges

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lineage_nodes",
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("swarm_id", sa.String(length=200), nullable=False),
        sa.Column("props", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_lineage_nodes")),
    )
    op.create_index(
        "ix_lineage_nodes_swarm_id_kind", "lineage_nodes", ["swarm_id", "kind"], unique=False
    )
    op.create_table(
        "lineage_edges",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("src", sa.String(length=500), nullable=False),
        sa.Column("rel", sa.String(length=32), nullable=False),
        sa.Column("dst", sa.String(length=500), nullable=False),
        sa.Column("swarm_id", sa.String(length=200), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_lineage_edges")),
        sa.UniqueConstraint("src", "rel", "dst", name=op.f("uq_lineage_edges_src_rel_dst")),
    )
    op.create_index("ix_lineage_edges_dst_rel", "lineage_edges", ["dst", "rel"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_lineage_edges_dst_rel", table_name="lineage_edges")
    op.drop_table("lineage_edges")
    op.drop_index("ix_lineage_nodes_swarm_id_kind", table_name="lineage_nodes")
    op.drop_table("lineage_nodes")
