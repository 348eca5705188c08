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

from swarmstore.analytics.queries import models as aq
from swarmstore.analytics.training_source import TrainingSource
from swarmstore.meta.unit import Session
from swarmstore.records.analytics import LifecycleStats

DEFAULT_RECENT = timedelta(days=7)


def lifecycle_stats(
    session: Session,
    training: TrainingSource,
    swarm_id: str | None,
    *,
    now: datetime,
    recent: timedelta = DEFAULT_RECENT,
) -> LifecycleStats:
    cutoff = now - recent
    totals = aq.model_totals(session, swarm_id, since=cutoff)
    by_status = dict(totals.deployment_statuses)
    return {
        "totalModels": totals.total_models,
        "totalExperiments": training.count_experiments(session, swarm_id),
        "totalDatasets": training.count_datasets(session, swarm_id),
        "totalDeployments": sum(by_status.values()),
        "averageAccuracy": totals.average_accuracy,
        "averageModelSize": totals.average_model_size,
        "architectureDistribution": {arch or "unknown": n for arch, n in totals.architectures},
        "deploymentStatus": by_status,
        "recentActivity": {
            "modelsStored": totals.stored_since,
            "experimentsRun": training.count_experiments(session, swarm_id, since=cutoff),
            "deploymentsActive": by_status.get("active", 0),
        },
    }
