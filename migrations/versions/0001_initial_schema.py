"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:04:54.523841
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("swarm_id", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_event_log")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "index_watermarks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_index_watermarks")),
    )
    op.create_table(
        "models",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("swarm_id", sa.String(length=200), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("architecture", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_models")),
        sa.UniqueConstraint("swarm_id", "model_id", name=op.f("uq_models_swarm_id_model_id")),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "model_versions",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("model_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("parent_pk", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.String(length=200), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("architecture", sa.Text(), nullable=False),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("checkpoint_type", sa.String(length=16), nullable=False),
        sa.Column("compression_type", sa.String(length=16), nullable=False),
        sa.Column("model_size", sa.BigInteger(), nullable=False),
        sa.Column("stored_size", sa.BigInteger(), nullable=False),
        sa.Column("tensor_count", sa.Integer(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_pk"],
            ["models.pk"],
            name=op.f("fk_model_versions_model_pk_models"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["parent_pk"],
            ["model_versions.pk"],
            name=op.f("fk_model_versions_parent_pk_model_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("model_pk", "seq", name=op.f("uq_model_versions_model_pk_seq")),
        sa.UniqueConstraint("model_pk", "version", name=op.f("uq_model_versions_model_pk_version")),
    )
    op.create_table(
        "tensors",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("dtype", sa.String(length=32), nullable=False),
        sa.Column("shape", sa.JSON(), nullable=False),
        sa.Column("byte_length", sa.BigInteger(), nullable=False),
        sa.Column("chunk_bytes", sa.BigInteger(), nullable=False),
        sa.Column("alias_of", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_pk"],
            ["model_versions.pk"],
            name=op.f("fk_tensors_version_pk_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_tensors")),
        sa.UniqueConstraint(
            "version_pk", "group", "name", name=op.f("uq_tensors_version_pk_group_name")
        ),
    )
    op.create_table(
        "tensor_chunks",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("tensor_pk", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("raw_hash", sa.String(length=64), nullable=False),
        sa.Column("raw_length", sa.BigInteger(), nullable=False),
        sa.Column("blob_key", sa.String(length=128), nullable=False),
        sa.Column("encoded_length", sa.BigInteger(), nullable=False),
        sa.Column("codec", sa.String(length=64), nullable=False),
        sa.Column("base_chunk_pk", sa.Integer(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["base_chunk_pk"],
            ["tensor_chunks.pk"],
            name=op.f("fk_tensor_chunks_base_chunk_pk_tensor_chunks"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tensor_pk"],
            ["tensors.pk"],
            name=op.f("fk_tensor_chunks_tensor_pk_tensors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_tensor_chunks")),
        sa.UniqueConstraint("tensor_pk", "idx", name=op.f("uq_tensor_chunks_tensor_pk_idx")),
    )
    with op.batch_alter_table("tensor_chunks", schema=None) as batch_op:
        batch_op.create_index("ix_tensor_chunks_blob_key", ["blob_key"], unique=False)
        batch_op.create_index("ix_tensor_chunks_raw_hash", ["raw_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tensor_chunks", schema=None) as batch_op:
        batch_op.drop_index("ix_tensor_chunks_raw_hash")
        batch_op.drop_index("ix_tensor_chunks_blob_key")

    op.drop_table("tensor_chunks")
    op.drop_table("tensors")
    op.drop_table("model_versions")
    op.drop_table("outbox")
    op.drop_table("models")
    op.drop_table("index_watermarks")
    op.drop_table("event_log")
