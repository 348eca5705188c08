"""The training tables (``swarmstore.meta.tables_training``) as analytics sees them.

Experiments are queried through their summary columns where they exist
(``finalMetrics.accuracy`` and ``accuracy`` map to ``final_accuracy``, which
is indexed for the benchmark's ordered query); other JSON paths are extracted
per dialect. ``history`` (the epoch rows) is left out of the ``experiments``
target: the ``training_history`` target flattens it, one row per epoch, and
``metrics`` gives the streamed points (non-finite values restored from their
flag: SQLite stores NaN as NULL).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from swarmstore.analytics.queries.filters import Catalog
from swarmstore.analytics.queries.targets import Target
from swarmstore.meta.tables import ModelRow, VersionRow
from swarmstore.meta.tables_training import (
    NAN,
    NEG_INF,
    POS_INF,
    DatasetRow,
    ExperimentCheckpointRow,
    ExperimentRow,
    MetricPointRow,
)

_NON_FINITE = {NAN: math.nan, POS_INF: math.inf, NEG_INF: -math.inf}
_FINAL_KEYS = ("accuracy", "precision", "recall", "f1Score", "auc")


def _experiment_select() -> Any:
    e = ExperimentRow
    return select(
        e.swarm_id.label("swarmId"),
        e.experiment_id.label("experimentId"),
        e.name.label("name"),
        e.model_id.label("modelId"),
        e.agent_id.label("agentId"),
        e.dataset_id.label("datasetId"),
        e.status.label("status"),
        e.epochs.label("epochs"),
        e.final_accuracy.label("finalAccuracy"),
        e.final_loss.label("finalLoss"),
        e.best_validation_loss.label("bestValidationLoss"),
        e.best_epoch.label("bestEpoch"),
        e.converged.label("converged"),
        e.overfitting_risk.label("overfittingRisk"),
        e.duration.label("duration"),
        e.started.label("startedAt"),
        e.ended.label("completedAt"),
        e.hyperparameters.label("hyperparameters"),
        e.final_metrics.label("finalMetrics"),
        e.convergence.label("convergenceAnalysis"),
        e.resource_usage.label("resourceUsage"),
        e.tags.label("tags"),
    )


_E = ExperimentRow
EXPERIMENTS = Target(
    name="experiments",
    build=_experiment_select,
    catalog=Catalog(
        columns={
            "swarmId": _E.swarm_id,
            "experimentId": _E.experiment_id,
            "name": _E.name,
            "modelId": _E.model_id,
            "agentId": _E.agent_id,
            "datasetId": _E.dataset_id,
            "status": _E.status,
            "epochs": _E.epochs,
            "finalAccuracy": _E.final_accuracy,
            "finalLoss": _E.final_loss,
            "bestValidationLoss": _E.best_validation_loss,
            "bestEpoch": _E.best_epoch,
            "converged": _E.converged,
            "overfittingRisk": _E.overfitting_risk,
            "duration": _E.duration,
            "startedAt": _E.started,
            "completedAt": _E.ended,
        },
        json={
            "hyperparameters": _E.hyperparameters,
            "finalMetrics": _E.final_metrics,
            "convergenceAnalysis": _E.convergence,
            "resourceUsage": _E.resource_usage,
        },
        aliases={
            "accuracy": "finalAccuracy",
            "finalMetrics.accuracy": "finalAccuracy",
            "loss": "finalLoss",
            "convergenceAnalysis.converged": "converged",
            "convergenceAnalysis.overfittingRisk": "overfittingRisk",
            "convergenceAnalysis.bestEpoch": "bestEpoch",
            "started": "startedAt",
        },
        tags=_E.tags,
    ),
    swarm_column=_E.swarm_id,
    default_order=(_E.pk,),
)

_P = MetricPointRow


def _metric_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        code = row.pop("nonFinite", 0)
        if code in _NON_FINITE:
            row["value"] = _NON_FINITE[code]
    return rows


METRICS = Target(
    name="metrics",
    build=lambda: select(
        _E.swarm_id.label("swarmId"),
        _E.experiment_id.label("experimentId"),
        _P.key.label("key"),
        _P.step.label("step"),
        _P.epoch.label("epoch"),
        _P.value.label("value"),
        _P.wall_time.label("wallTime"),
        _P.non_finite.label("nonFinite"),
    ).join(_E, _E.pk == _P.experiment_pk),
    catalog=Catalog(
        columns={
            "swarmId": _E.swarm_id,
            "experimentId": _E.experiment_id,
            "modelId": _E.model_id,
            "status": _E.status,
            "key": _P.key,
            "step": _P.step,
            "epoch": _P.epoch,
            "value": _P.value,
            "wallTime": _P.wall_time,
        },
        json={"hyperparameters": _E.hyperparameters},
        tags=_E.tags,
    ),
    swarm_column=_E.swarm_id,
    default_order=(_P.experiment_pk, _P.key, _P.step),
    finish=_metric_rows,
    hidden_columns=frozenset({"nonFinite"}),
)

_D = DatasetRow
DATASETS = Target(
    name="datasets",
    build=lambda: select(
        _D.swarm_id.label("swarmId"),
        _D.dataset_id.label("datasetId"),
        _D.version.label("version"),
        _D.seq.label("seq"),
        _D.parent_version.label("parentVersion"),
        _D.name.label("name"),
        _D.description.label("description"),
        _D.data_type.label("dataType"),
        _D.format.label("format"),
        _D.quality.label("qualityScore"),
        _D.total_samples.label("totalSamples"),
        _D.samples_length.label("samplesBytes"),
        _D.statistics.label("statistics"),
        _D.created.label("created"),
    ),
    catalog=Catalog(
        columns={
            "swarmId": _D.swarm_id,
            "datasetId": _D.dataset_id,
            "version": _D.version,
            "name": _D.name,
            "dataType": _D.data_type,
            "format": _D.format,
            "qualityScore": _D.quality,
            "totalSamples": _D.total_samples,
            "created": _D.created,
        },
        json={"statistics": _D.statistics, "record": _D.record},
        aliases={"quality": "qualityScore"},
    ),
    swarm_column=_D.swarm_id,
    default_order=(_D.swarm_id, _D.dataset_id, _D.seq),
)


def _history_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        for epoch in row.pop("history") or []:
            out.append(
                {
                    "swarmId": row["swarmId"],
                    "experimentId": row["experimentId"],
                    "epoch": epoch.get("epoch"),
                    "trainingLoss": _float(epoch.get("trainingLoss")),
                    "validationLoss": _float(epoch.get("validationLoss")),
                    "trainingAccuracy": _float(epoch.get("trainingAccuracy")),
                    "validationAccuracy": _float(epoch.get("validationAccuracy")),
                    "learningRate": _float(epoch.get("learningRate")),
                }
            )
    return out


def _float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value)  # "NaN"/"Infinity" strings (strict JSON) parse too


TRAINING_HISTORY = Target(
    name="training_history",
    build=lambda: select(
        _E.swarm_id.label("swarmId"),
        _E.experiment_id.label("experimentId"),
        _E.history.label("history"),
    ),
    catalog=EXPERIMENTS.catalog,
    swarm_column=_E.swarm_id,
    default_order=(_E.pk,),
    finish=_history_rows,
    row_schema=(
        ("swarmId", "string"),
        ("experimentId", "string"),
        ("epoch", "int64"),
        ("trainingLoss", "float64"),
        ("validationLoss", "float64"),
        ("trainingAccuracy", "float64"),
        ("validationAccuracy", "float64"),
        ("learningRate", "float64"),
    ),
)


class SqlTraining:
    """``TrainingSource`` over the training tables."""

    available = True

    def count_experiments(
        self, session: Session, swarm_id: str | None, *, since: datetime | None = None
    ) -> int:
        query = select(func.count()).select_from(ExperimentRow)
        if swarm_id is not None:
            query = query.where(ExperimentRow.swarm_id == swarm_id)
        if since is not None:
            query = query.where(ExperimentRow.started >= since)
        return int(session.scalar(query) or 0)

    def count_datasets(self, session: Session, swarm_id: str | None) -> int:
        ids = select(DatasetRow.swarm_id, DatasetRow.dataset_id).distinct()
        if swarm_id is not None:
            ids = ids.where(DatasetRow.swarm_id == swarm_id)
        return int(session.scalar(select(func.count()).select_from(ids.subquery())) or 0)

    def experiments_of_model(
        self, session: Session, swarm_id: str, model_id: str
    ) -> list[dict[str, Any]]:
        rows = list(
            session.scalars(
                select(ExperimentRow)
                .where(ExperimentRow.swarm_id == swarm_id, ExperimentRow.model_id == model_id)
                .order_by(ExperimentRow.started, ExperimentRow.pk)
            )
        )
        checkpoints: dict[int, list[str]] = {}
        for experiment_pk, version in session.execute(
            select(ExperimentCheckpointRow.experiment_pk, VersionRow.version)
            .join(VersionRow, VersionRow.pk == ExperimentCheckpointRow.version_pk)
            .where(ExperimentCheckpointRow.experiment_pk.in_([r.pk for r in rows] or [-1]))
            .order_by(ExperimentCheckpointRow.experiment_pk, ExperimentCheckpointRow.position)
        ):
            checkpoints.setdefault(experiment_pk, []).append(version)
        return [
            {
                "experiment_id": r.experiment_id,
                "name": r.name,
                "dataset_id": r.dataset_id or None,
                "status": r.status,
                "started_at": r.started,
                "completed_at": r.ended,
                "epochs": r.epochs,
                "final_metrics": r.final_metrics,
                "best_validation_loss": r.best_validation_loss,
                "checkpoints": checkpoints.get(r.pk, []),
                "resource_usage": r.resource_usage,
                "duration": r.duration,
            }
            for r in rows
        ]

    def final_metrics_by_version(
        self, session: Session, swarm_id: str, model_id: str
    ) -> dict[str, dict[str, float]]:
        rows = session.execute(
            select(VersionRow.version, ExperimentRow.final_metrics)
            .join(ExperimentCheckpointRow, ExperimentCheckpointRow.version_pk == VersionRow.pk)
            .join(ExperimentRow, ExperimentRow.pk == ExperimentCheckpointRow.experiment_pk)
            .join(ModelRow, ModelRow.pk == VersionRow.model_pk)
            .where(ModelRow.swarm_id == swarm_id, ModelRow.model_id == model_id)
            .order_by(ExperimentRow.pk)  # a later experiment's scores win
        )
        out: dict[str, dict[str, float]] = {}
        for version, final in rows:
            scores = {k: final[k] for k in _FINAL_KEYS if isinstance(final.get(k), int | float)}
            for key, value in (final.get("customMetrics") or {}).items():
                if isinstance(value, int | float):
                    scores[key] = value
            out.setdefault(version, {}).update(scores)
        return out

    def targets(self) -> dict[str, Target]:
        return {t.name: t for t in (EXPERIMENTS, METRICS, DATASETS, TRAINING_HISTORY)}
