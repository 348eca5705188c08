"""Read-only lookups and aggregates over models, versions, registry entries and
deployments: what lifecycle stats, model analytics and comparisons read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from swarmstore.meta.tables import ModelRow, VersionRow
from swarmstore.meta.tables_registry import DeploymentRow, ModelAliasRow, RegistryEntryRow


@dataclass(frozen=True)
class ModelTotals:
    """The SQL aggregates behind ``get_neural_model_lifecycle_stats``."""

    total_models: int
    average_accuracy: float | None
    average_model_size: float | None
    architectures: list[tuple[str | None, int]]
    deployment_statuses: list[tuple[str, int]]
    stored_since: int


def _swarm(query: Any, column: Any, swarm_id: str | None) -> Any:
    return query if swarm_id is None else query.where(column == swarm_id)


def model_totals(session: Session, swarm_id: str | None, *, since: datetime) -> ModelTotals:
    """Models with a visible version, the mean accuracy and raw size of their latest
    visible versions, models per architecture, deployments per status, and the
    visible versions stored at or after ``since``; of one swarm or all."""
    latest = _swarm(
        select(VersionRow.model_pk, func.max(VersionRow.seq).label("seq"))
        .join(ModelRow, ModelRow.pk == VersionRow.model_pk)
        .where(VersionRow.hidden.is_(False))
        .group_by(VersionRow.model_pk),
        ModelRow.swarm_id,
        swarm_id,
    ).subquery()
    accuracy = VersionRow.meta["accuracy"].as_float()
    total_models, avg_accuracy, avg_size = session.execute(
        select(func.count(), func.avg(accuracy), func.avg(VersionRow.model_size)).join(
            latest, (latest.c.model_pk == VersionRow.model_pk) & (latest.c.seq == VersionRow.seq)
        )
    ).one()
    architectures = session.execute(
        select(ModelRow.architecture, func.count())
        .join(latest, latest.c.model_pk == ModelRow.pk)
        .group_by(ModelRow.architecture)
        .order_by(ModelRow.architecture)
    ).all()
    statuses = session.execute(
        _swarm(
            select(DeploymentRow.status, func.count()).group_by(DeploymentRow.status),
            DeploymentRow.swarm_id,
            swarm_id,
        ).order_by(DeploymentRow.status)
    ).all()
    stored_since = session.scalar(
        _swarm(
            select(func.count())
            .select_from(VersionRow)
            .join(ModelRow, ModelRow.pk == VersionRow.model_pk)
            .where(VersionRow.hidden.is_(False), VersionRow.created >= since),
            ModelRow.swarm_id,
            swarm_id,
        )
    )
    return ModelTotals(
        total_models=int(total_models),
        average_accuracy=None if avg_accuracy is None else float(avg_accuracy),
        average_model_size=None if avg_size is None else float(avg_size),
        architectures=[(arch, int(n)) for arch, n in architectures],
        deployment_statuses=[(status, int(n)) for status, n in statuses],
        stored_since=int(stored_since or 0),
    )


def registry_entry(session: Session, model_pk: int) -> RegistryEntryRow | None:
    """The model's registry entry, if it has one.

    The same lookup as ``swarmstore.registry.queries.entry_of_model``, kept here
    because analytics cannot import ``registry``: ``registry`` imports
    ``experiments``, which imports ``analytics`` (an import circle)."""
    return session.scalar(select(RegistryEntryRow).where(RegistryEntryRow.model_pk == model_pk))


def aliases_by_version(session: Session, model_pk: int) -> dict[str, list[str]]:
    """version -> the model's aliases naming it, in alias order."""
    aliases: dict[str, list[str]] = {}
    for alias, version in session.execute(
        select(ModelAliasRow.alias, VersionRow.version)
        .join(VersionRow, VersionRow.pk == ModelAliasRow.version_pk)
        .where(ModelAliasRow.model_pk == model_pk)
        .order_by(ModelAliasRow.alias)
    ):
        aliases.setdefault(version, []).append(alias)
    return aliases


def deployments_of_model(session: Session, model_pk: int) -> list[DeploymentRow]:
    """Every deployment of any version of the model, oldest first."""
    return list(
        session.scalars(
            select(DeploymentRow)
            .where(DeploymentRow.model_pk == model_pk)
            .order_by(DeploymentRow.pk)
        )
    )
