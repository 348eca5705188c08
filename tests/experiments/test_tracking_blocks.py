"""Metric histories stored as columnar blocks round-trip exactly: (step, write)
order across many flushes and keys, duplicate steps, NaN/inf/-0.0, epochs,
timestamps, after reopening the store, across a resumed run, and from the
per-point rows of a store written before the blocks existed (migration 0005)."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alembic import command
from sqlalchemy import func, select

from swarmstore import SwarmDatabaseManager
from swarmstore.experiments import MetricHistory
from swarmstore.meta.migrate import alembic_config
from swarmstore.meta.tables_metrics import MetricBlockRow

Logged = tuple[str, int, int | None, float]
SPECIAL = [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308]


def _log_random(run: Any, rng: random.Random, calls: int, keys: list[str]) -> list[Logged]:
    """Log through both APIs with duplicate and out-of-order steps; returns what was
    logged in write order."""
    logged: list[Logged] = []
    for _ in range(calls):
        step = rng.randrange(0, 40)
        if rng.random() < 0.7:
            names = rng.sample(keys, rng.randrange(1, len(keys) + 1))
            epoch = rng.choice([None, rng.randrange(0, 5)])
            values = {k: rng.choice(SPECIAL) if rng.random() < 0.2 else rng.random() for k in names}
            run.log_metrics(step, epoch=epoch, **values)
            logged += [(k, step, epoch, v) for k, v in values.items()]
        else:
            batch = [(rng.choice(keys), rng.randrange(0, 40), rng.random()) for _ in range(3)]
            run.log_batch(batch)
            logged += [(k, s, None, v) for k, s, v in batch]
    return logged


def _expected(logged: list[Logged], key: str | None = None) -> list[Logged]:
    picked = [p for p in logged if key is None or p[0] == key]
    return sorted(picked, key=lambda p: p[1])  # stable: ties stay in write order


def _assert_history(
    history: MetricHistory, expected: list[Logged], *, signed_zero: bool = True
) -> None:
    assert history.keys == [p[0] for p in expected]
    assert history.steps.tolist() == [p[1] for p in expected]
    assert history.epochs.tolist() == [-1 if p[2] is None else p[2] for p in expected]
    want = np.asarray([p[3] for p in expected], dtype=np.float64)
    if signed_zero:  # bit-exact: NaN stays NaN, -0.0 keeps its sign, subnormals survive
        assert history.values.view(np.int64).tolist() == want.view(np.int64).tolist()
    else:
        assert np.array_equal(history.values, want, equal_nan=True)
    assert history.non_finite.tolist() == [not math.isfinite(p[3]) for p in expected]
    assert history.steps.dtype == np.int64 and history.values.dtype == np.float64
    assert history.values.flags.writeable and history.steps.flags.writeable
    assert len(history.wall_times) == len(expected)
    assert bool(np.all(np.diff(history.steps) >= 0))


def _check_all(
    db: SwarmDatabaseManager, run_id: str, logged: list[Logged], *, signed_zero: bool = True
) -> None:
    whole = db.get_metric_history("s", run_id)
    _assert_history(whole, _expected(logged), signed_zero=signed_zero)
    for key in {p[0] for p in logged}:
        one = db.get_metric_history("s", run_id, key)
        _assert_history(one, _expected(logged, key), signed_zero=signed_zero)


def test_many_flushes_keys_duplicates_and_specials_round_trip_exactly(
    store_path: Path,
) -> None:
    rng = random.Random(7)
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        run = db.start_experiment("s", "exp_1", flush_every=5)
        logged = _log_random(run, rng, 300, ["loss", "acc", "lr", "grad/norm"])
        run.flush()
        _check_all(db, "exp_1", logged)
        blocks = db._meta.engine.connect()
        with blocks:
            count = blocks.execute(select(func.count()).select_from(MetricBlockRow)).scalar()
        assert count is not None and count > 60  # many flushes, one block per key each
        run.finish()
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:  # reopened
        _check_all(db, "exp_1", logged)
        assert len(db.get_metric_history("s", "exp_1", "missing")) == 0


def test_timestamps_are_the_logging_times(db: SwarmDatabaseManager) -> None:
    import time

    before = time.time()
    with db.start_experiment("s", "exp_t", flush_every=2) as run:
        for step in range(5):
            run.log_metrics(step, loss=float(step))
    after = time.time()
    history = db.get_metric_history("s", "exp_t", "loss")
    assert history.wall_times.dtype == np.float64
    assert bool(np.all((history.wall_times >= before) & (history.wall_times <= after)))
    assert bool(np.all(np.diff(history.wall_times) >= 0))
    points = list(history)
    assert [p.timestamp for p in points] == history.wall_times.tolist()


def test_a_resumed_run_keeps_write_order_of_equal_steps(db: SwarmDatabaseManager) -> None:
    run = db.start_experiment("s", "exp_r", flush_every=100)
    run.log_metrics(1, loss=1.0, acc=0.1)
    run.log_metrics(2, loss=2.0)
    run.finish("paused")
    again = db.start_experiment("s", "exp_r", resume=True)
    again.log_metrics(1, acc=0.2, loss=3.0)  # the other key first this time
    again.finish()
    history = db.get_metric_history("s", "exp_r")
    assert list(
        zip(history.keys, history.steps.tolist(), history.values.tolist(), strict=True)
    ) == [
        ("loss", 1, 1.0),
        ("acc", 1, 0.1),
        ("acc", 1, 0.2),
        ("loss", 1, 3.0),
        ("loss", 2, 2.0),
    ]
    assert db.get_metric_history("s", "exp_r", "loss").values.tolist() == [1.0, 3.0, 2.0]


def test_analytics_rows_and_blocks_hold_the_same_points(db: SwarmDatabaseManager) -> None:
    rng = random.Random(3)
    with db.start_experiment("s", "exp_a", flush_every=7) as run:
        logged = _log_random(run, rng, 60, ["loss", "acc"])
    table = db.export_table("metrics", "s", where={"key": "loss"}, order_by="step")
    history = db.get_metric_history("s", "exp_a", "loss")
    assert table.num_rows == len(history) == len([p for p in logged if p[0] == "loss"])
    assert sorted(table.column("step").to_pylist()) == history.steps.tolist()


def test_histories_of_a_store_from_before_the_blocks_are_migrated(store_path: Path) -> None:
    rng = random.Random(11)
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        run = db.start_experiment("s", "exp_old", flush_every=9)
        logged = _log_random(run, rng, 120, ["loss", "acc", "lr"])
        run.finish()
        other = db.start_experiment("s", "exp_empty")
        other.finish()
        before = db.get_metric_history("s", "exp_old")
        with db._meta.write_engine.connect() as conn:  # back to the schema without blocks
            command.downgrade(alembic_config(conn), "0004")
            conn.commit()
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:  # upgrades
        # the per-point rows never kept the sign of -0.0 (SQLite stores it as 0)
        _check_all(db, "exp_old", logged, signed_zero=False)
        after = db.get_metric_history("s", "exp_old")
        assert after.wall_times.tolist() == before.wall_times.tolist()
        assert len(db.get_metric_history("s", "exp_empty")) == 0
        # ordinals continue after the migrated ones: new points sort after equal steps
        run = db.start_experiment("s", "exp_old", resume=True)
        run.log_metrics(0, loss=42.0)
        run.finish()
        loss = db.get_metric_history("s", "exp_old", "loss")
        zero = loss.values[loss.steps == 0].tolist()
        assert zero[-1] == 42.0


@pytest.mark.parametrize("flush_every", [1, 1000])
def test_single_key_histories_in_step_order_need_no_sort(
    db: SwarmDatabaseManager, flush_every: int
) -> None:
    with db.start_experiment("s", f"exp_{flush_every}", flush_every=flush_every) as run:
        run.log_batch(("loss", s, 1.0 / (s + 1)) for s in range(50))
    history = db.get_metric_history("s", f"exp_{flush_every}", "loss")
    assert history.steps.tolist() == list(range(50))
    assert history.values.tolist() == [1.0 / (s + 1) for s in range(50)]
    assert history.epochs.tolist() == [-1] * 50


def test_a_large_flush_writes_every_per_point_row_exactly(db: SwarmDatabaseManager) -> None:
    """A flush's per-point rows go out in multi-row INSERTs of up to 128 rows (the
    remainder in smaller ones): 1,205 points of two keys, with NaN/inf among
    finite values and epochs, must all come back from the analytics query."""
    rng = random.Random(5)
    logged: list[Logged] = []
    with db.start_experiment("s", "exp_big", flush_every=10_000) as run:
        for step in range(600):
            values = {
                "loss": rng.random(),
                "acc": rng.choice(SPECIAL[:3]) if step % 97 == 3 else 0.5,
            }
            run.log_metrics(step, epoch=step // 100 if step % 2 else None, **values)
            logged += [(k, step, step // 100 if step % 2 else None, v) for k, v in values.items()]
        run.log_batch([("loss", 600 + i, float(i)) for i in range(5)])
        logged += [("loss", 600 + i, None, float(i)) for i in range(5)]
        assert db.query("metrics", "s").rows == []  # nothing written yet: one flush
        run.flush()
    rows = db.query(
        "metrics", "s", where={"experimentId": "exp_big"}, order_by=["key", "step"]
    ).rows
    want = sorted(logged, key=lambda p: (p[0], p[1]))
    assert [(r["key"], r["step"], r["epoch"]) for r in rows] == [p[:3] for p in want]
    got = np.asarray([r["value"] for r in rows], dtype=np.float64)
    assert np.array_equal(got, np.asarray([p[3] for p in want]), equal_nan=True)
