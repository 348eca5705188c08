"""``get_neural_model_lifecycle_stats``: the seed's numbers, each one SQL aggregate.

Definitions (documented because the seed only shows an example):

- ``totalModels``: models with at least one visible (not deleted) version.
- ``totalExperiments`` / ``totalDatasets``: stored experiments / distinct
  datasets (a dataset with several versions counts once).
- ``totalDeployments``: deployments ever made (any status).
- ``averageAccuracy`` / ``averageModelSize``: mean over models of their latest
  visible version's ``metadata.accuracy`` / raw size in bytes (versions that
  report no accuracy are left out); ``None`` when no version has one.
- ``architectureDistribution``: models per architecture.
- ``deploymentStatus``: deployments per current status.
- ``recentActivity``: versions stored and experiments started in the last
  ``recent`` (default 7 days), and deployments active now.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from swarmstore.analytics.training_source import TrainingSource
from swarmstore.meta.tables import ModelRow, VersionRow
from swarmstore.meta.tables_registry import DeploymentRow
from swarmstore.records.analytics import LifecycleStats

DEFAULT_RECENT = timedelta(days=7)


def _swarm(query: Any, column: Any, swarm_id: str | None) -> Any:
    return query if swarm_id is None else query.where(column == swarm_id)


def lifecycle_stats(
    session: Session,
    training: TrainingSource,
    swarm_id: str | None,
    *,
    now: datetime,
    recent: timedelta = DEFAULT_RECENT,
) -> LifecycleStats:
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
    cutoff = now - recent
    stored_recently = session.scalar(
        _swarm(
            select(func.count())
            .select_from(VersionRow)
            .join(ModelRow, ModelRow.pk == VersionRow.model_pk)
            .where(VersionRow.hidden.is_(False), VersionRow.created >= cutoff),
            ModelRow.swarm_id,
            swarm_id,
        )
    )
    by_status = {status: int(n) for status, n in statuses}
    return {
        "totalModels": int(total_models),
        "totalExperiments": training.count_experiments(session, swarm_id),
        "totalDatasets": training.count_datasets(session, swarm_id),
        "totalDeployments": sum(by_status.values()),
        "averageAccuracy": None if avg_accuracy is None else float(avg_accuracy),
        "averageModelSize": None if avg_size is None else float(avg_size),
        "architectureDistribution": {arch or "unknown": int(n) for arch, n in architectures},
        "deploymentStatus": by_status,
        "recentActivity": {
            "modelsStored": int(stored_recently or 0),
            "experimentsRun": training.count_experiments(session, swarm_id, since=cutoff),
            "deploymentsActive": by_status.get("active", 0),
        },
    }
