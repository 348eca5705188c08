"""Stored experiment records: the seed's fields, checked references, computed
convergence, summary columns, lineage/events/outbox, typed errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sqlalchemy import select

from swarmstore import SwarmDatabaseManager
from swarmstore.errors import (
    DatasetNotFoundError,
    ExperimentNotFoundError,
    InvalidRecordError,
    ModelNotFoundError,
)
from swarmstore.meta.lineage import DATASET, EXPERIMENT, MODEL_VERSION, node_key
from swarmstore.meta.log import outbox_since
from swarmstore.meta.tables_lineage import LineageEdgeRow
from swarmstore.meta.tables_training import ExperimentRow
from swarmstore.records.experiment import NonFiniteValueError
from tests.conftest import model_record, store_snapshot


def _history(epochs: int = 10) -> list[dict[str, Any]]:
    return [
        {
            "epoch": e,
            "trainingLoss": 1.0 / (e + 1),
            "validationLoss": 1.1 / (e + 1) + 0.01 * e,
            "trainingAccuracy": min(1.0, 0.5 + 0.05 * e),
            "validationAccuracy": min(1.0, 0.45 + 0.04 * e),
            "learningRate": 0.001,
            "timestamp": f"2026-01-01T00:{e:02d}:00Z",
        }
        for e in range(epochs)
    ]


def _experiment(**extra: Any) -> dict[str, Any]:
    return {
        "id": "exp_001",
        "name": "baseline",
        "modelId": "model_001",
        "datasetId": "dataset_001",
        "hyperparameters": {
            "learningRate": 0.001,
            "batchSize": 32,
            "epochs": 10,
            "optimizer": "adam",
            "lossFunction": "cross_entropy",
            "regularization": {"dropout": 0.1},
            "schedulers": {},
        },
        "metrics": {
            "trainingHistory": _history(),
            "finalMetrics": {
                "accuracy": 0.91,
                "precision": 0.9,
                "recall": 0.88,
                "f1Score": 0.89,
                "customMetrics": {"top5": 0.99},
            },
        },
        "checkpoints": ["v1", "v2"],
        "status": "completed",
        "startedAt": "2026-01-01T00:00:00Z",
        "completedAt": "2026-01-01T01:00:00Z",
        "resourceUsage": {"gpuHours": 1.0, "cpuHours": 4.0, "memoryPeak": 8e9, "storageUsed": 1e6},
        **extra,
    }


@pytest.fixture
def prepared(db: SwarmDatabaseManager) -> SwarmDatabaseManager:
    for i, version in enumerate(("v1", "v2")):
        db.store_neural_model("s", model_record(version, {"w": torch.full((2, 2), float(i))}))
    db.store_training_dataset(
        "s",
        {
            "id": "dataset_001",
            "name": "D",
            "dataType": "supervised",
            "format": "tensor",
            "samples": {"inputs": [np.zeros(2, np.float32)] * 4, "labels": ["a", "b"] * 2},
        },
    )
    return db


def test_seed_record_round_trips_with_computed_convergence(prepared: SwarmDatabaseManager) -> None:
    seen: list[dict[str, Any]] = []
    prepared.on("training_experiment_stored", seen.append)
    stored = prepared.store_training_experiment("s", _experiment())
    got = prepared.get_training_experiment("s", "exp_001")
    assert got.metrics.training_history == stored.metrics.training_history
    assert got.hyperparameters.optimizer == "adam"
    assert got.metrics.final_metrics.custom_metrics == {"top5": 0.99}
    assert got.checkpoints == ["v1", "v2"] and got.dataset_id == "dataset_001"
    assert got.resource_usage.gpu_hours == 1.0 and got.elapsed_seconds() == 3600
    analysis = got.metrics.convergence_analysis
    assert analysis == stored.metrics.convergence_analysis
    assert analysis.best_epoch is not None and 0.0 <= analysis.overfitting_risk <= 1.0
    assert seen == [
        {
            "swarm_id": "s",
            "experiment_id": "exp_001",
            "model_id": "model_001",
            "status": "completed",
        }
    ]
    given = {"converged": True, "plateauDetected": False, "overfittingRisk": 0.25}
    kept = prepared.store_training_experiment(
        "s",
        _experiment(id="exp_002", metrics={"trainingHistory": [], "convergenceAnalysis": given}),
    )
    assert kept.metrics.convergence_analysis.overfitting_risk == 0.25  # given is kept


def test_summary_columns_follow_the_record(prepared: SwarmDatabaseManager) -> None:
    prepared.store_training_experiment("s", _experiment())
    with prepared._meta.read() as session:
        row = session.scalar(select(ExperimentRow).where(ExperimentRow.experiment_id == "exp_001"))
    assert row is not None
    assert row.epochs == 10 and row.final_accuracy == 0.91 and row.duration == 3600
    losses = [h["validationLoss"] for h in _history()]
    assert row.best_validation_loss == pytest.approx(min(losses))
    assert row.final_loss == pytest.approx(losses[-1])


def test_storing_again_replaces_the_record_and_its_links(prepared: SwarmDatabaseManager) -> None:
    prepared.store_training_experiment("s", _experiment(status="running", completedAt=None))
    prepared.store_training_experiment("s", _experiment(checkpoints=["model_001/v2"]))
    got = prepared.get_training_experiment("s", "exp_001")
    assert got.status == "completed" and got.checkpoints == ["model_001/v2"]


def test_lineage_edges_and_outbox(prepared: SwarmDatabaseManager) -> None:
    prepared.store_training_experiment("s", _experiment())
    with prepared._meta.read() as session:
        edges = set(
            session.execute(
                select(LineageEdgeRow.rel, LineageEdgeRow.dst).where(
                    LineageEdgeRow.src == node_key(EXPERIMENT, "s", "exp_001")
                )
            ).all()
        )
        topics = [r.topic for r in outbox_since(session, 0)]
    assert edges == {
        ("USED_DATASET", node_key(DATASET, "s", "dataset_001", "1")),
        ("PRODUCED", node_key(MODEL_VERSION, "s", "model_001", "v1")),
        ("PRODUCED", node_key(MODEL_VERSION, "s", "model_001", "v2")),
    }
    assert "experiment.upserted" in topics


def test_bad_experiments_raise_typed_errors_and_write_nothing(
    prepared: SwarmDatabaseManager, store_path: Path
) -> None:
    before = store_snapshot(store_path)
    with pytest.raises(ModelNotFoundError) as missing:
        prepared.store_training_experiment("s", _experiment(checkpoints=["v1", "v9", "other/v1"]))
    assert "'v9'" in str(missing.value) and "'other/v1'" in str(missing.value)
    assert missing.value.checkpoints == ["v9", "other/v1"]  # type: ignore[attr-defined]
    with pytest.raises(DatasetNotFoundError) as no_data:
        prepared.store_training_experiment("s", _experiment(datasetId="dataset_404"))
    assert "dataset_404" in str(no_data.value)
    with pytest.raises(DatasetNotFoundError):
        prepared.store_training_experiment("s", _experiment(datasetId="dataset_001/7"))
    history = _history()
    history[3]["trainingAccuracy"] = float("nan")
    with pytest.raises(NonFiniteValueError) as nan:
        prepared.store_training_experiment("s", _experiment(metrics={"trainingHistory": history}))
    assert nan.value.field == "metrics.trainingHistory.3.trainingAccuracy"
    with pytest.raises(NonFiniteValueError):
        prepared.store_training_experiment(
            "s", _experiment(resourceUsage={"cpuHours": float("inf")})
        )
    with pytest.raises(InvalidRecordError):
        prepared.store_training_experiment("s", _experiment(checkpoints=["v1", "model_001/v1"]))
    with pytest.raises(InvalidRecordError):
        prepared.store_training_experiment("s", ["not", "a", "record"])  # type: ignore[arg-type]
    with pytest.raises(ExperimentNotFoundError):
        prepared.get_training_experiment("s", "exp_404")
    with pytest.raises(ExperimentNotFoundError):
        prepared.get_metric_history("s", "exp_404")
    assert store_snapshot(store_path) == before


def test_a_diverged_loss_is_kept(prepared: SwarmDatabaseManager) -> None:
    history = _history(3)
    history[2]["trainingLoss"] = float("nan")
    stored = prepared.store_training_experiment(
        "s", _experiment(metrics={"trainingHistory": history}, checkpoints=[])
    )
    assert stored.metrics.convergence_analysis.diverged
    got = prepared.get_training_experiment("s", "exp_001")
    assert got.metrics.training_history[2].training_loss is not None
    assert np.isnan(got.metrics.training_history[2].training_loss)
