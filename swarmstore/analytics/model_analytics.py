"""``get_model_analytics``: one model's versions, metric trends, training runs,
deployments and resource use, read in one read transaction.

Trends: for each metric a version reports (``accuracy``/``loss`` from version
metadata, overridden by the final metrics of the experiment that checkpointed
it, as in ``compare_models``), the
values oldest version first, the best one (max, or min for metrics named like
a loss or error) and whether the last beats the first by more than 1e-9.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from swarmstore.analytics.queries import models as aq
from swarmstore.analytics.training_source import TrainingSource
from swarmstore.meta.tables_registry import RegistryEntryRow
from swarmstore.meta.unit import Session
from swarmstore.models import queries as q
from swarmstore.records.analytics import (
    DeploymentSummary,
    ExperimentSummary,
    MetricTrend,
    ModelAnalytics,
    ResourceUtilization,
    TrainingSummary,
    TrendPoint,
    VersionSummary,
)

_LOWER_IS_BETTER = ("loss", "error", "perplexity", "mse", "mae", "rmse", "latency")


def metric_mode(name: str) -> str:
    lowered = name.lower()
    return "min" if any(word in lowered for word in _LOWER_IS_BETTER) else "max"


def trend(metric: str, points: list[tuple[str, float]]) -> MetricTrend:
    mode = metric_mode(metric)
    pick = max if mode == "max" else min
    best_version, best = pick(points, key=lambda p: p[1])
    first, last = points[0][1], points[-1][1]
    gain = (last - first) if mode == "max" else (first - last)
    direction = "improving" if gain > 1e-9 else "degrading" if gain < -1e-9 else "flat"
    return MetricTrend(
        metric=metric,
        mode=mode,  # type: ignore[arg-type]
        points=[TrendPoint(version=v, value=x) for v, x in points],
        first=first,
        last=last,
        best=best,
        best_version=best_version,
        change=last - first,
        direction=direction,  # type: ignore[arg-type]
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def model_analytics(
    session: Session,
    training: TrainingSource,
    swarm_id: str,
    model_id: str,
    *,
    include_experiments: bool = True,
    include_deployments: bool = True,
) -> ModelAnalytics:
    model = q.require_model(session, swarm_id, model_id)
    rows = q.list_versions(session, model.pk)
    names = {r.pk: r.version for r in q.list_versions(session, model.pk, include_hidden=True)}
    entry = aq.registry_entry(session, model.pk)
    stages: dict[str, str] = {}
    if entry is not None:
        stages = dict(entry.record.get("deployment", {}).get("versionStages", {}))
    aliases = aq.aliases_by_version(session, model.pk)

    versions = [
        VersionSummary(
            version=r.version,
            seq=r.seq,
            created=r.created,
            parent_version=names.get(r.parent_pk) if r.parent_pk else None,
            accuracy=_number(r.meta.get("accuracy")),
            loss=_number(r.meta.get("loss")),
            model_size=r.model_size,
            stored_size=r.stored_size,
            checkpoint_type=r.checkpoint_type,
            stage=stages.get(r.version),
            aliases=aliases.get(r.version, []),
        )
        for r in rows
    ]
    final_by_version = training.final_metrics_by_version(session, swarm_id, model_id)
    series: dict[str, list[tuple[str, float]]] = {}
    for v in versions:
        values: dict[str, float] = {}
        if v.accuracy is not None:
            values["accuracy"] = v.accuracy
        if v.loss is not None:
            values["loss"] = v.loss
        for key, value in final_by_version.get(v.version, {}).items():
            number = _number(value)
            if number is not None:
                values[key] = number  # the experiment's final score wins over metadata
        for key, value in values.items():
            series.setdefault(key, []).append((v.version, value))
    resources = ResourceUtilization(
        versions_raw_bytes=sum(v.model_size for v in versions),
        versions_stored_bytes=sum(v.stored_size for v in versions),
    )
    if resources.versions_stored_bytes:
        resources.compression_ratio = resources.versions_raw_bytes / resources.versions_stored_bytes
    training_summary = None
    if include_experiments:
        experiments = training.experiments_of_model(session, swarm_id, model_id)
        training_summary = _training(experiments)
        training_summary.available = training.available
        for experiment in experiments:
            usage = experiment.get("resource_usage") or {}
            resources.gpu_hours += float(usage.get("gpuHours") or 0.0)
            resources.cpu_hours += float(usage.get("cpuHours") or 0.0)
            resources.peak_memory = max(resources.peak_memory, float(usage.get("memoryPeak") or 0))
            resources.experiment_storage += float(usage.get("storageUsed") or 0.0)
            resources.training_seconds += float(experiment.get("duration") or 0.0)
    return ModelAnalytics(
        swarm_id=swarm_id,
        model_id=model_id,
        model_name=model.model_name,
        architecture=model.architecture,
        total_versions=len(versions),
        latest_version=versions[-1].version if versions else None,
        versions=versions,
        performance_trends={k: trend(k, pts) for k, pts in sorted(series.items())},
        registry=None if entry is None else _registry(entry, aliases),
        training=training_summary,
        deployments=_deployments(session, model.pk) if include_deployments else None,
        resource_utilization=resources,
    )


def _training(experiments: list[dict[str, Any]]) -> TrainingSummary:
    summaries = [
        ExperimentSummary.model_validate(
            {k: v for k, v in e.items() if k in ExperimentSummary.model_fields}
        )
        for e in experiments
    ]
    return TrainingSummary(
        total=len(summaries),
        by_status=dict(Counter(s.status for s in summaries)),
        experiments=summaries,
    )


def _registry(entry: RegistryEntryRow, aliases: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "registryId": entry.registry_id,
        "name": entry.name,
        "stage": entry.stage,
        "versionStages": entry.record.get("deployment", {}).get("versionStages", {}),
        "aliases": {a: v for v, names in aliases.items() for a in names},
        "benchmarkScores": entry.record.get("performance", {}).get("benchmarkScores", {}),
    }


def _deployments(session: Session, model_pk: int) -> DeploymentSummary:
    rows = aq.deployments_of_model(session, model_pk)
    return DeploymentSummary(
        total=len(rows),
        by_status=dict(Counter(r.status for r in rows)),
        active={r.environment: r.version for r in rows if r.status == "active"},
        history=[
            {
                "deploymentId": r.deployment_id,
                "version": r.version,
                "environment": r.environment,
                "status": r.status,
                "created": r.created.isoformat(),
                "replaces": r.replaces,
            }
            for r in rows
        ],
    )
