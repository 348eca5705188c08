"""Bad input to the training integration: each case has a defined, tested behaviour."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from swarmstore import (
    CallbackOrderError,
    CheckpointSaveError,
    InvalidRecordError,
    SwarmDatabaseManager,
)
from tests.conftest import store_snapshot
from tests.training.faults import unwritable_blobs

SWARM = "swarm"


def _integration(db: SwarmDatabaseManager, **options: object):  # type: ignore[no-untyped-def]
    return db.integrate_with_neural_service(SWARM, "agent", {"modelId": "net", **options})


def test_a_state_dict_that_changes_shape_is_stored_whole_and_recorded(
    db: SwarmDatabaseManager,
) -> None:
    torch.manual_seed(0)
    small = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.Linear(32, 4))
    integration = _integration(db)
    integration.on_training_start()
    integration.on_epoch_complete(0, {"loss": 1.0}, small)
    grown = torch.nn.Sequential(torch.nn.Linear(32, 48), torch.nn.Linear(48, 4))
    grown_first, small_first = grown[0], small[0]
    assert isinstance(grown_first, torch.nn.Linear) and isinstance(small_first, torch.nn.Linear)
    with torch.no_grad():
        grown_first.weight[:32].copy_(small_first.weight)
    version = integration.on_epoch_complete(1, {"loss": 0.9}, grown)
    integration.on_training_complete()

    stored = db.get_neural_model(SWARM, "net", version)
    training = stored.metadata.model_extra["training"]  # type: ignore[index]
    assert training["shapeChanged"] == ["0.bias", "0.weight", "1.weight"]
    assert stored.parent_version == "e0000-s00000000"  # lineage to the previous checkpoint
    assert all(torch.equal(stored.weights[k], v) for k, v in grown.state_dict().items())
    found = db._models.locate(SWARM, "net", version)
    depth = {e.name: max(c.depth for c in e.chunks) for e in db._models.load_manifest(found)}
    assert depth["0.weight"] == 0 and depth["1.weight"] == 0  # full frames, no delta


def test_non_finite_metrics_are_stored_flagged_and_never_stop_the_loop(
    db: SwarmDatabaseManager,
) -> None:
    model = torch.nn.Linear(4, 2)
    integration = _integration(db, retention={"keepBest": 1, "metric": "loss"})
    run = integration.on_training_start()
    metrics = [
        {"loss": 0.5, "acc": 0.7},
        {"loss": math.nan, "acc": math.inf},
        {"loss": math.inf, "acc": -math.inf, "grad_norm": math.nan},
    ]
    for epoch, values in enumerate(metrics):
        integration.on_epoch_complete(epoch, values, model)
    summary = integration.on_training_complete(final_metrics={"accuracy": math.nan})
    assert summary["status"] == "completed"

    newest = db.get_neural_model(SWARM, "net", "e0002-s00000000")
    training = newest.metadata.model_extra["training"]  # type: ignore[index]
    assert training["metrics"] == {"loss": "inf", "acc": "-inf", "grad_norm": "nan"}
    assert training["nonFiniteMetrics"] == ["loss", "acc", "grad_norm"]
    assert newest.metadata.loss is None
    history = db.get_training_experiment(SWARM, run).metrics.training_history
    assert history[1].training_loss is not None
    assert math.isnan(history[1].training_loss) and history[2].training_loss == math.inf
    points = db.get_metric_history(SWARM, run, "grad_norm")
    assert bool(points.non_finite[0]) and math.isnan(points.values[0])
    # a NaN loss never ranks best: the finite epoch 0 is the one kept besides the newest
    kept = [v.version for v in db.list_model_versions(SWARM, "net")]
    assert kept == ["e0000-s00000000", "e0002-s00000000"]


def test_unwritable_store_raises_a_typed_error_at_the_call_and_the_loop_can_go_on(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    model = torch.nn.Linear(128, 128)  # 64 KB: too big for an inline frame, needs a blob file
    integration = _integration(db)
    integration.on_training_start()
    integration.on_epoch_complete(0, {"loss": 1.0}, model)
    with unwritable_blobs(store_path):
        with torch.no_grad():
            model.weight.add_(1.0)
        with pytest.raises(CheckpointSaveError) as caught:
            integration.on_epoch_complete(1, {"loss": 0.5}, model)
    assert caught.value.model_id == "net" and caught.value.version == "e0001-s00000000"
    assert isinstance(caught.value.__cause__, OSError)
    assert [v.version for v in db.list_model_versions(SWARM, "net")] == ["e0000-s00000000"]
    version = integration.on_epoch_complete(2, {"loss": 0.4}, model)
    assert db.list_model_versions(SWARM, "net")[-1].parent_version == "e0000-s00000000"
    integration.on_training_complete()
    assert version == "e0002-s00000000"


def test_callbacks_out_of_order_raise_and_write_nothing(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    model = torch.nn.Linear(4, 2)
    integration = _integration(db)
    before = store_snapshot(store_path)
    with pytest.raises(CallbackOrderError, match="before on_training_start"):
        integration.on_epoch_complete(0, {"loss": 1.0}, model)
    with pytest.raises(CallbackOrderError):
        integration.on_step(1, {"loss": 1.0})
    with pytest.raises(CallbackOrderError):
        integration.on_training_complete()
    assert store_snapshot(store_path) == before

    integration.on_training_start()
    with pytest.raises(CallbackOrderError, match="already started"):
        integration.on_training_start()
    integration.on_epoch_complete(3, {"loss": 1.0}, model, step=30)
    for epoch in (3, 2):
        with pytest.raises(CallbackOrderError, match="epochs must increase"):
            integration.on_epoch_complete(epoch, {"loss": 1.0}, model)
    with pytest.raises(CallbackOrderError, match="goes back"):
        integration.on_step(29, {"loss": 1.0})
    with pytest.raises(CallbackOrderError, match="goes back"):
        integration.on_epoch_complete(4, {"loss": 1.0}, model, step=5)
    assert [v.version for v in db.list_model_versions(SWARM, "net")] == ["e0003-s00000030"]

    first = integration.on_training_complete()
    assert integration.on_training_complete() is first  # idempotent
    with pytest.raises(CallbackOrderError, match="after on_training_complete"):
        integration.on_epoch_complete(5, {"loss": 1.0}, model)
    # an explicit save after training is allowed (a final export)
    assert integration.on_model_save(model, version="export") == "export"
    integration.close()
    with pytest.raises(CallbackOrderError, match="closed"):
        integration.on_model_save(model)


def test_bad_models_and_state_raise_typed_errors(db: SwarmDatabaseManager) -> None:
    integration = _integration(db)
    integration.on_training_start()
    with pytest.raises(InvalidRecordError, match="'w' must be a tensor"):
        integration.on_model_save({"w": "not a tensor"})
    with pytest.raises(InvalidRecordError, match=r"torch\.nn\.Module"):
        integration.on_model_save(42)
    optimizer_like = type("Opt", (), {"state_dict": lambda self: {"fn": print}})()
    with pytest.raises(InvalidRecordError, match="optimizer/fn"):
        integration.on_model_save(torch.nn.Linear(2, 2), optimizer_like)
    with pytest.raises(InvalidRecordError):
        integration.on_model_save(torch.nn.Linear(2, 2), version="a/b")
    integration.on_training_complete()
    assert db.list_models(SWARM) == []
