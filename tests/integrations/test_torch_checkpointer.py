"""SwarmCheckpointer in a hand-written PyTorch loop: checkpoints, history, bit-exact resume."""

from __future__ import annotations

from pathlib import Path

import torch

from swarmstore import SwarmDatabaseManager
from swarmstore.integrations import SwarmCheckpointer
from tests.training.loop import build, train_epoch

SWARM, MODEL = "swarm", "mlp"
EPOCHS = 4


def _run(db: SwarmDatabaseManager, stop_after: int | None) -> tuple[dict[str, torch.Tensor], str]:
    model, optimizer, scheduler, loader = build()
    checkpointer = SwarmCheckpointer(
        db, SWARM, MODEL, model, optimizer, scheduler, asyncSave=True, retention={"keepLast": 2}
    )
    start = checkpointer.start(resume=True)
    step = checkpointer.resumed.step if checkpointer.resumed else 0
    for epoch in range(start, EPOCHS):
        metrics = train_epoch(model, optimizer, scheduler, loader)
        step += len(loader)
        checkpointer.log_step(step, epoch=epoch, grad_steps=float(step))
        checkpointer.epoch_end(epoch, metrics, step=step)
        if stop_after is not None and epoch == stop_after:
            checkpointer.close()  # the run stops here; its experiment is paused
            return {}, checkpointer.integration.experiment_id or ""
    checkpointer.finish({"accuracy": 0.5})
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return weights, checkpointer.integration.experiment_id or ""


def test_checkpointer_resumes_a_stopped_loop_to_the_uninterrupted_result(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path / "ref", durability="normal") as db:
        expected, _ = _run(db, None)
    path = tmp_path / "store"
    with SwarmDatabaseManager.open(path, durability="normal") as db:
        _weights, first = _run(db, stop_after=1)
        assert db.get_training_experiment(SWARM, first).status == "paused"
    with SwarmDatabaseManager.open(path, durability="normal") as db:
        got, second = _run(db, None)
        assert second == first, "the checkpoint's experiment goes on"
        record = db.get_training_experiment(SWARM, first)
        assert [row.epoch for row in record.metrics.training_history] == list(range(EPOCHS))
        assert record.status == "completed"
        versions = [v.version for v in db.list_model_versions(SWARM, MODEL)]
        assert versions == ["e0002-s00000012", "e0003-s00000016", "e0003-s00000016-final"]
        steps = db.get_metric_history(SWARM, first, "grad_steps")
        assert list(steps.steps) == [4, 8, 12, 16]
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[k], expected[k]) for k in expected)


def test_checkpointer_starts_fresh_without_a_checkpoint(db: SwarmDatabaseManager) -> None:
    model, optimizer, scheduler, _loader = build()
    checkpointer = SwarmCheckpointer(db, SWARM, "new", model, optimizer, scheduler)
    assert checkpointer.start(resume="latest") == 0 and checkpointer.resumed is None
    assert checkpointer.save(version="v1") == "v1"
    checkpointer.finish()
    versions = [v.version for v in db.list_model_versions(SWARM, "new")]
    assert versions == ["v1", "e0000-s00000000-final"]
