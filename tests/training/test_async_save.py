"""Background saves: a snapshot, ordered writes, bounded queue, errors reported, exit waits."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from swarmstore import CheckpointSaveError, SwarmDatabaseManager
from tests.training.faults import unwritable_blobs

SWARM = "swarm"
ROOT = Path(__file__).resolve().parents[2]


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.Linear(16, 4))


def test_the_saved_checkpoint_is_the_snapshot_not_what_the_loop_did_next(
    db: SwarmDatabaseManager,
) -> None:
    model = _net()
    integration = db.integrate_with_neural_service(SWARM, "a", modelId="net", asyncSave=True)
    integration.on_training_start()
    expected = []
    for epoch in range(3):
        expected.append({k: v.clone() for k, v in model.state_dict().items()})
        integration.on_epoch_complete(epoch, {"loss": 1.0}, model)
        with torch.no_grad():  # the loop changes the weights in place at once
            for p in model.parameters():
                p.mul_(-3.0)
    integration.flush()
    versions = [v.version for v in db.list_model_versions(SWARM, "net")]
    assert len(versions) == 3
    for version, weights in zip(versions, expected, strict=True):
        stored = db.get_neural_model(SWARM, "net", version).weights
        assert all(torch.equal(stored[k], weights[k]) for k in weights)
    assert db.list_model_versions(SWARM, "net")[2].parent_version == versions[1]
    integration.on_training_complete()


def test_at_most_one_save_in_flight_unless_configured(db: SwarmDatabaseManager) -> None:
    release = threading.Event()
    db.on("neural_model_stored", lambda _event: release.wait(30))  # holds the save worker
    model = _net()
    integration = db.integrate_with_neural_service(SWARM, "a", modelId="net", asyncSave=True)
    integration.on_training_start()
    integration.on_epoch_complete(0, {"loss": 1.0}, model)  # returns while its save is held
    assert integration.pending_saves == 1
    assert integration.save_wait_seconds == 0.0

    second = threading.Thread(
        target=integration.on_epoch_complete, args=(1, {"loss": 1.0}, model), daemon=True
    )
    second.start()
    second.join(0.5)
    assert second.is_alive(), "a second snapshot must wait for the first save"
    release.set()
    second.join(30)
    assert not second.is_alive()
    assert integration.save_wait_seconds >= 0.5, "the wait is counted apart from the copy"
    summary = integration.on_training_complete()
    assert len(db.list_model_versions(SWARM, "net")) == 2
    usage = summary["resource_usage"]
    assert usage["saveWaitSeconds"] >= 0.5
    assert usage["loopStallSeconds"] >= usage["saveWaitSeconds"]


def test_max_pending_saves_lets_two_queue(db: SwarmDatabaseManager) -> None:
    release = threading.Event()
    db.on("neural_model_stored", lambda _event: release.wait(30))
    model = _net()
    integration = db.integrate_with_neural_service(
        SWARM, "a", modelId="net", asyncSave=True, maxPendingSaves=2
    )
    integration.on_training_start()
    integration.on_epoch_complete(0, {"loss": 1.0}, model)
    integration.on_epoch_complete(1, {"loss": 1.0}, model)  # queues without waiting
    assert integration.pending_saves == 2
    release.set()
    integration.on_training_complete()
    assert len(db.list_model_versions(SWARM, "net")) == 2


def test_a_failed_background_save_surfaces_at_the_next_callback_and_at_flush(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    # 64 KB weights: frames too big to be kept inline in SQL, so the save needs blob files
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(128, 128), torch.nn.Linear(128, 4))
    integration = db.integrate_with_neural_service(SWARM, "a", modelId="net", asyncSave=True)
    integration.on_training_start()
    integration.on_epoch_complete(0, {"loss": 1.0}, model)
    integration.flush()
    with unwritable_blobs(store_path):
        first = model[0]
        assert isinstance(first, torch.nn.Linear)
        with torch.no_grad():
            first.weight.add_(1.0)
        integration.on_epoch_complete(1, {"loss": 0.9}, model)  # the loop goes on at once
        with pytest.raises(CheckpointSaveError) as caught:
            integration.on_epoch_complete(2, {"loss": 0.8}, model)
        assert caught.value.version == "e0001-s00000000"
        assert isinstance(caught.value.__cause__, OSError)
        integration.flush()  # reported once; nothing else pending
    # writable again: the next checkpoint deltas against the last one that was written
    version = integration.on_epoch_complete(3, {"loss": 0.7}, model)
    integration.flush()
    info = {v.version: v for v in db.list_model_versions(SWARM, "net")}
    assert version in info and info[version].parent_version == "e0000-s00000000"
    integration.on_training_complete()


_EXIT_SCRIPT = """
import sys, torch
from swarmstore import SwarmDatabaseManager
db = SwarmDatabaseManager.open(sys.argv[1], durability="normal")
integration = db.integrate_with_neural_service("swarm", "a", modelId="net", asyncSave=True)
integration.on_training_start()
torch.manual_seed(0)
model = torch.nn.Linear(256, 256)
for epoch in range(3):
    integration.on_epoch_complete(epoch, {"loss": 1.0}, model)
print("returned", flush=True)
# no flush, no close: the interpreter's exit must wait for the queued saves
"""


def test_interpreter_exit_waits_for_queued_saves(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT, str(store)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    # A store left open is closed by an exit hook: saves and index passes finish,
    # and no engine thread is torn down mid-call (that used to abort with -6).
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().strip() == "returned"
    with SwarmDatabaseManager.open(store, durability="normal") as db:
        versions = [v.version for v in db.list_model_versions(SWARM, "net")]
        assert versions == ["e0000-s00000000", "e0001-s00000000", "e0002-s00000000"]
