"""Fine-tuning a stored version: the first checkpoint is a delta against it, with lineage."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from swarmstore import InvalidRecordError, ModelNotFoundError, SwarmDatabaseManager
from swarmstore.integrations import SwarmCheckpointer
from tests.conftest import store_snapshot

SWARM = "swarm"


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(128, 128), torch.nn.Tanh(), torch.nn.Linear(128, 4))


def _store_base(db: SwarmDatabaseManager, model: torch.nn.Module, version: str = "base") -> None:
    db.store_neural_model(
        SWARM, {"id": "net", "agentId": "a", "version": version, "weights": model.state_dict()}
    )


def _finetune_step(model: torch.nn.Module) -> None:
    with torch.no_grad():  # a small update, as a low learning rate makes
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 1e-4 * p.abs())


def test_the_first_checkpoint_of_a_finetune_deltas_against_its_base(
    db: SwarmDatabaseManager,
) -> None:
    model = _net()
    _store_base(db, model)
    integration = db.integrate_with_neural_service(SWARM, "a", modelId="net")
    integration.on_training_start(base_version="base")
    _finetune_step(model)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    first = integration.on_epoch_complete(0, {"loss": 1.0}, model)
    _finetune_step(model)
    second = integration.on_epoch_complete(1, {"loss": 0.9}, model)
    integration.on_training_complete()
    # the same checkpoint without a base, under another model id: a full frame
    plain = db.integrate_with_neural_service(SWARM, "a", modelId="plain")
    plain.on_training_start()
    model.load_state_dict(expected)
    full = plain.on_epoch_complete(0, {"loss": 1.0}, model)
    plain.on_training_complete()

    assert first is not None and second is not None and full is not None
    info = {v.version: v for v in db.list_model_versions(SWARM, "net")}
    assert info[first].parent_version == "base"
    assert info[first].checkpoint_type == "incremental"
    assert info[second].parent_version == first
    full_size = {v.version: v for v in db.list_model_versions(SWARM, "plain")}[full].stored_size
    assert info[first].stored_size < 0.8 * full_size
    restored = db.get_neural_model(SWARM, "net", first).weights
    assert all(torch.equal(restored[k], expected[k]) for k in expected)


def test_without_a_base_the_first_checkpoint_is_a_full_frame(db: SwarmDatabaseManager) -> None:
    model = _net()
    _store_base(db, model)
    integration = db.integrate_with_neural_service(SWARM, "a", modelId="net")
    integration.on_training_start()
    _finetune_step(model)
    first = integration.on_epoch_complete(0, {"loss": 1.0}, model)
    integration.on_training_complete()
    assert first is not None
    info = {v.version: v for v in db.list_model_versions(SWARM, "net")}
    assert info[first].parent_version is None and info[first].checkpoint_type == "full"


def test_a_missing_base_or_a_base_beside_a_resume_is_a_typed_error_and_writes_nothing(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    model = _net()
    _store_base(db, model)
    integration = db.integrate_with_neural_service(SWARM, "a", modelId="net")
    before = store_snapshot(store_path)
    with pytest.raises(ModelNotFoundError) as caught:
        integration.on_training_start(base_version="nope")
    assert caught.value.version == "nope"  # type: ignore[attr-defined]
    assert store_snapshot(store_path) == before
    assert not integration.running

    integration.on_training_start(base_version="base")
    integration.on_epoch_complete(0, {"loss": 1.0}, model)
    integration.on_training_complete()
    state = db.resume(SWARM, "net")
    other = db.integrate_with_neural_service(SWARM, "a", modelId="net")
    before = store_snapshot(store_path)
    with pytest.raises(InvalidRecordError, match="base_version"):
        other.on_training_start(resume_from=state, base_version="base")
    assert store_snapshot(store_path) == before


def test_swarm_checkpointer_loads_the_base_unless_it_resumes(db: SwarmDatabaseManager) -> None:
    base_model = _net()
    _store_base(db, base_model)
    model = torch.nn.Sequential(torch.nn.Linear(128, 128), torch.nn.Tanh(), torch.nn.Linear(128, 4))
    ckpt = SwarmCheckpointer(db, SWARM, "net", model)
    assert ckpt.start(resume=True, base_version="base") == 0  # nothing to resume yet
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), base_model.state_dict().values(), strict=True)
    )
    first = ckpt.epoch_end(0, {"loss": 1.0})
    ckpt.finish()
    assert first is not None
    assert {v.version: v for v in db.list_model_versions(SWARM, "net")}[first].parent_version == (
        "base"
    )

    latest = db.list_model_versions(SWARM, "net")[-1].version  # the final model
    again = SwarmCheckpointer(db, SWARM, "net", _net())
    assert again.start(resume=True, base_version="base") == 1  # resumed: the base is not reloaded
    nxt = again.epoch_end(1, {"loss": 0.9})
    again.finish()
    assert nxt is not None
    assert {v.version: v for v in db.list_model_versions(SWARM, "net")}[nxt].parent_version == (
        latest
    )
