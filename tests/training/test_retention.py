"""Retention: which checkpoints survive each policy, and kept ones still restore bit-exactly."""

from __future__ import annotations

import pytest
import torch

from swarmstore import SwarmDatabaseManager
from swarmstore.training import KeepBest, KeepEvery, KeepLast
from swarmstore.training.catalog import CheckpointInfo
from swarmstore.training.retention import prune_plan

SWARM = "swarm"


def _infos(losses: list[float]) -> list[CheckpointInfo]:
    return [
        CheckpointInfo(f"v{i}", i, "auto", "exp", i, i, i + 1, {"loss": loss})
        for i, loss in enumerate(losses)
    ]


@pytest.mark.parametrize(
    ("policies", "freed"),
    [
        ([], []),
        ([KeepLast(2)], ["v0", "v1", "v2", "v3"]),
        ([KeepBest("loss", 2)], ["v0", "v3", "v4"]),  # best: v1 (0.2), v2 (0.3); newest v5
        ([KeepBest("loss", 1, "max")], ["v1", "v2", "v3", "v4"]),
        ([KeepEvery(3)], ["v0", "v1", "v3", "v4"]),  # checkpoint numbers 3 and 6
        ([KeepLast(1), KeepBest("loss", 1), KeepEvery(4)], ["v0", "v2", "v4"]),
    ],
)
def test_policies_combine_as_a_union_and_always_keep_the_newest(
    policies: list[object], freed: list[str]
) -> None:
    checkpoints = _infos([0.9, 0.2, 0.3, 0.5, float("nan"), 0.4])
    assert prune_plan(checkpoints, policies) == freed  # type: ignore[arg-type]


def test_retention_frees_versions_after_each_checkpoint_and_kept_ones_restore(
    db: SwarmDatabaseManager,
) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Linear(64, 8))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    deleted: list[str] = []
    db.on("model_version_deleted", lambda event: deleted.append(event["version"]))
    integration = db.integrate_with_neural_service(
        SWARM,
        "agent",
        {
            "modelId": "net",
            "retention": {"keepLast": 2, "keepBest": 1, "metric": "val_loss", "keepEvery": 4},
        },
    )
    integration.on_training_start()
    val_losses = [0.8, 0.3, 0.6, 0.7, 0.5, 0.65, 0.62, 0.61]
    expected: dict[str, dict[str, torch.Tensor]] = {}
    survivors_after: list[list[str]] = []
    for epoch, val in enumerate(val_losses):
        optimizer.zero_grad()
        model(torch.randn(4, 64)).pow(2).mean().backward()
        optimizer.step()
        version = integration.on_epoch_complete(epoch, {"val_loss": val}, model, optimizer)
        assert version is not None
        expected[version] = {k: v.clone() for k, v in model.state_dict().items()}
        survivors_after.append([v.version for v in db.list_model_versions(SWARM, "net")])
    integration.on_training_complete()

    names = list(expected)
    # after the 3rd checkpoint: last two (e1, e2) + best (e1); e0 freed at once
    assert survivors_after[2] == [names[1], names[2]]
    # at the end: every 4th (e3, e7), best (e1), last two (e6, e7)
    kept = [names[1], names[3], names[6], names[7]]
    assert survivors_after[-1] == kept
    assert sorted(deleted) == sorted(set(names) - set(kept))
    for version in kept:  # deltas on freed parents still decode
        restored = db.get_neural_model(SWARM, "net", version)
        assert all(torch.equal(restored.weights[k], t) for k, t in expected[version].items())
        assert restored.state, "optimizer state rides along"
    db.gc(grace_seconds=0)
    assert db.check().ok
    for version in kept:
        restored = db.get_neural_model(SWARM, "net", version)
        assert all(torch.equal(restored.weights[k], t) for k, t in expected[version].items())
    assert db.resume(SWARM, "net", "best").version == names[1]


def test_manual_and_final_saves_are_never_pruned(db: SwarmDatabaseManager) -> None:
    model = torch.nn.Linear(4, 4)
    integration = db.integrate_with_neural_service(
        SWARM, "agent", {"modelId": "net", "retention": {"keepLast": 1}}
    )
    integration.on_training_start()
    integration.on_epoch_complete(0, {"loss": 1.0}, model)
    integration.on_model_save(model, version="pinned")
    for epoch in range(1, 4):
        integration.on_epoch_complete(epoch, {"loss": 1.0}, model)
    integration.on_training_complete(model=model)
    versions = [v.version for v in db.list_model_versions(SWARM, "net")]
    assert versions == ["pinned", "e0003-s00000000", "e0003-s00000000-final"]
