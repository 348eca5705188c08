"""Streaming experiment runs: buffering and flushing, NaN flags, checkpoints from a
saver thread, finish/context manager, typed errors that leave the store unchanged."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sqlalchemy import select

from swarmstore import SwarmDatabaseManager
from swarmstore.errors import (
    DatasetNotFoundError,
    ExperimentExistsError,
    ExperimentFinishedError,
    InvalidRecordError,
    ModelNotFoundError,
)
from swarmstore.meta.lineage import EXPERIMENT, MODEL_VERSION, PRODUCED, node_key
from swarmstore.meta.tables_lineage import LineageEdgeRow
from swarmstore.records.dataset import InvalidFieldError
from tests.conftest import model_record, store_snapshot


def _model(db: SwarmDatabaseManager, *versions: str, model_id: str = "model_001") -> None:
    for i, version in enumerate(versions):
        db.store_neural_model(
            "s", model_record(version, {"w": torch.full((4, 4), float(i))}, model_id=model_id)
        )


def _events(db: SwarmDatabaseManager, *names: str) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    for name in names:

        def remember(event: dict[str, Any], name: str = name) -> None:
            seen.append((name, event))

        db.on(name, remember)
    return seen


def test_points_are_buffered_until_flush_every_then_read_in_step_order(
    db: SwarmDatabaseManager,
) -> None:
    run = db.start_experiment("s", "exp_1", model_id="model_001", flush_every=10)
    for step in range(9):
        run.log_metrics(step, loss=1.0 / (step + 1))
    assert len(db.get_metric_history("s", "exp_1")) == 0  # 9 < 10: still buffered
    run.log_metrics(9, loss=0.1)
    history = db.get_metric_history("s", "exp_1", "loss")
    assert history.steps.tolist() == list(range(10))
    assert history.values[-1] == pytest.approx(0.1)
    run.log_batch([("acc", 20, 0.9), ("acc", 15, 0.8)])  # out of order on purpose
    run.flush()
    acc = db.get_metric_history("s", "exp_1", "acc")
    assert acc.steps.tolist() == [15, 20] and acc.values.tolist() == [0.8, 0.9]
    table = db.get_metric_history("s", "exp_1").to_arrow()
    assert table.num_rows == 12 and table.column_names[:3] == ["key", "step", "epoch"]
    run.finish()


def test_non_finite_values_are_stored_exactly_and_flagged_never_raised(
    db: SwarmDatabaseManager,
) -> None:
    with db.start_experiment("s", "exp_nan") as run:
        run.log_metrics(0, loss=float("nan"), grad=float("inf"))
        run.log_metrics(1, loss=-math.inf, grad=2.0)
        run.log_epoch(0, {"loss": float("nan"), "val_acc": float("nan"), "lr": 0.1})
    history = db.get_metric_history("s", "exp_nan")
    by_key = {k: h for k, h in history.by_key().items()}
    assert math.isnan(by_key["loss"].values[0]) and by_key["loss"].values[1] == -math.inf
    assert by_key["grad"].values.tolist() == [math.inf, 2.0]
    assert history.non_finite.tolist() == [True, True, True, False]
    record = db.get_training_experiment("s", "exp_nan")
    row = record.metrics.training_history[0]
    assert row.training_loss is not None
    assert math.isnan(row.training_loss)  # a diverged loss is allowed in the column
    assert row.validation_accuracy is None and math.isnan(row.custom_metrics["val_acc"])
    assert record.metrics.convergence_analysis.diverged


def test_finish_computes_convergence_fires_events_and_is_idempotent(
    db: SwarmDatabaseManager,
) -> None:
    seen = _events(db, "experiment_started", "experiment_finished", "training_experiment_stored")
    run = db.start_experiment("s", model_id="model_001", hyperparameters={"learningRate": 0.01})
    assert run.id.startswith("exp_") and run.swarm_id == "s"
    for epoch in range(12):
        loss = 1.0 / (epoch + 1) if epoch < 6 else 1 / 7
        run.log_epoch(epoch, {"trainingLoss": loss, "validationLoss": loss + 0.05})
    run.set_resource_usage({"cpuHours": 0.5, "memoryPeak": 1e9})
    first = run.finish("completed", final_metrics={"accuracy": 0.91, "f1_score": float("nan")})
    again = run.finish("failed")
    assert again == first and first.status == "completed" and first.completed_at is not None
    assert (
        first.metrics.final_metrics.accuracy == 0.91
        and first.metrics.final_metrics.f1_score is None
    )
    assert first.metrics.convergence_analysis.converged
    assert first.resource_usage.cpu_hours == 0.5
    assert db.get_metric_history("s", run.id, "finalMetrics.f1_score").non_finite.tolist() == [True]
    assert [name for name, _ in seen] == [
        "experiment_started",
        "experiment_finished",
        "training_experiment_stored",
    ]
    with pytest.raises(ExperimentFinishedError):
        run.log_metrics(1, loss=1.0)
    with pytest.raises(ExperimentFinishedError):
        run.add_checkpoint("model_001", "v1")


def test_context_manager_marks_failed_on_exception_and_flushes(
    db: SwarmDatabaseManager,
) -> None:
    with pytest.raises(RuntimeError), db.start_experiment("s", "boom") as run:
        run.log_metrics(3, loss=0.5)
        raise RuntimeError("training crashed")
    record = db.get_training_experiment("s", "boom")
    assert record.status == "failed"
    assert db.get_metric_history("s", "boom", "loss").steps.tolist() == [3]


def test_checkpoints_from_a_saver_thread_while_the_loop_logs(db: SwarmDatabaseManager) -> None:
    _model(db, *(f"v{i}" for i in range(5)))
    run = db.start_experiment("s", "threaded", model_id="model_001", flush_every=50)

    def saver() -> None:
        for i in range(5):
            run.add_checkpoint("model_001", f"v{i}")

    thread = threading.Thread(target=saver)
    thread.start()
    for step in range(2000):
        run.log_metrics(step, loss=float(step))
    thread.join()
    run.add_checkpoint("model_001", "v0")  # idempotent
    record = run.finish()
    assert record.checkpoints == [f"v{i}" for i in range(5)]
    history = db.get_metric_history("s", "threaded", "loss")
    assert np.array_equal(history.steps, np.arange(2000))
    with db._meta.read() as session:
        dsts = set(
            session.scalars(
                select(LineageEdgeRow.dst).where(
                    LineageEdgeRow.rel == PRODUCED,
                    LineageEdgeRow.src == node_key(EXPERIMENT, "s", "threaded"),
                )
            )
        )
    assert dsts == {node_key(MODEL_VERSION, "s", "model_001", f"v{i}") for i in range(5)}


def test_unknown_checkpoint_is_refused_and_the_run_goes_on(db: SwarmDatabaseManager) -> None:
    run = db.start_experiment("s", "e", model_id="model_001")
    with pytest.raises(ModelNotFoundError) as info:
        run.add_checkpoint("model_001", "nope")
    assert "nope" in str(info.value)
    run.log_metrics(0, loss=1.0)
    assert run.finish().checkpoints == []


def test_bad_starts_and_bad_logging_leave_the_store_unchanged(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    db.start_experiment("s", "taken").finish()
    before = store_snapshot(store_path)
    with pytest.raises(ExperimentExistsError):
        db.start_experiment("s", "taken")
    with pytest.raises(DatasetNotFoundError) as info:
        db.start_experiment("s", "x", datasets=["no_such_dataset"])
    assert "no_such_dataset" in str(info.value)
    with pytest.raises(InvalidRecordError):
        db.start_experiment("s", "bad/id")
    with pytest.raises(InvalidRecordError):
        db.start_experiment("s", "y", flush_every=0)
    assert store_snapshot(store_path) == before

    run = db.start_experiment("s", "z")
    with pytest.raises(InvalidRecordError):
        run.log_metrics(0, loss="high")  # type: ignore[arg-type]
    with pytest.raises(InvalidRecordError):
        run.log_batch([("ok", 1, 1.0), ("bad", "x", 1.0)])  # type: ignore[list-item]
    run.log_epoch(3, {"loss": 1.0})
    with pytest.raises(InvalidFieldError):
        run.log_epoch(2, {"loss": 1.0})
    # steps and epochs the columns cannot hold raise at the call, not at every later flush
    for step, epoch in ((-1, None), (2**63, None), (0, -1), (0, 2**31)):
        with pytest.raises(InvalidRecordError):
            run.log_metrics(step, epoch=epoch, loss=1.0)
    with pytest.raises(InvalidRecordError):
        run.log_batch([("ok", 1, 1.0), ("big", 2**63, 1.0)])
    with pytest.raises(InvalidRecordError):
        run.log_epoch(2**31, {"loss": 1.0})
    run.flush()
    assert len(db.get_metric_history("s", "z")) == 0  # the bad batch wrote nothing
    run.log_metrics(2**63 - 1, epoch=2**31 - 1, loss=1.0)  # the largest ones are fine
    run.flush()
    history = db.get_metric_history("s", "z")
    assert history.steps.tolist() == [2**63 - 1] and history.epochs.tolist() == [2**31 - 1]
    assert len(run.finish().metrics.training_history) == 1


def test_resume_continues_the_history(db: SwarmDatabaseManager) -> None:
    run = db.start_experiment("s", "r", model_id="model_001")
    run.log_epoch(0, {"loss": 1.0})
    run.finish("paused")
    assert db.get_training_experiment("s", "r").completed_at is None
    again = db.start_experiment("s", "r", resume=True)
    assert db.get_training_experiment("s", "r").status == "running"
    again.log_epoch(1, {"loss": 0.5})
    record = again.finish()
    assert [h.epoch for h in record.metrics.training_history] == [0, 1]


def test_closing_the_store_pauses_open_runs_and_keeps_their_points(store_path: Path) -> None:
    db = SwarmDatabaseManager.open(store_path, durability="normal")
    run = db.start_experiment("s", "open", flush_every=10_000)
    run.log_metrics(1, loss=0.3)
    db.close()
    with SwarmDatabaseManager.open(store_path) as again:
        assert again.get_training_experiment("s", "open").status == "paused"
        assert again.get_metric_history("s", "open", "loss").values.tolist() == [0.3]


def test_all_keys_history_keeps_epochs_flags_and_exports_to_arrow(
    db: SwarmDatabaseManager,
) -> None:
    run = db.start_experiment("s", "mixed")
    run.log_metrics(2, epoch=0, loss=0.5, acc=float("nan"))
    run.log_batch([("loss", 1, float("-inf"))])
    run.log_metrics(3, loss=0.25)
    run.flush()
    history = db.get_metric_history("s", "mixed")
    assert history.keys == ["loss", "loss", "acc", "loss"]
    assert history.steps.tolist() == [1, 2, 2, 3]
    assert history.epochs.tolist() == [-1, 0, 0, -1]
    assert history.non_finite.tolist() == [True, False, True, False]
    points = list(history)
    assert points[0].value == -math.inf and points[0].epoch is None
    assert math.isnan(points[2].value) and points[1].epoch == 0
    table = history.to_arrow()
    assert table.column("epoch").to_pylist() == [None, 0, 0, None]
    assert table.column("nonFinite").to_pylist() == [True, False, True, False]
    assert history.key("loss").steps.tolist() == [1, 2, 3]


def test_a_checkpoint_of_another_model_and_a_deleted_checkpoint_version(
    db: SwarmDatabaseManager,
) -> None:
    _model(db, "v1", "v2")
    _model(db, "base", model_id="teacher")
    run = db.start_experiment("s", "distill", model_id="model_001")
    run.add_checkpoint("teacher", "base")
    run.add_checkpoint("model_001", "v1")
    record = run.finish()
    assert record.checkpoints == ["teacher/base", "v1"]
    db.delete_model_version("s", "model_001", "v1")  # the experiment keeps naming it
    assert db.get_training_experiment("s", "distill").checkpoints == ["teacher/base", "v1"]
