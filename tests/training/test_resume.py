"""A run killed mid-training and resumed ends bit-identical to one that never stopped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from swarmstore import ModelNotFoundError, SwarmDatabaseManager
from swarmstore.errors import InvalidRecordError
from tests.training.loop import MODEL, SWARM, build, train, train_epoch

EPOCHS = 5
LOOP = Path(__file__).with_name("loop.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    """The weights of the run that never stopped (one for every test here)."""
    db = SwarmDatabaseManager.open(tmp_path_factory.mktemp("reference"), durability="normal")
    try:
        return train(db, EPOCHS)
    finally:
        db.close()


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sigkilled_background_saving_run_resumes_to_identical_weights(
    tmp_path: Path, expected: dict[str, torch.Tensor]
) -> None:
    store = tmp_path / "killed"
    store.mkdir()
    killed = subprocess.run(
        [sys.executable, str(LOOP), str(store), str(EPOCHS), "2", "1"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])},
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    with SwarmDatabaseManager.open(store, durability="normal") as db:
        # killed right after epoch 2's callback: its background save may or may not
        # have committed; either way the latest committed checkpoint resumes exactly
        latest = db.resume(SWARM, MODEL)
        assert latest.epoch in (1, 2)
        final = train(db, EPOCHS, resume=True, options={"asyncSave": True})
    assert _equal(final, expected)


def test_reopened_store_resumes_from_a_middle_checkpoint_bit_exactly(
    tmp_path: Path, expected: dict[str, torch.Tensor]
) -> None:
    path = tmp_path / "store"
    db = SwarmDatabaseManager.open(path, durability="normal")
    train(db, 3)  # as if it stopped after epoch 2: every object is dropped
    db.close()
    db = SwarmDatabaseManager.open(path, durability="normal")
    state = db.resume(SWARM, MODEL, "e0001-s00000008")
    assert (state.epoch, state.step, state.next_epoch) == (1, 8, 2)
    assert state.optimizer_state is not None and state.scheduler_state is not None
    model, optimizer, scheduler, loader = build()
    state.apply(model, optimizer, scheduler)
    for _epoch in range(state.next_epoch, EPOCHS):
        train_epoch(model, optimizer, scheduler, loader)
    assert _equal(model.state_dict(), expected)
    # without the RNG state the same weights are not reached: the test can fail
    model, optimizer, scheduler, loader = build()
    state.apply(model, optimizer, scheduler, rng=False)
    for _epoch in range(state.next_epoch, EPOCHS):
        train_epoch(model, optimizer, scheduler, loader)
    assert not _equal(model.state_dict(), expected)


def test_resume_latest_best_by_metric_and_by_experiment(tmp_path: Path) -> None:
    db = SwarmDatabaseManager.open(tmp_path / "s", durability="normal")
    model, optimizer, scheduler, _loader = build()
    integration = db.integrate_with_neural_service(
        SWARM, "agent", {"modelId": MODEL, "retention": {"metric": "val_loss", "mode": "min"}}
    )
    experiment = integration.on_training_start()
    first = model[0]
    assert isinstance(first, torch.nn.Linear)
    for epoch, val in enumerate([0.9, 0.4, float("nan"), 0.6]):
        with torch.no_grad():
            first.weight.add_(1.0)
        integration.on_epoch_complete(epoch, {"val_loss": val}, model, optimizer, scheduler)
    integration.on_training_complete()
    latest = db.resume(SWARM, MODEL)
    assert latest.version == "e0003-s00000000" and latest.epoch == 3
    best = db.resume(SWARM, MODEL, "best")  # the metric the run ranked by, NaN never best
    assert best.version == "e0001-s00000000" and best.metrics["val_loss"] == 0.4
    assert db.resume(SWARM, MODEL, "best", mode="max").version == "e0000-s00000000"
    by_run = db.resume(SWARM, experiment, "latest")
    assert by_run.version == latest.version and by_run.experiment_id == experiment
    assert torch.allclose(best.weights["0.weight"], latest.weights["0.weight"] - 2.0)
    with pytest.raises(ModelNotFoundError):
        db.resume(SWARM, MODEL, "no-such-version")
    with pytest.raises(ModelNotFoundError):
        db.resume(SWARM, "nobody")
    with pytest.raises(InvalidRecordError, match="metric"):
        db.resume(SWARM, MODEL, "best", metric="accuracy")
