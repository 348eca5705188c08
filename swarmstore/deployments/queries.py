"""Queries of the deployment aggregate: deployments and their status history.

Registry lookups (the entry governing a model, its approvals, the audit
writer) are in ``swarmstore.registry.queries``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from swarmstore.errors import DeploymentNotFoundError
from swarmstore.meta.tables import ModelRow
from swarmstore.meta.tables_registry import DeploymentRow, DeploymentStatusRow


def find_deployment(session: Session, swarm_id: str, deployment_id: str) -> DeploymentRow | None:
    return session.scalar(
        select(DeploymentRow).where(
            DeploymentRow.swarm_id == swarm_id, DeploymentRow.deployment_id == deployment_id
        )
    )


def require_deployment(session: Session, swarm_id: str, deployment_id: str) -> DeploymentRow:
    row = find_deployment(session, swarm_id, deployment_id)
    if row is None:
        raise DeploymentNotFoundError(
            f"deployment {deployment_id!r} not found in swarm {swarm_id!r}",
            swarm_id=swarm_id,
            deployment_id=deployment_id,
        )
    return row


def model_of(session: Session, row: DeploymentRow) -> ModelRow:
    """The model a deployment serves (the foreign key guarantees one)."""
    model = session.get(ModelRow, row.model_pk)
    assert model is not None
    return model


def active_deployment(session: Session, model_pk: int, environment: str) -> DeploymentRow | None:
    """The deployment of a model now active in ``environment``, if any."""
    return session.scalar(
        select(DeploymentRow).where(
            DeploymentRow.model_pk == model_pk,
            DeploymentRow.environment == environment,
            DeploymentRow.status == "active",
        )
    )


def previous_deployment(
    session: Session, current: DeploymentRow, to_version: str | None
) -> DeploymentRow | None:
    """The latest earlier deployment of this model and environment that served
    another version (``to_version`` when given)."""
    query = (
        select(DeploymentRow)
        .where(
            DeploymentRow.model_pk == current.model_pk,
            DeploymentRow.environment == current.environment,
            DeploymentRow.pk < current.pk,
            DeploymentRow.version != current.version,
        )
        .order_by(DeploymentRow.pk.desc())
        .limit(1)
    )
    if to_version is not None:
        query = query.where(DeploymentRow.version == to_version)
    return session.scalar(query)


def list_deployments(
    session: Session,
    swarm_id: str,
    *,
    model_id: str | None = None,
    environment: str | None = None,
    status: str | None = None,
) -> list[DeploymentRow]:
    query = select(DeploymentRow).where(DeploymentRow.swarm_id == swarm_id)
    if model_id is not None:
        query = query.join(ModelRow, ModelRow.pk == DeploymentRow.model_pk).where(
            ModelRow.model_id == model_id
        )
    if environment is not None:
        query = query.where(DeploymentRow.environment == environment)
    if status is not None:
        query = query.where(DeploymentRow.status == status)
    return list(session.scalars(query.order_by(DeploymentRow.pk)))


def insert_deployment(
    session: Session,
    *,
    swarm_id: str,
    deployment_id: str,
    model_pk: int,
    version_pk: int,
    version: str,
    environment: str,
    config: dict[str, Any],
    monitoring: dict[str, Any],
    replaces: str | None,
    who: str,
    now: datetime,
) -> DeploymentRow:
    """Add an ``active`` deployment row and flush it (its ``pk`` is then known)."""
    row = DeploymentRow(
        swarm_id=swarm_id,
        deployment_id=deployment_id,
        model_pk=model_pk,
        version_pk=version_pk,
        version=version,
        environment=environment,
        status="active",
        config=config,
        monitoring=monitoring,
        replaces=replaces,
        deployed_by=who,
        created=now,
        updated=now,
    )
    session.add(row)
    session.flush()
    return row


def add_status(
    session: Session, row: DeploymentRow, status: str, *, at: datetime, reason: str, who: str
) -> None:
    """Append one entry to a deployment's status history."""
    session.add(
        DeploymentStatusRow(deployment_pk=row.pk, status=status, at=at, reason=reason, who=who)
    )


def status_history(session: Session, row: DeploymentRow) -> list[DeploymentStatusRow]:
    """A deployment's status changes, oldest first (pending writes flushed first)."""
    session.flush()
    return list(
        session.scalars(
            select(DeploymentStatusRow)
            .where(DeploymentStatusRow.deployment_pk == row.pk)
            .order_by(DeploymentStatusRow.pk)
        )
    )
