"""datasets, experiments, their references and metric points (issue 4)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("swarm_id", sa.String(length=200), nullable=False),
        sa.Column("dataset_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("parent_pk", sa.Integer(), nullable=True),
        sa.Column("parent_version", sa.String(length=200), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("data_type", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("splits", sa.JSON(), nullable=False),
        sa.Column("quality", sa.Float(), nullable=True),
        sa.Column("total_samples", sa.Integer(), nullable=False),
        sa.Column("samples_blob", sa.String(length=128), nullable=True),
        sa.Column("samples_length", sa.BigInteger(), nullable=False),
        sa.Column("samples_format", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_pk"],
            ["datasets.pk"],
            name=op.f("fk_datasets_parent_pk_datasets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_datasets")),
        sa.UniqueConstraint(
            "swarm_id", "dataset_id", "seq", name=op.f("uq_datasets_swarm_id_dataset_id_seq")
        ),
        sa.UniqueConstraint(
            "swarm_id",
            "dataset_id",
            "version",
            name=op.f("uq_datasets_swarm_id_dataset_id_version"),
        ),
    )
    op.create_table(
        "experiments",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("swarm_id", sa.String(length=200), nullable=False),
        sa.Column("experiment_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=False),
        sa.Column("dataset_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("final_metrics", sa.JSON(), nullable=False),
        sa.Column("convergence", sa.JSON(), nullable=False),
        sa.Column("resource_usage", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("final_accuracy", sa.Float(), nullable=True),
        sa.Column("final_loss", sa.Float(), nullable=True),
        sa.Column("best_validation_loss", sa.Float(), nullable=True),
        sa.Column("best_epoch", sa.Integer(), nullable=True),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("overfitting_risk", sa.Float(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_experiments")),
        sa.UniqueConstraint(
            "swarm_id", "experiment_id", name=op.f("uq_experiments_swarm_id_experiment_id")
        ),
    )
    op.create_index("ix_experiments_started", "experiments", ["started"], unique=False)
    op.create_index(
        "ix_experiments_swarm_id_model_id", "experiments", ["swarm_id", "model_id"], unique=False
    )
    op.create_index(
        "ix_experiments_swarm_id_status", "experiments", ["swarm_id", "status"], unique=False
    )
    op.create_table(
        "experiment_datasets",
        sa.Column("experiment_pk", sa.Integer(), nullable=False),
        sa.Column("dataset_pk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_pk"],
            ["datasets.pk"],
            name=op.f("fk_experiment_datasets_dataset_pk_datasets"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["experiment_pk"],
            ["experiments.pk"],
            name=op.f("fk_experiment_datasets_experiment_pk_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_pk", "dataset_pk", name=op.f("pk_experiment_datasets")),
    )
    op.create_index(
        op.f("ix_experiment_datasets_dataset_pk"),
        "experiment_datasets",
        ["dataset_pk"],
        unique=False,
    )
    op.create_table(
        "experiment_checkpoints",
        sa.Column("experiment_pk", sa.Integer(), nullable=False),
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_pk"],
            ["experiments.pk"],
            name=op.f("fk_experiment_checkpoints_experiment_pk_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_pk"],
            ["model_versions.pk"],
            name=op.f("fk_experiment_checkpoints_version_pk_model_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "experiment_pk", "version_pk", name=op.f("pk_experiment_checkpoints")
        ),
    )
    op.create_index(
        op.f("ix_experiment_checkpoints_version_pk"),
        "experiment_checkpoints",
        ["version_pk"],
        unique=False,
    )
    op.create_table(
        "metric_points",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("experiment_pk", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("wall_time", sa.Float(), nullable=False),
        sa.Column("non_finite", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_pk"],
            ["experiments.pk"],
            name=op.f("fk_metric_points_experiment_pk_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_metric_points")),
    )
    op.create_index(
        "ix_metric_points_history",
        "metric_points",
        ["experiment_pk", "key", "step", "pk", "epoch", "value", "wall_time", "non_finite"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_metric_points_history", table_name="metric_points")
    op.drop_table("metric_points")
    op.drop_index(op.f("ix_experiment_checkpoints_version_pk"), table_name="experiment_checkpoints")
    op.drop_table("experiment_checkpoints")
    op.drop_index(op.f("ix_experiment_datasets_dataset_pk"), table_name="experiment_datasets")
    op.drop_table("experiment_datasets")
    op.drop_index("ix_experiments_swarm_id_status", table_name="experiments")
    op.drop_index("ix_experiments_swarm_id_model_id", table_name="experiments")
    op.drop_index("ix_experiments_started", table_name="experiments")
    op.drop_table("experiments")
    op.drop_table("datasets")
