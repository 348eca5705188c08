"""An experiment record <-> its ``experiments`` row, summary columns included.

The summary columns are derived here, in one place, on every write:

- ``epochs``: rows of ``trainingHistory``;
- ``final_accuracy``: ``finalMetrics.accuracy``, else the last validation
  accuracy, else the last training accuracy;
- ``final_loss``: the last finite validation loss, else the last finite
  training loss;
- ``best_validation_loss``: the smallest finite validation loss;
- ``best_epoch`` / ``converged`` / ``overfitting_risk``: from ``convergenceAnalysis``;
- ``duration``: ``duration``, else completedAt - startedAt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from swarmstore.meta.tables_training import ExperimentRow
from swarmstore.records.experiment import EpochMetrics, TrainingExperiment


def _last(values: Sequence[float | None]) -> float | None:
    for value in reversed(values):
        if value is not None and math.isfinite(value):
            return float(value)
    return None


def summary(rec: TrainingExperiment) -> dict[str, Any]:
    history = rec.metrics.training_history
    val_losses = [h.validation_loss for h in history]
    finite_val = [v for v in val_losses if v is not None and math.isfinite(v)]
    accuracy = rec.metrics.final_metrics.accuracy
    if accuracy is None:
        accuracy = _last([h.validation_accuracy for h in history])
    if accuracy is None:
        accuracy = _last([h.training_accuracy for h in history])
    loss = _last(val_losses)
    if loss is None:
        loss = _last([h.training_loss for h in history])
    conv = rec.metrics.convergence_analysis
    return {
        "epochs": len(history),
        "final_accuracy": accuracy,
        "final_loss": loss,
        "best_validation_loss": min(finite_val) if finite_val else None,
        "best_epoch": conv.best_epoch,
        "converged": conv.converged,
        "overfitting_risk": conv.overfitting_risk,
        "duration": rec.elapsed_seconds(),
    }


def history_json(history: Sequence[EpochMetrics]) -> list[Any]:
    return [h.to_json_dict() for h in history]


def row_values(rec: TrainingExperiment, dataset_id: str) -> dict[str, Any]:
    """Every column of the row but the keys and the created/updated stamps."""
    metrics = rec.metrics
    return {
        "name": rec.name,
        "model_id": rec.model_id,
        "agent_id": rec.agent_id,
        "dataset_id": dataset_id,
        "status": rec.status,
        "hyperparameters": rec.hyperparameters.to_json_dict(),
        "history": history_json(metrics.training_history),
        "final_metrics": metrics.final_metrics.to_json_dict(),
        "convergence": metrics.convergence_analysis.to_json_dict(),
        "resource_usage": rec.resource_usage.to_json_dict(),
        "tags": list(rec.tags),
        "started": rec.started_at,
        "ended": rec.completed_at,
        **summary(rec),
    }


def apply(row: ExperimentRow, values: dict[str, Any], now: datetime) -> None:
    for name, value in values.items():
        setattr(row, name, value)
    row.updated = now


def to_record(
    row: ExperimentRow, datasets: Sequence[str], checkpoints: Sequence[str]
) -> TrainingExperiment:
    return TrainingExperiment.model_validate(
        {
            "id": row.experiment_id,
            "name": row.name,
            "modelId": row.model_id,
            "datasetId": datasets[0] if datasets else row.dataset_id,
            "datasets": list(datasets),
            "agentId": row.agent_id,
            "tags": list(row.tags),
            "hyperparameters": row.hyperparameters,
            "metrics": {
                "trainingHistory": row.history,
                "finalMetrics": row.final_metrics,
                "convergenceAnalysis": row.convergence,
            },
            "checkpoints": list(checkpoints),
            "status": row.status,
            "startedAt": row.started,
            "completedAt": row.ended,
            "duration": row.duration,
            "resourceUsage": row.resource_usage,
            "swarmId": row.swarm_id,
        }
    )
