"""Lifecycle records: the seed's examples parse, errors name the field, the
registry and deployment rules hold."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from swarmstore.errors import InvalidRecordError
from swarmstore.records.dataset import (
    DatasetSamples,
    InvalidFieldError,
    InvalidSplitError,
    TrainingDataset,
)
from swarmstore.records.deployment import ModelDeployment, change_status
from swarmstore.records.experiment import NonFiniteValueError, TrainingExperiment
from swarmstore.records.registry import (
    Approval,
    AuditEntry,
    InvalidTransitionError,
    ModelRegistryEntry,
    PromotionBlockedError,
    promote,
)
from tests.registry import helpers_governance as governance_seeds

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def as_json(record: Any) -> Any:
    """``to_json_dict`` typed loosely for indexing in asserts."""
    return record.to_json_dict()


def seed_dataset(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "dataset_001",
        "name": "CIFAR-10 Enhanced",
        "description": "Augmented CIFAR-10 dataset",
        "dataType": "supervised",
        "format": "image",
        "samples": {
            "inputs": [b"\x89PNG0", b"\x89PNG1", b"\x89PNG2"],
            "labels": ["cat", "dog", "cat"],
        },
        "statistics": {"totalSamples": 3, "inputDimensions": [32, 32, 3]},
        "splits": {"training": [0], "validation": [1], "test": [2]},
        "preprocessing": {"normalization": "z-score", "augmentation": ["rotation", "flip"]},
    }
    data.update(changes)
    return data


def seed_experiment(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "exp_001",
        "name": "baseline",
        "modelId": "model_001",
        "datasetId": "dataset_001",
        "hyperparameters": {
            "learningRate": 0.001,
            "batchSize": 32,
            "epochs": 2,
            "optimizer": "adam",
            "lossFunction": "cross_entropy",
            "regularization": {"weightDecay": 1e-4},
            "schedulers": {"type": "cosine"},
            "warmupSteps": 100,
        },
        "metrics": {
            "trainingHistory": [
                {
                    "epoch": 0,
                    "trainingLoss": 1.0,
                    "validationLoss": 1.1,
                    "trainingAccuracy": 0.5,
                    "validationAccuracy": 0.45,
                    "learningRate": 0.001,
                    "timestamp": "2024-01-01T00:00:00Z",
                },
                {"epoch": 1, "trainingLoss": 0.5, "validationLoss": 0.7, "learningRate": 0.001},
            ],
            "finalMetrics": {
                "accuracy": 0.95,
                "precision": 0.94,
                "recall": 0.93,
                "f1Score": 0.935,
                "customMetrics": {"top5": 0.99},
            },
            "convergenceAnalysis": {
                "converged": True,
                "plateauDetected": False,
                "overfittingRisk": 0.1,
            },
        },
        "checkpoints": ["model_001_v1.0"],
        "status": "completed",
        "startedAt": "2024-01-01T00:00:00Z",
        "completedAt": "2024-01-01T02:00:00Z",
        "duration": 7200,
        "resourceUsage": {"gpuHours": 2, "cpuHours": 4, "memoryPeak": 8e9, "storageUsed": 1e8},
    }
    data.update(changes)
    return data


def seed_registry(**changes: Any) -> dict[str, Any]:
    """The seed's registry example, naming its dataset lineage as the seed does."""
    lineage = {"parentModels": [], "datasetLineage": ["dataset_001"]}
    return governance_seeds.seed_registry(**{"lineage": lineage, **changes})


seed_deployment = governance_seeds.seed_deployment

RECORDS = [
    (TrainingDataset, seed_dataset),
    (TrainingExperiment, seed_experiment),
    (ModelRegistryEntry, seed_registry),
    (ModelDeployment, seed_deployment),
]


@pytest.mark.parametrize(("model", "make"), RECORDS)
def test_seed_examples_round_trip_through_camel_case_json(model: Any, make: Any) -> None:
    record = model.model_validate(make())
    data = record.to_json_dict()
    assert all("_" not in key for key in data)  # camelCase on the way out
    again = model.model_validate(data)
    assert again.to_json_dict() == data


def test_snake_case_keys_are_accepted() -> None:
    record = TrainingExperiment.model_validate(
        {
            "id": "e",
            "model_id": "m",
            "dataset_id": "d",
            "hyperparameters": {"learning_rate": 0.1, "batch_size": 8},
        }
    )
    assert record.hyperparameters.learning_rate == 0.1
    assert as_json(record)["hyperparameters"]["batchSize"] == 8


@pytest.mark.parametrize(
    "model",
    [
        TrainingDataset,
        TrainingExperiment,
        ModelRegistryEntry,
        Approval,
        AuditEntry,
        ModelDeployment,
    ],
)
def test_json_schema_generates(model: Any) -> None:
    for mode in ("validation", "serialization"):
        schema = model.model_json_schema(by_alias=True, mode=mode)
        assert schema["type"] == "object"
        assert all("_" not in name for name in schema["properties"])


def test_dataset_samples_survive_json_bit_exactly() -> None:
    payload = np.array([np.nan, -0.0, np.inf], dtype=">f4")
    payload.view(">u4")[0] = 0x7FC00123  # a NaN with a payload
    record = TrainingDataset.model_validate(
        seed_dataset(
            format="tensor",
            samples={"inputs": [payload, np.arange(4).reshape(2, 2), [1, 2]]},
            statistics={},
        )
    )
    back = TrainingDataset.model_validate(record.to_json_dict()).samples.inputs
    assert back[0].dtype == payload.dtype and back[0].tobytes() == payload.tobytes()
    assert back[1].shape == (2, 2) and back[2].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        (
            {"splits": {"training": [0, 1], "validation": [1]}},
            InvalidSplitError,
            "splits.validation.0",
        ),
        ({"splits": {"training": [3]}}, InvalidSplitError, "splits.training.0"),
        ({"splits": {"training": [0, 0]}}, InvalidSplitError, "splits.training.1"),
        ({"splits": {"test": [-1]}}, InvalidSplitError, "splits.test.0"),
        ({"dataType": "semi"}, InvalidFieldError, "dataType"),
        ({"format": "video"}, InvalidFieldError, "format"),
        ({"statistics": {"totalSamples": 7}}, InvalidFieldError, "statistics.totalSamples"),
        ({"format": "text"}, InvalidFieldError, "samples.inputs.0"),
        (
            {"samples": {"inputs": [b"a"], "labels": ["x", "y"]}, "statistics": {}},
            InvalidFieldError,
            "samples.labels",
        ),
        (
            {"samples": {"inputs": [[1, [2, 3]]]}, "format": "tensor"},
            InvalidFieldError,
            "samples.inputs.0",
        ),
    ],
)
def test_dataset_errors_name_the_field(
    changes: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as caught:
        TrainingDataset.model_validate(seed_dataset(**changes))
    assert isinstance(caught.value, InvalidRecordError) and isinstance(caught.value, ValueError)
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert field in str(caught.value)


def test_split_range_uses_total_samples_when_samples_are_not_loaded() -> None:
    TrainingDataset.model_validate(
        seed_dataset(samples={}, statistics={"totalSamples": 50}, splits={"test": [49]})
    )
    with pytest.raises(InvalidSplitError, match="out of range for 50"):
        TrainingDataset.model_validate(
            seed_dataset(samples={}, statistics={"totalSamples": 50}, splits={"test": [50]})
        )


def test_assignment_is_validated_too() -> None:
    record = TrainingDataset.model_validate(seed_dataset())
    with pytest.raises(InvalidFieldError, match="format"):
        record.format = "video"  # type: ignore[assignment]


def history(*rows: dict[str, Any]) -> dict[str, Any]:
    return {
        "trainingHistory": [{"epoch": i, "trainingLoss": 1.0} | row for i, row in enumerate(rows)]
    }


def test_diverged_losses_may_be_nan_or_inf() -> None:
    record = TrainingExperiment.model_validate(
        seed_experiment(
            status="failed",
            metrics=history({"trainingLoss": math.nan}, {"validationLoss": math.inf}),
        )
    )
    assert record.metrics.training_history[0].training_loss is not None
    assert math.isnan(record.metrics.training_history[0].training_loss)
    data = as_json(record)
    assert data["metrics"]["trainingHistory"][1]["validationLoss"] == "Infinity"  # strict JSON
    json.dumps(data, allow_nan=False)
    again = TrainingExperiment.model_validate_json(record.model_dump_json())
    assert again.metrics.training_history[0].training_loss is not None
    assert math.isnan(again.metrics.training_history[0].training_loss)
    assert again.metrics.training_history[1].validation_loss == math.inf


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"metrics": history({}, {"learningRate": math.nan})},
            "metrics.trainingHistory.1.learningRate",
        ),
        (
            {"metrics": history({"trainingAccuracy": math.inf})},
            "metrics.trainingHistory.0.trainingAccuracy",
        ),
        (
            {"metrics": history({"trainingLoss": -math.inf})},
            "metrics.trainingHistory.0.trainingLoss",
        ),
        (
            {"metrics": {"finalMetrics": {"customMetrics": {"bleu": math.nan}}}},
            "metrics.finalMetrics.customMetrics.bleu",
        ),
        ({"hyperparameters": {"learningRate": math.inf}}, "hyperparameters.learningRate"),
        ({"resourceUsage": {"cpuHours": math.nan}}, "resourceUsage.cpuHours"),
    ],
)
def test_non_finite_numbers_raise_a_typed_error(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(NonFiniteValueError) as caught:
        TrainingExperiment.model_validate(seed_experiment(**changes))
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "done"}, "status"),
        ({"metrics": history({}, {"epoch": 0})}, "metrics.trainingHistory.1.epoch"),
        (
            {"metrics": history({"trainingAccuracy": 95.0})},
            "metrics.trainingHistory.0.trainingAccuracy",
        ),
        ({"completedAt": "2023-12-31T00:00:00Z"}, "completedAt"),
        ({"status": "running"}, "completedAt"),
        ({"hyperparameters": {"batchSize": 0}}, "hyperparameters.batchSize"),
    ],
)
def test_experiment_errors_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        TrainingExperiment.model_validate(seed_experiment(**changes))
    assert caught.value.field == field


def test_hyperparameter_extras_are_kept() -> None:
    record = TrainingExperiment.model_validate(seed_experiment())
    assert as_json(record)["hyperparameters"]["warmupSteps"] == 100


# --------------------------------------------------------------------------- registry


def approval(who: str, decision: str = "approved", minutes: int = 0, **extra: Any) -> Approval:
    return Approval.model_validate(
        {"registryId": "registry_001", "stage": "production", "approver": who, "decision": decision}
        | {"decidedAt": T0 + timedelta(minutes=minutes)}
        | extra
    )


def test_registry_defaults_gate_production() -> None:
    entry = ModelRegistryEntry.model_validate(seed_registry())
    assert entry.governance.require_approval_for == ["production"]
    with pytest.raises(InvalidFieldError, match="latestVersion"):
        ModelRegistryEntry.model_validate(seed_registry(latestVersion="v9"))


def test_promotion_needs_every_listed_approver() -> None:
    entry = ModelRegistryEntry.model_validate(seed_registry())
    with pytest.raises(PromotionBlockedError) as caught:
        promote(entry, "production", who="alice", approvals=[approval("tech_lead")])
    assert caught.value.missing_approvers == ["ml_architect"]
    assert isinstance(caught.value, PermissionError)
    approvals = [approval("tech_lead"), approval("ml_architect")]
    moved, audit = promote(
        entry, "production", who="alice", why="passed eval", approvals=approvals, at=T0
    )
    assert moved.deployment.status == "production" and entry.deployment.status == "staging"
    data = audit.to_json_dict()
    assert (data["from"], data["to"], data["who"], data["why"]) == (
        "staging",
        "production",
        "alice",
        "passed eval",
    )
    assert data["approvers"] == ["ml_architect", "tech_lead"]


def test_a_later_rejection_withdraws_approval() -> None:
    entry = ModelRegistryEntry.model_validate(seed_registry())
    approvals = [
        approval("tech_lead"),
        approval("ml_architect"),
        approval("tech_lead", "rejected", minutes=5),
    ]
    with pytest.raises(PromotionBlockedError, match="tech_lead"):
        promote(entry, "production", who="alice", approvals=approvals)


def test_approvals_for_another_version_do_not_count() -> None:
    entry = ModelRegistryEntry.model_validate(seed_registry())
    approvals = [approval(a, version="model_001_v1.0") for a in ("tech_lead", "ml_architect")]
    with pytest.raises(PromotionBlockedError):
        promote(entry, "production", who="alice", approvals=approvals, version="model_001_v1.1")
    moved, _ = promote(
        entry, "production", who="alice", approvals=approvals, version="model_001_v1.0"
    )
    assert moved.deployment.status == "production"


def test_without_listed_approvers_four_eyes_apply() -> None:
    entry = ModelRegistryEntry.model_validate(seed_registry(governance={"owner": "ml_team"}))
    with pytest.raises(PromotionBlockedError):
        promote(entry, "production", who="alice", approvals=[approval("alice")])
    promote(entry, "production", who="alice", approvals=[approval("bob")])


def test_failing_compliance_checks_block_gated_stages_only() -> None:
    governance = {"approvers": [], "complianceChecks": [{"name": "bias-audit", "status": "failed"}]}
    entry = ModelRegistryEntry.model_validate(seed_registry(governance=governance))
    with pytest.raises(PromotionBlockedError) as caught:
        promote(entry, "production", who="alice", approvals=[approval("bob")])
    assert caught.value.blocking_checks == ["bias-audit"]
    moved, _ = promote(entry, "development", who="alice")
    assert moved.deployment.status == "development"


def test_archived_is_terminal() -> None:
    entry = ModelRegistryEntry.model_validate(seed_registry())
    archived, audit = promote(entry, "archived", who="alice", why="superseded")
    assert audit.approvers == []
    with pytest.raises(InvalidTransitionError):
        promote(archived, "staging", who="alice")
    with pytest.raises(InvalidTransitionError):
        promote(entry, "staging", who="alice")  # already there


# --------------------------------------------------------------------------- deployment


def test_deployment_status_changes_are_recorded() -> None:
    deployment = ModelDeployment.model_validate(seed_deployment(createdAt=T0))
    assert deployment.id.startswith("deploy_") and deployment.status == "active"
    failed = change_status(deployment, "failed", reason="OOM", at=T0 + timedelta(hours=1))
    retired = change_status(
        failed, "retired", reason="cleanup", who="ops", at=T0 + timedelta(hours=2)
    )
    assert [c.status for c in retired.status_history] == ["active", "failed", "retired"]
    assert retired.status_history[-1].who == "ops" and deployment.status == "active"
    with pytest.raises(InvalidTransitionError):
        change_status(retired, "active")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "paused"}, "status"),
        ({"status": "retired", "statusHistory": [{"status": "active"}]}, "status"),
        (
            {
                "status": "active",
                "statusHistory": [
                    {"status": "active"},
                    {"status": "retired"},
                    {"status": "active"},
                ],
            },
            "statusHistory.2",
        ),
        (
            {"config": {"scaling": {"minReplicas": 5, "maxReplicas": 2}}},
            "config.scaling.maxReplicas",
        ),
        ({"config": {"scaling": {"targetCPU": 150}}}, "config.scaling.targetCPU"),
        ({"config": {"resources": {"memory": "4 gigs"}}}, "config.resources.memory"),
        ({"monitoring": {"logLevel": "loud"}}, "monitoring.logLevel"),
        (
            {"monitoring": {"alertThresholds": {"accuracy": math.nan}}},
            "monitoring.alertThresholds.accuracy",
        ),
    ],
)
def test_deployment_errors_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        ModelDeployment.model_validate(seed_deployment(**changes))
    assert caught.value.field == field


def test_samples_column_lengths_must_match() -> None:
    with pytest.raises(InvalidFieldError, match="outputs"):
        DatasetSamples(inputs=[b"a"], outputs=[])
