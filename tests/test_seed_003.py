"""Seed 003's usage examples, translated line by line to Python (issue 19, item 4).

The seed writes TypeScript (``await dbManager.storeNeuralModel('swarm_123', {...})``);
its Python form is ``db.store_neural_model("swarm_123", {...})`` with the same
camelCase records and options objects. Small torch models, nothing downloaded.
Then focused tests of what those calls need: event payloads in both spellings,
the options object of the similarity searches, an integration without a model
id, and checkpoint ids in the registry's ``model_001_v1.0`` form.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from swarmstore import SwarmDatabaseManager
from swarmstore.errors import CallbackOrderError, InvalidRecordError, ModelNotFoundError
from swarmstore.events import Event
from tests.conftest import model_record, small_state_dict

SWARM = "swarm_123"


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))


def _weights_and_biases(net: nn.Module) -> tuple[dict[str, Any], dict[str, Any]]:
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    weights = {k: v for k, v in state.items() if k.endswith("weight")}
    biases = {k: v for k, v in state.items() if k.endswith("bias")}
    return weights, biases


def _train_epoch(net: nn.Module, optimizer: torch.optim.Optimizer) -> float:
    x = torch.randn(32, 16)
    y = torch.randint(0, 4, (32,))
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()  # type: ignore[no-untyped-call]
    optimizer.step()
    return float(loss.detach())


def test_the_seeds_usage_examples_run_as_written(db: SwarmDatabaseManager) -> None:
    seen: dict[str, list[dict[str, Any]]] = {}
    log: list[str] = []

    # ## Event System (subscribed first, so every example below is heard)
    def on_model_stored(event: dict[str, Any]) -> None:
        swarm_id, model_id, version = event["swarmId"], event["modelId"], event["version"]
        log.append(f"New model stored: {model_id} v{version} in swarm {swarm_id}")

    def on_experiment(event: dict[str, Any]) -> None:
        log.append(f"Experiment tracked: {event['experimentId']} in swarm {event['swarmId']}")

    def on_deployed(event: dict[str, Any]) -> None:
        deployment_id, model_id = event["deploymentId"], event["modelId"]
        log.append(f"Model deployed: {model_id} as {deployment_id} in swarm {event['swarmId']}")

    def on_integrated(event: dict[str, Any]) -> None:
        agent_id, integration_id = event["agentId"], event["integrationId"]
        log.append(f"Neural Service integrated for agent {agent_id}: {integration_id}")

    db.on("neural_model_stored", on_model_stored)
    db.on("training_experiment_stored", on_experiment)
    db.on("model_deployed", on_deployed)
    db.on("neural_service_integrated", on_integrated)
    for name in ("neural_model_stored", "neural_service_integrated", "model_deployed"):
        db.on(name, lambda e, name=name: seen.setdefault(name, []).append(e))  # type: ignore[misc]

    # ### storeNeuralModel(swarmId, model)
    net = _net()
    weights_array, biases_array = _weights_and_biases(net)
    db.store_neural_model(
        "swarm_123",
        {
            "id": "model_001",
            "agentId": "agent_001",
            "modelName": "ClassificationNet",
            "version": "v1.0",
            "architecture": "feedforward",
            "hyperparameters": {"learningRate": 0.001, "epochs": 100},
            "weights": weights_array,
            "biases": biases_array,
            "metadata": {"accuracy": 0.95, "loss": 0.05},
        },
    )
    # ### getNeuralModel(swarmId, modelId, version?)
    model = db.get_neural_model("swarm_123", "model_001", "v1.0")
    assert model.model_name == "ClassificationNet" and model.version == "v1.0"
    assert set(model.weights) == set(weights_array)
    assert all(torch.equal(model.weights[k], weights_array[k]) for k in weights_array)
    assert "New model stored: model_001 vv1.0 in swarm swarm_123" in log

    # ### Complete Model Training and Storage
    # 1. Store training dataset
    rng = np.random.default_rng(0)
    n = 30
    image_buffers = [rng.standard_normal((32, 32, 3)).astype(np.float32) for _ in range(n)]
    image_labels = [f"class_{i % 10}" for i in range(n)]
    training_indices, val_indices, test_indices = (
        list(range(20)),
        [20, 21, 22, 23, 24],
        [
            25,
            26,
            27,
            28,
            29,
        ],
    )
    dataset = db.store_training_dataset(
        "swarm_123",
        {
            "id": "dataset_001",
            "name": "CIFAR-10 Enhanced",
            "description": "Augmented CIFAR-10 dataset",
            "dataType": "supervised",
            "format": "image",
            "samples": {"inputs": image_buffers, "labels": image_labels},
            "statistics": {"totalSamples": n, "inputDimensions": [32, 32, 3]},
            "splits": {
                "training": training_indices,
                "validation": val_indices,
                "test": test_indices,
            },
            "preprocessing": {"normalization": "z-score", "augmentation": ["rotation", "flip"]},
        },
    )
    assert dataset.statistics.total_samples == n
    assert dataset.statistics.input_dimensions == [32, 32, 3]

    # 2. Initialize Neural Service integration
    integration = db.integrate_with_neural_service(
        "swarm_123",
        "agent_001",
        {"enableAutoCheckpointing": True, "checkpointInterval": 10, "enableModelVersioning": True},
    )
    assert integration.integration_id
    (integrated,) = seen["neural_service_integrated"]
    assert integrated["integrationId"] == integration.integration_id
    assert integrated["swarmId"] == "swarm_123" and integrated["agentId"] == "agent_001"
    assert f"Neural Service integrated for agent agent_001: {integration.integration_id}" in log

    # 3. Training occurs with automatic callbacks...
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    experiment_id = integration.on_training_start(model_id="model_001", datasets=["dataset_001"])
    for epoch in range(20):
        loss = _train_epoch(net, optimizer)
        integration.on_epoch_complete(
            epoch, {"trainingLoss": loss, "trainingAccuracy": 0.5}, net, optimizer
        )
    saved = integration.on_model_save(net, version="v1.1")
    summary = integration.on_training_complete(final_metrics={"accuracy": 0.96})
    integration.close()
    # 4. Models are automatically stored with versioning
    assert summary["experiment_id"] == experiment_id and summary["model_id"] == "model_001"
    assert len(summary["versions"]) == 3 and saved == "v1.1"  # epochs 9 and 19, then v1.1
    versions = [v.version for v in db.list_model_versions("swarm_123", "model_001")]
    assert versions[0] == "v1.0" and "v1.1" in versions and len(versions) == 4
    assert f"Experiment tracked: {experiment_id} in swarm swarm_123" in log

    # 5. Get comprehensive analytics
    analytics = db.get_model_analytics(
        "swarm_123", "model_001", {"includeExperiments": True, "includeDeployments": True}
    )
    assert analytics.to_json_dict()["modelId"] == "model_001"

    # 6. Find similar models (another model to be found)
    db.store_neural_model("swarm_123", model_record("v1", small_state_dict(1), model_id="m2"))
    similar = db.find_similar_models("swarm_123", "model_001", {"limit": 5, "threshold": 0.8})
    assert len(similar) <= 5
    assert all(s.score >= 0.8 for s in similar)

    # ### Model Registry and Deployment
    # 1. Register model in registry
    registry = db.register_model_in_registry(
        "swarm_123",
        {
            "id": "registry_001",
            "name": "ImageClassifier",
            "description": "Production-ready image classification model",
            "category": "computer_vision",
            "useCase": "image_classification",
            "modelVersions": ["model_001_v1.0", "model_001_v1.1"],
            "latestVersion": "model_001_v1.1",
            "performance": {"benchmarkScores": {"accuracy": 0.95, "f1Score": 0.94}},
            # the seed writes status 'production'; governance blocks that until the
            # approvers approve (tests/registry), so the entry starts in staging
            "deployment": {"status": "staging", "environments": ["staging", "production"]},
            "governance": {"owner": "ml_team", "approvers": ["tech_lead", "ml_architect"]},
            "lineage": {"parentModels": [], "datasetLineage": ["dataset_001"]},
        },
    )
    assert registry.model_id == "model_001" and registry.model_versions == ["v1.0", "v1.1"]

    # (governance: the approvers approve before production, as tests/registry shows)
    db.approve_model("swarm_123", "model_001", "v1.1", "tech_lead")
    db.approve_model("swarm_123", "model_001", "v1.1", "ml_architect")

    # 2. Deploy model
    deployment = db.deploy_model(
        "swarm_123",
        {
            "modelId": "model_001",
            "version": "v1.1",
            "environment": "production",
            "config": {
                "batchSize": 32,
                "maxConcurrency": 100,
                "timeout": 5000,
                "scaling": {
                    "minReplicas": 2,
                    "maxReplicas": 10,
                    "targetCPU": 70,
                    "targetMemory": 80,
                },
                "resources": {"cpu": "2000m", "memory": "4Gi", "gpu": "1"},
            },
            "monitoring": {
                "metricsInterval": 30000,
                "alertThresholds": {"accuracy": 0.9},
                "logLevel": "info",
            },
        },
    )
    assert deployment.model_id == "model_001" and deployment.version == "v1.1"
    (deployed,) = seen["model_deployed"]
    assert deployed["deploymentId"] == deployment.id == deployed["deployment_id"]
    assert f"Model deployed: model_001 as {deployment.id} in swarm swarm_123" in log

    # ## Monitoring and Analytics: Lifecycle Statistics
    stats = db.get_neural_model_lifecycle_stats("swarm_123")
    stats_json = stats if isinstance(stats, dict) else stats.to_json_dict()
    assert stats_json["totalModels"] == 2
    assert stats_json["totalDatasets"] == 1
    assert stats_json["totalExperiments"] == 1
    assert stats_json["totalDeployments"] == 1

    # the log replays the same events in both spellings
    replayed = [e for e in db.events_since(0) if e["name"] == "neural_service_integrated"]
    assert replayed[0]["integrationId"] == integration.integration_id
    assert replayed[0]["integration_id"] == integration.integration_id


# -- a. event payloads answer both spellings ------------------------------------


def test_event_answers_camel_and_snake_keys_and_compares_as_stored() -> None:
    event = Event({"swarm_id": "s", "model_id": "m", "version": "v1", "deployment_id": "d"})
    assert event["swarmId"] == event["swarm_id"] == "s"
    assert event.get("modelId") == "m" and event.get("deploymentId") == "d"
    assert "experimentId" not in event and event.get("experimentId", 7) == 7
    assert "swarmId" in event and "version" in event
    with pytest.raises(KeyError):
        event["integrationId"]
    assert event == {"swarm_id": "s", "model_id": "m", "version": "v1", "deployment_id": "d"}
    assert set(event) == {"swarm_id", "model_id", "version", "deployment_id"}
    assert event.camel() == {"swarmId": "s", "modelId": "m", "version": "v1", "deploymentId": "d"}


def test_subscribers_and_the_log_get_both_spellings(db: SwarmDatabaseManager) -> None:
    heard: list[dict[str, Any]] = []
    db.on("neural_model_stored", heard.append)
    db.store_neural_model("s", model_record("v1", small_state_dict()))
    (event,) = heard
    assert event["swarmId"] == event["swarm_id"] == "s"
    assert event["modelId"] == event["model_id"] == "model_001"
    assert event["version"] == "v1"
    (logged,) = [e for e in db.events_since(0) if e["name"] == "neural_model_stored"]
    assert logged["modelId"] == "model_001" and logged["swarmId"] == "s"
    assert "modelId" not in dict(logged)  # stored payloads keep their snake_case keys


# -- b. similarity searches take the seed's options object -----------------------


def test_similarity_searches_take_an_options_mapping(db: SwarmDatabaseManager) -> None:
    for i in range(4):
        db.store_neural_model("s", model_record("v1", small_state_dict(i), model_id=f"m{i}"))
    by_keywords = db.find_similar_models("s", "m0", limit=2, threshold=-1.0)
    by_options = db.find_similar_models("s", "m0", {"limit": 2, "threshold": -1.0})
    assert [(r.model_id, r.version) for r in by_options] == [
        (r.model_id, r.version) for r in by_keywords
    ]
    assert len(by_options) == 2
    with_version = db.find_similar_models("s", "m0", {"version": "v1", "minAccuracy": None})
    assert isinstance(with_version, list)
    with pytest.raises(InvalidRecordError, match="unknown similarity search option"):
        db.find_similar_models("s", "m0", {"limt": 5})
    with pytest.raises(InvalidRecordError, match="version must be a string"):
        db.find_similar_models("s", "m0", {"version": 1})

    rng = np.random.default_rng(0)
    for i in range(3):
        db.store_training_dataset(
            "s",
            {
                "id": f"d{i}",
                "name": f"D{i}",
                "dataType": "supervised",
                "format": "tensor",
                "samples": {
                    "inputs": [rng.standard_normal(8).astype(np.float32) for _ in range(10)],
                    "labels": [f"c{j % 2}" for j in range(10)],
                },
            },
        )
    datasets = db.find_similar_datasets("s", "d0", {"limit": 1, "threshold": -1.0})
    assert len(datasets) == 1
    assert [d.dataset_id for d in datasets] == [
        d.dataset_id for d in db.find_similar_datasets("s", "d0", limit=1, threshold=-1.0)
    ]
    with pytest.raises(InvalidRecordError, match="unknown similarity search option"):
        db.find_similar_datasets("s", "d0", {"architecture": "x"})


# -- c. an integration without a model id ----------------------------------------


def test_integration_takes_incremental_learning_and_has_an_id(db: SwarmDatabaseManager) -> None:
    a = db.integrate_with_neural_service("s", "agent", {"incrementalLearning": True})
    b = db.integrate_with_neural_service("s", "agent", {"incremental_learning": False})
    assert a.options.incremental_learning is True and b.options.incremental_learning is False
    assert a.integration_id != b.integration_id
    events = [e for e in db.events_since(0) if e["name"] == "neural_service_integrated"]
    assert [e["integrationId"] for e in events] == [a.integration_id, b.integration_id]
    assert events[0]["options"]["incrementalLearning"] is True
    a.close()
    b.close()


def test_model_id_comes_at_training_start(db: SwarmDatabaseManager) -> None:
    net = _net()
    with db.integrate_with_neural_service("s", "agent", {"checkpointInterval": 1}) as integration:
        assert integration.model_id is None
        integration.on_training_start(model_id="m")
        integration.on_epoch_complete(0, {"loss": 1.0}, net)
        summary = integration.on_training_complete()
    assert summary["model_id"] == "m" and len(summary["versions"]) == 1


def test_model_id_comes_from_the_first_model_save(db: SwarmDatabaseManager) -> None:
    net = _net()
    with db.integrate_with_neural_service("s", "agent", {"checkpointInterval": 1}) as integration:
        experiment_id = integration.on_training_start()
        assert integration.model_id is None
        # no model id yet: the epoch is recorded, its auto-checkpoint skipped
        assert integration.on_epoch_complete(0, {"loss": 1.0}, net) is None
        with pytest.raises(CallbackOrderError, match="model_id="):
            integration.on_model_save(net)
        version = integration.on_model_save(net, model_id="m", version="v1")
        assert integration.model_id == "m"
        with pytest.raises(InvalidRecordError, match="trains 'm'"):
            integration.on_model_save(net, model_id="other")
        auto = integration.on_epoch_complete(1, {"loss": 0.5}, net)
        assert auto is not None
        summary = integration.on_training_complete()
    assert version == "v1" and summary["versions"] == ["v1", auto]
    experiment = db.get_training_experiment("s", experiment_id)
    assert experiment.model_id == "m"
    assert len(experiment.metrics.training_history) == 2
    assert [v.version for v in db.list_model_versions("s", "m")] == ["v1", auto]


def test_base_version_still_needs_a_model_id(db: SwarmDatabaseManager) -> None:
    integration = db.integrate_with_neural_service("s", "agent")
    with pytest.raises(CallbackOrderError, match="base_version"):
        integration.on_training_start(base_version="v1")
    integration.close()


# -- d. experiment checkpoints in the registry's form ----------------------------


def test_experiment_checkpoints_take_the_registry_form(db: SwarmDatabaseManager) -> None:
    db.store_neural_model("s", model_record("v1.0", small_state_dict(0)))
    db.store_neural_model("s", model_record("v1.1", small_state_dict(1)))
    db.store_neural_model("s", model_record("v1", small_state_dict(2), model_id="other_model"))
    experiment = db.store_training_experiment(
        "s",
        {
            "id": "exp_001",
            "name": "run",
            "modelId": "model_001",
            "checkpoints": ["model_001_v1.0", "v1.1", "other_model_v1"],
        },
    )
    assert experiment.checkpoints == ["model_001_v1.0", "v1.1", "other_model_v1"]
    again = db.get_training_experiment("s", "exp_001")
    assert again.checkpoints == experiment.checkpoints
    with pytest.raises(ModelNotFoundError, match="model_001_v9"):
        db.store_training_experiment(
            "s",
            {"id": "exp_002", "name": "r", "modelId": "model_001", "checkpoints": ["model_001_v9"]},
        )
    with pytest.raises(InvalidRecordError, match="listed before"):
        db.store_training_experiment(
            "s",
            {
                "id": "exp_003",
                "name": "r",
                "modelId": "model_001",
                "checkpoints": ["v1.0", "model_001_v1.0"],
            },
        )
