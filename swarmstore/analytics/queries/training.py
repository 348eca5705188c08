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
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from swarmstore.analytics.queries.targets import Column, Target
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


_E = ExperimentRow
EXPERIMENTS = Target(
    name="experiments",
    columns=(
        Column("swarmId", _E.swarm_id),
        Column("experimentId", _E.experiment_id),
        Column("name", _E.name),
        Column("modelId", _E.model_id),
        Column("agentId", _E.agent_id),
        Column("datasetId", _E.dataset_id),
        Column("status", _E.status),
        Column("epochs", _E.epochs),
        Column("finalAccuracy", _E.final_accuracy),
        Column("finalLoss", _E.final_loss),
        Column("bestValidationLoss", _E.best_validation_loss),
        Column("bestEpoch", _E.best_epoch),
        Column("converged", _E.converged),
        Column("overfittingRisk", _E.overfitting_risk),
        Column("duration", _E.duration),
        Column("startedAt", _E.started),
        Column("completedAt", _E.ended),
        Column("hyperparameters", _E.hyperparameters, filter_as="json"),
        Column("finalMetrics", _E.final_metrics, filter_as="json"),
        Column("convergenceAnalysis", _E.convergence, filter_as="json"),
        Column("resourceUsage", _E.resource_usage, filter_as="json"),
        Column("tags", _E.tags, filter_as="tags"),
    ),
    aliases={
        "accuracy": "finalAccuracy",
        "finalMetrics.accuracy": "finalAccuracy",
        "loss": "finalLoss",
        "convergenceAnalysis.converged": "converged",
        "convergenceAnalysis.overfittingRisk": "overfittingRisk",
        "convergenceAnalysis.bestEpoch": "bestEpoch",
        "started": "startedAt",
    },
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
    columns=(
        Column("swarmId", _E.swarm_id),
        Column("experimentId", _E.experiment_id),
        # the experiment's fields a filter may name without selecting them
        Column("modelId", _E.model_id, selected=False),
        Column("status", _E.status, selected=False),
        Column("key", _P.key),
        Column("step", _P.step),
        Column("epoch", _P.epoch),
        Column("value", _P.value),
        Column("wallTime", _P.wall_time),
        Column("nonFinite", _P.non_finite, filter_as=None),
        Column("hyperparameters", _E.hyperparameters, filter_as="json", selected=False),
        Column("tags", _E.tags, filter_as="tags", selected=False),
    ),
    source=lambda s: s.join(_E, _E.pk == _P.experiment_pk),
    default_order=(_P.experiment_pk, _P.key, _P.step),
    finish=_metric_rows,
    hidden_columns=frozenset({"nonFinite"}),
)

_D = DatasetRow
DATASETS = Target(
    name="datasets",
    columns=(
        Column("swarmId", _D.swarm_id),
        Column("datasetId", _D.dataset_id),
        Column("version", _D.version),
        Column("seq", _D.seq, filter_as=None),
        Column("parentVersion", _D.parent_version, filter_as=None),
        Column("name", _D.name),
        Column("description", _D.description, filter_as=None),
        Column("dataType", _D.data_type),
        Column("format", _D.format),
        Column("qualityScore", _D.quality),
        Column("totalSamples", _D.total_samples),
        Column("samplesBytes", _D.samples_length, filter_as=None),
        Column("statistics", _D.statistics, filter_as="json"),
        Column("record", _D.record, filter_as="json", selected=False),
        Column("created", _D.created),
    ),
    aliases={"quality": "qualityScore"},
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


#: filters name an experiment's fields; the rows select only its ids and history
_HISTORY_IDS = ("swarmId", "experimentId")
TRAINING_HISTORY = Target(
    name="training_history",
    columns=(
        *(replace(c, selected=c.name in _HISTORY_IDS) for c in EXPERIMENTS.columns),
        Column("history", _E.history, filter_as=None),
    ),
    aliases=EXPERIMENTS.aliases,
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
