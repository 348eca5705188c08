"""Builders for registry and deployment tests: real stores with small models."""

from __future__ import annotations

from typing import Any

from swarmstore import SwarmDatabaseManager
from tests.conftest import model_record, small_state_dict

SWARM = "swarm_123"


def store_versions(
    db: SwarmDatabaseManager,
    versions: tuple[str, ...] = ("v1.0", "v1.1"),
    *,
    model_id: str = "model_001",
    accuracies: tuple[float, ...] = (),
) -> None:
    for i, version in enumerate(versions):
        meta: dict[str, Any] = {"loss": 0.5 - 0.1 * i}
        meta["accuracy"] = accuracies[i] if i < len(accuracies) else 0.8 + 0.05 * i
        db.store_neural_model(
            SWARM,
            model_record(version, small_state_dict(i, width=8), model_id=model_id, metadata=meta),
        )


def seed_registry(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "registry_001",
        "name": "ImageClassifier",
        "description": "Production-ready image classification model",
        "category": "computer_vision",
        "useCase": "image_classification",
        "modelVersions": ["model_001_v1.0", "model_001_v1.1"],
        "latestVersion": "model_001_v1.1",
        "performance": {"benchmarkScores": {"accuracy": 0.95, "f1Score": 0.94}},
        "deployment": {"status": "staging", "environments": ["staging", "production"]},
        "governance": {"owner": "ml_team", "approvers": ["tech_lead", "ml_architect"]},
        "lineage": {"parentModels": [], "datasetLineage": []},
    }
    data.update(changes)
    return data


def seed_deployment(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "modelId": "model_001",
        "version": "v1.1",
        "environment": "production",
        "config": {
            "batchSize": 32,
            "maxConcurrency": 100,
            "timeout": 5000,
            "scaling": {"minReplicas": 2, "maxReplicas": 10, "targetCPU": 70, "targetMemory": 80},
            "resources": {"cpu": "2000m", "memory": "4Gi", "gpu": "1"},
        },
        "monitoring": {
            "metricsInterval": 30000,
            "alertThresholds": {"accuracy": 0.9},
            "logLevel": "info",
        },
    }
    data.update(changes)
    return data


def approve_all(db: SwarmDatabaseManager, version: str = "v1.1", **kw: Any) -> None:
    for who in ("tech_lead", "ml_architect"):
        db.approve_model(SWARM, "model_001", version, who, **kw)
