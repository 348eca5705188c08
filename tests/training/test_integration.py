"""integrate_with_neural_service: history, interval checkpoints, lineage, events, resources."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from swarmstore import InvalidRecordError, SwarmDatabaseManager
from swarmstore.training import IntegrationOptions

SWARM = "swarm"


def _net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))


def _nudge(model: torch.nn.Module, by: float = 0.01) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.add_(by)


def test_every_callback_records_history_checkpoints_lineage_and_events(
    db: SwarmDatabaseManager,
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    names = (
        "neural_service_integrated",
        "training_started",
        "epoch_completed",
        "checkpoint_saved",
        "model_saved",
        "training_completed",
    )
    for name in names:

        def remember(event: dict[str, Any], name: str = name) -> None:
            seen.append((name, event))

        db.on(name, remember)
    model = _net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    integration = db.integrate_with_neural_service(
        SWARM,
        "agent_1",
        {"modelId": "net", "checkpointInterval": 2, "enableAutoCheckpointing": True},
    )
    experiment_id = integration.on_training_start(hyperparameters={"learning_rate": 0.1})
    saved = []
    for epoch in range(5):
        optimizer.zero_grad()
        model(torch.ones(1, 8)).sum().backward()
        optimizer.step()
        loss = 1.0 / (epoch + 1)
        saved.append(
            integration.on_epoch_complete(
                epoch,
                {"loss": loss, "val_acc": 0.5 + epoch / 10, "f1": 0.3},
                model,
                optimizer,
                step=10 * (epoch + 1),
            )
        )
    manual = integration.on_model_save(model, optimizer, version="hand-picked")
    summary = integration.on_training_complete(model=model, final_metrics={"accuracy": 0.9})

    assert saved == [None, "e0001-s00000020", None, "e0003-s00000040", None]
    versions = [v.version for v in db.list_model_versions(SWARM, "net")]
    assert versions == [
        "e0001-s00000020",
        "e0003-s00000040",
        "hand-picked",
        "e0004-s00000050-final",
    ]
    assert summary["versions"] == versions and summary["final_version"] == versions[-1]
    infos = {v.version: v for v in db.list_model_versions(SWARM, "net")}
    assert infos["e0003-s00000040"].parent_version == "e0001-s00000020"
    assert infos["e0003-s00000040"].checkpoint_type == "incremental"
    assert infos["e0001-s00000020"].checkpoint_type == "full"
    assert manual == "hand-picked"

    record = db.get_training_experiment(SWARM, experiment_id)
    history = record.metrics.training_history
    assert [row.epoch for row in history] == [0, 1, 2, 3, 4]
    assert [row.training_loss for row in history] == [1.0 / (e + 1) for e in range(5)]
    assert history[2].validation_accuracy == pytest.approx(0.7)
    assert record.checkpoints == versions
    assert record.status == "completed" and record.metrics.final_metrics.accuracy == 0.9
    usage = record.resource_usage
    assert usage.memory_peak > 0 and usage.cpu_hours > 0
    assert usage.storage_used == sum(v.stored_size for v in infos.values())

    stored = db.get_neural_model(SWARM, "net", "e0003-s00000040")
    training = stored.metadata.model_extra["training"]  # type: ignore[index]
    assert training["epoch"] == 3 and training["step"] == 40 and training["index"] == 2
    assert training["experimentId"] == experiment_id
    assert stored.metadata.training_epochs == 4 and stored.metadata.loss == 0.25
    assert any(name.startswith("optimizer/state/") for name in stored.state)
    assert "rng/torch" in stored.state

    fired = [name for name, _e in seen]
    assert fired[:2] == ["neural_service_integrated", "training_started"]
    assert fired.count("epoch_completed") == 5 and fired.count("checkpoint_saved") == 2
    assert fired.count("model_saved") == 2 and fired[-1] == "training_completed"
    logged = [e["name"] for e in db.events_since(0, limit=10_000)]
    assert logged.count("epoch_completed") == 5 and "neural_service_integrated" in logged


def test_step_interval_checkpoints_and_step_metrics(db: SwarmDatabaseManager) -> None:
    model = _net()
    integration = db.integrate_with_neural_service(
        SWARM, "agent_1", modelId="net", checkpointUnit="step", checkpointInterval=3
    )
    experiment_id = integration.on_training_start()
    versions = []
    for step in range(1, 8):
        _nudge(model)
        versions.append(integration.on_step(step, {"loss": 1.0 / step}, epoch=0, model=model))
    integration.on_training_complete()
    assert [v for v in versions if v] == ["e0000-s00000003", "e0000-s00000006"]
    history = db.get_metric_history(SWARM, experiment_id, "loss")
    assert list(history.steps) == list(range(1, 8))


def test_versioning_disabled_keeps_only_the_newest_auto_checkpoint(
    db: SwarmDatabaseManager,
) -> None:
    model = _net()
    integration = db.integrate_with_neural_service(
        SWARM, "agent_1", {"modelId": "net", "enableModelVersioning": False, "saveFinal": False}
    )
    integration.on_training_start()
    for epoch in range(4):
        _nudge(model)
        integration.on_epoch_complete(epoch, {"loss": 1.0}, model)
    integration.on_training_complete(model=model)
    assert [v.version for v in db.list_model_versions(SWARM, "net")] == ["e0003-s00000000"]
    restored = db.get_neural_model(SWARM, "net")
    assert all(torch.equal(restored.weights[k], v) for k, v in model.state_dict().items())


def test_custom_version_format_and_name_clash_gets_a_suffix(db: SwarmDatabaseManager) -> None:
    model = _net()
    options = IntegrationOptions(model_id="net", version_format="run-{index:03d}", save_final=False)
    first = db.integrate_with_neural_service(SWARM, "agent_1", options)
    first.on_training_start()
    first.on_epoch_complete(0, {"loss": 1.0}, model)
    first.on_training_complete()
    second = db.integrate_with_neural_service(SWARM, "agent_1", options)
    second.on_training_start()
    assert second.on_epoch_complete(0, {"loss": 1.0}, model) == "run-001"
    second.on_training_complete()
    assert [v.version for v in db.list_model_versions(SWARM, "net")] == ["run-001", "run-001-r2"]


@pytest.mark.parametrize(
    "options",
    [
        {"checkpointInterval": 0},
        {"retention": {"keepBest": 2}},
        {"versionFormat": "{nope}"},
        {"versionFormat": "a/{epoch}"},
        {"asyncSave": "sometimes"},
        {"unknownOption": 1},
        "not a mapping",
    ],
)
def test_bad_options_raise_before_anything_is_written(
    db: SwarmDatabaseManager, store_path: Path, options: Any
) -> None:
    from tests.conftest import store_snapshot

    before = store_snapshot(store_path)
    with pytest.raises(InvalidRecordError):
        db.integrate_with_neural_service(SWARM, "agent_1", options)
    assert store_snapshot(store_path) == before


def test_resource_usage_has_wall_cpu_and_storage(db: SwarmDatabaseManager) -> None:
    model = _net()
    integration = db.integrate_with_neural_service(SWARM, "a", modelId="net")
    run = integration.on_training_start()
    integration.on_epoch_complete(0, {"loss": 0.5}, model)
    summary = integration.on_training_complete()
    usage = summary["resource_usage"]
    assert usage["wallSeconds"] > 0 and usage["cpuSeconds"] >= 0
    assert usage["checkpoints"] == 1 and usage["storageUsed"] > 0
    assert math.isclose(usage["cpuHours"], usage["cpuSeconds"] / 3600)
    record = db.get_training_experiment(SWARM, run)
    assert record.resource_usage.storage_used > 0
