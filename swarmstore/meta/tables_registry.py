"""SQL tables for the registry, approvals, aliases, audit trail and deployments.

One registry entry governs one model (``registry_entries.model_pk`` is unique);
its versions carry their own stage in ``registry_versions``. Approvals, the
audit trail and deployment status changes are append-only: rows are inserted,
never updated or deleted (the 0004 migration adds triggers that refuse both).
The full records stay in JSON columns (``record``, ``config``, ``monitoring``)
so that fields the seed adds round-trip; the columns beside them are what
queries filter and group on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from swarmstore.meta.tables import ID_LENGTH, Base
from swarmstore.meta.tables_training import ExperimentRow

APPEND_ONLY_TABLES = ("registry_approvals", "registry_audit", "deployment_status_changes")


class RegistryEntryRow(Base):
    __tablename__ = "registry_entries"
    __table_args__ = (
        UniqueConstraint("swarm_id", "registry_id"),
        UniqueConstraint("model_pk"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    swarm_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    registry_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    model_pk: Mapped[int] = mapped_column(ForeignKey("models.pk", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text, default="")
    use_case: Mapped[str] = mapped_column(Text, default="")
    stage: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(Text, default="")
    risk_level: Mapped[str] = mapped_column(String(16))
    record: Mapped[dict[str, Any]]
    created: Mapped[datetime]
    updated: Mapped[datetime]


class RegistryVersionRow(Base):
    """A version listed in an entry, with its own lifecycle stage."""

    __tablename__ = "registry_versions"
    __table_args__ = (UniqueConstraint("entry_pk", "version_pk"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_pk: Mapped[int] = mapped_column(ForeignKey("registry_entries.pk", ondelete="CASCADE"))
    version_pk: Mapped[int] = mapped_column(ForeignKey("model_versions.pk", ondelete="RESTRICT"))
    ref: Mapped[str] = mapped_column(String(ID_LENGTH))  # the reference as given
    stage: Mapped[str] = mapped_column(String(32))
    updated: Mapped[datetime]


class ModelAliasRow(Base):
    """``production``/``champion``/... -> one version of a model."""

    __tablename__ = "model_aliases"
    __table_args__ = (UniqueConstraint("model_pk", "alias"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_pk: Mapped[int] = mapped_column(ForeignKey("models.pk", ondelete="RESTRICT"))
    alias: Mapped[str] = mapped_column(String(ID_LENGTH))
    version_pk: Mapped[int] = mapped_column(ForeignKey("model_versions.pk", ondelete="RESTRICT"))
    updated_by: Mapped[str] = mapped_column(Text)
    updated: Mapped[datetime]


class ApprovalRow(Base):
    """One approver's decision (append-only; the latest per approver counts)."""

    __tablename__ = "registry_approvals"
    __table_args__ = (Index("ix_registry_approvals_entry_pk_stage", "entry_pk", "stage"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_pk: Mapped[int] = mapped_column(ForeignKey("registry_entries.pk", ondelete="RESTRICT"))
    version: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    stage: Mapped[str] = mapped_column(String(32))
    environment: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    approver: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime]


class AuditRow(Base):
    """Who changed what, when, from which value to which, and why (append-only)."""

    __tablename__ = "registry_audit"
    __table_args__ = (
        Index("ix_registry_audit_swarm_id_model_id", "swarm_id", "model_id"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    swarm_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    model_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    registry_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    version: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    action: Mapped[str] = mapped_column(String(32))
    who: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    from_value: Mapped[str | None] = mapped_column(Text, default=None)
    to_value: Mapped[str | None] = mapped_column(Text, default=None)
    why: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]]


class DeploymentRow(Base):
    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("swarm_id", "deployment_id"),
        Index("ix_deployments_swarm_id_status", "swarm_id", "status"),
        Index("ix_deployments_model_pk_environment", "model_pk", "environment"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    swarm_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    deployment_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    model_pk: Mapped[int] = mapped_column(ForeignKey("models.pk", ondelete="RESTRICT"))
    version_pk: Mapped[int] = mapped_column(ForeignKey("model_versions.pk", ondelete="RESTRICT"))
    version: Mapped[str] = mapped_column(String(ID_LENGTH))
    environment: Mapped[str] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]]
    monitoring: Mapped[dict[str, Any]]
    replaces: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    deployed_by: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime]
    updated: Mapped[datetime]


class DeploymentStatusRow(Base):
    """The status history of a deployment (append-only; the first row is ``active``)."""

    __tablename__ = "deployment_status_changes"
    __table_args__ = (Index("ix_deployment_status_changes_deployment_pk", "deployment_pk"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_pk: Mapped[int] = mapped_column(ForeignKey("deployments.pk", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    who: Mapped[str | None] = mapped_column(Text, default=None)


# Indexes the analytics queries need on the training tables (declared here, created by
# migration 0004): ordered experiment queries stop after ``limit`` rows instead of
# scanning and sorting every row (measured in benchmarks/results/analytics.md), and
# the swarm-scoped "experiments run recently" count is answered from the index alone
# (the wide ``history`` column sits before ``started``).
EXPERIMENT_ANALYTICS_INDEXES = (
    Index("ix_experiments_final_accuracy", ExperimentRow.final_accuracy),
    Index(
        "ix_experiments_swarm_id_final_accuracy",
        ExperimentRow.swarm_id,
        ExperimentRow.final_accuracy,
    ),
    Index("ix_experiments_swarm_id_started", ExperimentRow.swarm_id, ExperimentRow.started),
)
