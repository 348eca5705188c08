"""registry, approvals, aliases, audit trail, deployments (issue 4)

Revision ID: 0004
Revises: 0003

Approvals, the audit trail and deployment status changes are append-only:
triggers refuse UPDATE and DELETE on them (SQLite and PostgreSQL). Also the
indexes analytics needs on the experiments table (see tables_registry).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = ("registry_approvals", "registry_audit", "deployment_status_changes")


def _append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        elif dialect == "postgresql":
            op.execute(
                f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
            )


def _drop_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "sqlite":
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")


def upgrade() -> None:
    op.create_table(
        "registry_audit",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("swarm_id", sa.String(length=200), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("registry_id", sa.String(length=200), nullable=True),
        sa.Column("version", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_value", sa.Text(), nullable=True),
        sa.Column("to_value", sa.Text(), nullable=True),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_registry_audit")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_registry_audit_swarm_id_model_id",
        "registry_audit",
        ["swarm_id", "model_id"],
        unique=False,
    )
    op.create_table(
        "registry_entries",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("swarm_id", sa.String(length=200), nullable=False),
        sa.Column("registry_id", sa.String(length=200), nullable=False),
        sa.Column("model_pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("use_case", sa.Text(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("risk_level", sa.String(length=16), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_pk"],
            ["models.pk"],
            name=op.f("fk_registry_entries_model_pk_models"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_registry_entries")),
        sa.UniqueConstraint("model_pk", name=op.f("uq_registry_entries_model_pk")),
        sa.UniqueConstraint(
            "swarm_id", "registry_id", name=op.f("uq_registry_entries_swarm_id_registry_id")
        ),
    )
    op.create_table(
        "deployments",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("swarm_id", sa.String(length=200), nullable=False),
        sa.Column("deployment_id", sa.String(length=200), nullable=False),
        sa.Column("model_pk", sa.Integer(), nullable=False),
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("monitoring", sa.JSON(), nullable=False),
        sa.Column("replaces", sa.String(length=200), nullable=True),
        sa.Column("deployed_by", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_pk"],
            ["models.pk"],
            name=op.f("fk_deployments_model_pk_models"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["version_pk"],
            ["model_versions.pk"],
            name=op.f("fk_deployments_version_pk_model_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_deployments")),
        sa.UniqueConstraint(
            "swarm_id", "deployment_id", name=op.f("uq_deployments_swarm_id_deployment_id")
        ),
    )
    op.create_index(
        "ix_deployments_model_pk_environment",
        "deployments",
        ["model_pk", "environment"],
        unique=False,
    )
    op.create_index(
        "ix_deployments_swarm_id_status", "deployments", ["swarm_id", "status"], unique=False
    )
    op.create_table(
        "model_aliases",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("model_pk", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=200), nullable=False),
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_pk"],
            ["models.pk"],
            name=op.f("fk_model_aliases_model_pk_models"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["version_pk"],
            ["model_versions.pk"],
            name=op.f("fk_model_aliases_version_pk_model_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_model_aliases")),
        sa.UniqueConstraint("model_pk", "alias", name=op.f("uq_model_aliases_model_pk_alias")),
    )
    op.create_table(
        "registry_approvals",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("entry_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=True),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=True),
        sa.Column("approver", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_pk"],
            ["registry_entries.pk"],
            name=op.f("fk_registry_approvals_entry_pk_registry_entries"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_registry_approvals")),
    )
    op.create_index(
        "ix_registry_approvals_entry_pk_stage",
        "registry_approvals",
        ["entry_pk", "stage"],
        unique=False,
    )
    op.create_table(
        "registry_versions",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("entry_pk", sa.Integer(), nullable=False),
        sa.Column("version_pk", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_pk"],
            ["registry_entries.pk"],
            name=op.f("fk_registry_versions_entry_pk_registry_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_pk"],
            ["model_versions.pk"],
            name=op.f("fk_registry_versions_version_pk_model_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_registry_versions")),
        sa.UniqueConstraint(
            "entry_pk", "version_pk", name=op.f("uq_registry_versions_entry_pk_version_pk")
        ),
    )
    op.create_table(
        "deployment_status_changes",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("deployment_pk", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_pk"],
            ["deployments.pk"],
            name=op.f("fk_deployment_status_changes_deployment_pk_deployments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_deployment_status_changes")),
    )
    op.create_index(
        "ix_deployment_status_changes_deployment_pk",
        "deployment_status_changes",
        ["deployment_pk"],
        unique=False,
    )
    op.create_index(
        "ix_experiments_final_accuracy", "experiments", ["final_accuracy"], unique=False
    )
    op.create_index(
        "ix_experiments_swarm_id_final_accuracy",
        "experiments",
        ["swarm_id", "final_accuracy"],
        unique=False,
    )
    op.create_index(
        "ix_experiments_swarm_id_started", "experiments", ["swarm_id", "started"], unique=False
    )
    _append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_index("ix_experiments_swarm_id_started", table_name="experiments")
    op.drop_index("ix_experiments_swarm_id_final_accuracy", table_name="experiments")
    op.drop_index("ix_experiments_final_accuracy", table_name="experiments")
    op.drop_index(
        "ix_deployment_status_changes_deployment_pk", table_name="deployment_status_changes"
    )
    op.drop_table("deployment_status_changes")
    op.drop_table("registry_versions")
    op.drop_index("ix_registry_approvals_entry_pk_stage", table_name="registry_approvals")
    op.drop_table("registry_approvals")
    op.drop_table("model_aliases")
    op.drop_index("ix_deployments_swarm_id_status", table_name="deployments")
    op.drop_index("ix_deployments_model_pk_environment", table_name="deployments")
    op.drop_table("deployments")
    op.drop_table("registry_entries")
    op.drop_index("ix_registry_audit_swarm_id_model_id", table_name="registry_audit")
    op.drop_table("registry_audit")
