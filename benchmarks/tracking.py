"""Is metric logging and reading much faster than MLflow's?

Goals (issue 4), against MLflow with its SQLite tracking backend on the same
machine, in the same run:

- per-point logging: ``run.log_metrics`` >= 100x ``MlflowClient.log_metric``;
- batched logging: ``run.log_batch`` >= 10x ``MlflowClient.log_batch``;
- reading a 20,000-point history: ``db.get_metric_history`` >= 20x
  ``MlflowClient.get_metric_history``.

Fairness: both stores live in temp dirs on the same disk, SQLite on both
sides, our store at its default durability (``synchronous=FULL``). Every
timing of ours includes the flush and commit that make the points durable;
the table says what is durable when:

- MLflow ``log_metric``: each point is one committed transaction.
- ours, per point (buffered): points sit in memory and are committed every
  ``flush_every`` (1000) points; the clock stops after the final ``flush()``,
  so every timed point is durable. A crash loses at most the unflushed buffer.
- ours, per point, ``flush_every=1``: each point committed, as MLflow does
  (shown for honesty; not the goal row).
- batched: one commit per 1000-point batch on both sides (we call ``flush()``
  after each ``log_batch``).

MLflow is slow per point, so it logs fewer points; rates are per point.
Reads: median of ``--repeat`` reads after one warm-up, one key, 20,000 points,
written on both sides in 1000-point batches (``log_batch``; ours flushes each
batch, so the history is 20 stored blocks). Every timed read of ours is a fresh
SQL read of the stored blocks (nothing is cached between calls) returning all
steps, values, epochs and timestamps as numpy columns.

    .venv/bin/pip install mlflow-skinny   # benchmark only (the ``bench`` extra)
    .venv/bin/python benchmarks/tracking.py [--mlflow-points 300] [--points 200000]

Prints a table; writes benchmarks/results/tracking.json and tracking.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swarmstore import SwarmDatabaseManager

RESULTS = Path(__file__).parent / "results"
SWARM = "bench"
BATCH = 1000  # MLflow's limit of metrics per log_batch call


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median wall and CPU (this process) seconds of ``repeat`` calls after a warm-up.
    CPU time is reported too because a shared machine stretches wall time."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        cpu, start = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


# ------------------------------------------------------------------ MLflow side


class MlflowSide:
    def __init__(self, root: Path) -> None:
        os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
        import mlflow
        from mlflow import MlflowClient
        from mlflow.entities import Metric

        self.Metric = Metric
        self.version = mlflow.__version__
        self.client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
        self.experiment = self.client.create_experiment("bench")

    def new_run(self) -> str:
        return str(self.client.create_run(self.experiment).info.run_id)

    def per_point(self, n: int) -> float:
        run = self.new_run()
        start = time.perf_counter()
        for step in range(n):
            self.client.log_metric(run, "loss", 1.0 / (step + 1), step=step)
        return (time.perf_counter() - start) / n

    def batched(self, batches: int) -> float:
        run = self.new_run()
        start = time.perf_counter()
        for b in range(batches):
            now = int(time.time() * 1000)
            metrics = [self.Metric("loss", 1.0 / (i + 1), now, b * BATCH + i) for i in range(BATCH)]
            self.client.log_batch(run, metrics=metrics)
        return (time.perf_counter() - start) / (batches * BATCH)

    def history_run(self, points: int) -> str:
        run = self.new_run()
        now = int(time.time() * 1000)
        for start in range(0, points, BATCH):
            metrics = [
                self.Metric("loss", 1.0 / (s + 1), now, s)
                for s in range(start, min(points, start + BATCH))
            ]
            self.client.log_batch(run, metrics=metrics)
        return run

    def read(self, run: str) -> int:
        return len(self.client.get_metric_history(run, "loss"))

    def points(self, run: str) -> list[tuple[int, float]]:
        return sorted((m.step, m.value) for m in self.client.get_metric_history(run, "loss"))


# ------------------------------------------------------------------ our side


class OurSide:
    def __init__(self, root: Path) -> None:
        self.db = SwarmDatabaseManager.open(root / "store")  # durability "full"
        self.runs = 0

    def close(self) -> None:
        self.db.close()

    def _start(self, flush_every: int = 1000) -> Any:
        self.runs += 1
        return self.db.start_experiment(SWARM, f"run_{self.runs}", flush_every=flush_every)

    def per_point(self, n: int, flush_every: int = 1000) -> float:
        run = self._start(flush_every)
        start = time.perf_counter()
        for step in range(n):
            run.log_metrics(step, loss=1.0 / (step + 1))
        run.flush()  # durable: the clock includes the last commit
        elapsed = time.perf_counter() - start
        run.finish()
        return elapsed / n

    def batched(self, batches: int) -> float:
        run = self._start(flush_every=10 * BATCH)
        start = time.perf_counter()
        for b in range(batches):
            run.log_batch(("loss", b * BATCH + i, 1.0 / (i + 1)) for i in range(BATCH))
            run.flush()  # one commit per batch, as MLflow's log_batch
        elapsed = time.perf_counter() - start
        run.finish()
        return elapsed / (batches * BATCH)

    def history_run(self, points: int) -> str:
        run = self._start(flush_every=points + 1)
        for start in range(0, points, BATCH):  # one flush per batch, as MLflow's log_batch
            run.log_batch(
                ("loss", s, 1.0 / (s + 1)) for s in range(start, min(points, start + BATCH))
            )
            run.flush()
        run.finish()
        return str(run.id)

    def read(self, run: str) -> int:
        history = self.db.get_metric_history(SWARM, run, "loss")
        assert len(history.steps) == len(history.values) == len(history.wall_times)
        return len(history)

    def points(self, run: str) -> list[tuple[int, float]]:
        history = self.db.get_metric_history(SWARM, run, "loss")
        return list(zip(history.steps.tolist(), history.values.tolist(), strict=True))

    def read_arrow(self, run: str) -> int:
        return int(self.db.get_metric_history(SWARM, run, "loss").to_arrow().num_rows)


# ------------------------------------------------------------------ main


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        root = Path(tmp)
        mlflow_side = MlflowSide(root / "mlflow")
        ours = OurSide(root)
        try:
            ml_point = mlflow_side.per_point(args.mlflow_points)
            our_point = ours.per_point(args.points)
            our_point_durable = ours.per_point(args.mlflow_points, flush_every=1)
            ml_batch = mlflow_side.batched(args.mlflow_batches)
            our_batch = ours.batched(args.batches)
            ml_run = mlflow_side.history_run(args.history)
            our_run = ours.history_run(args.history)
            assert mlflow_side.read(ml_run) == ours.read(our_run) == args.history
            assert mlflow_side.points(ml_run) == ours.points(our_run)  # the same history
            ml_read, ml_read_cpu = median_time(lambda: mlflow_side.read(ml_run), args.repeat)
            our_read, our_read_cpu = median_time(lambda: ours.read(our_run), args.repeat)
            our_arrow, _ = median_time(lambda: ours.read_arrow(our_run), args.repeat)
        finally:
            ours.close()
    blocks = math.ceil(args.history / BATCH)
    rows: list[dict[str, Any]] = [
        {
            "question": "per-point logging",
            "mlflow": "log_metric: 1 commit per point",
            "ours": "log_metrics, flush_every=1000, final flush() timed",
            "mlflow_s": ml_point,
            "ours_s": our_point,
            "unit": "s/point",
            "goal": 100.0,
        },
        {
            "question": "per-point logging, both durable per point",
            "mlflow": "log_metric: 1 commit per point",
            "ours": "log_metrics, flush_every=1 (1 commit per point)",
            "mlflow_s": ml_point,
            "ours_s": our_point_durable,
            "unit": "s/point",
            "goal": None,
        },
        {
            "question": "batched logging (1000-point batches)",
            "mlflow": "log_batch: 1 commit per batch",
            "ours": "log_batch + flush(): 1 commit per batch",
            "mlflow_s": ml_batch,
            "ours_s": our_batch,
            "unit": "s/point",
            "goal": 10.0,
        },
        {
            "question": f"read a {args.history}-point history",
            "mlflow": "get_metric_history",
            "ours": f"get_metric_history (numpy columns, {blocks} blocks)",
            "mlflow_s": ml_read,
            "ours_s": our_read,
            "unit": "s/read",
            "goal": 20.0,
        },
        {
            "question": f"read a {args.history}-point history, CPU time",
            "mlflow": "get_metric_history",
            "ours": f"get_metric_history (numpy columns, {blocks} blocks)",
            "mlflow_s": ml_read_cpu,
            "ours_s": our_read_cpu,
            "unit": "s/read",
            "goal": None,
        },
        {
            "question": f"read a {args.history}-point history as Arrow",
            "mlflow": "get_metric_history",
            "ours": "get_metric_history(...).to_arrow()",
            "mlflow_s": ml_read,
            "ours_s": our_arrow,
            "unit": "s/read",
            "goal": None,
        },
    ]
    for row in rows:
        row["ratio"] = row["mlflow_s"] / row["ours_s"]
        row["meets_goal"] = None if row["goal"] is None else row["ratio"] >= row["goal"]
    return {
        "benchmark": "tracking",
        "anchor": f"MLflow {mlflow_side.version} (SQLite tracking store)",
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_1m": os.getloadavg()[0],
        },
        "params": vars(args) | {"tmp": str(args.tmp)},
        "rows": rows,
    }


def _fmt(seconds: float, unit: str) -> str:
    if unit == "s/point":
        return f"{seconds * 1e6:,.1f} µs/pt"
    return f"{seconds * 1e3:,.1f} ms"


def _ratio(value: float) -> str:
    return f"{value:,.0f}×" if value >= 100 else f"{value:.1f}×"


def table(result: dict[str, Any]) -> str:
    lines = [
        f"Anchor: {result['anchor']}, same machine, same run. Ratio = MLflow time / our time.",
        "",
        "| question | MLflow (durable when) | ours (durable when) | MLflow | ours | ratio | goal |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in result["rows"]:
        goal = "—" if r["goal"] is None else f"≥{r['goal']:g}× {'✓' if r['meets_goal'] else '✗'}"
        lines.append(
            f"| {r['question']} | {r['mlflow']} | {r['ours']} | {_fmt(r['mlflow_s'], r['unit'])}"
            f" | {_fmt(r['ours_s'], r['unit'])} | {_ratio(r['ratio'])} | {goal} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mlflow-points", type=int, default=300, help="MLflow per-point calls")
    parser.add_argument("--points", type=int, default=200_000, help="our per-point calls")
    parser.add_argument("--mlflow-batches", type=int, default=10, help="MLflow 1000-pt batches")
    parser.add_argument("--batches", type=int, default=50, help="our 1000-point batches")
    parser.add_argument("--history", type=int, default=20_000, help="points in the read test")
    parser.add_argument("--repeat", type=int, default=7, help="timed reads (median)")
    parser.add_argument("--tmp", type=Path, default=None, help="temp dir parent (same disk)")
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    result = run(args)
    text = table(result)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tracking.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    command = "python benchmarks/tracking.py " + " ".join(sys.argv[1:])
    (RESULTS / "tracking.md").write_text(
        "# Metric tracking vs MLflow\n\n"
        f"`{command.strip()}` on {result['machine']['platform']}, "
        f"{result['machine']['cpus']} CPUs, 1-minute load average "
        f"{result['machine']['load_average_1m']:.1f} at the end (a shared machine: wall "
        "times stretch with load, so reads also report CPU time).\n\n"
        f"{text}\n\n"
        "Our per-point timing ends after the final `flush()` commit, so every timed point is "
        "durable; between flushes up to `flush_every` points live only in memory. Our history "
        "read is one SELECT of the key's stored blocks (`metric_blocks`: packed arrays, one row "
        "per 1000-point flush) decoded with numpy; nothing is cached between timed reads. "
        "A flush writes both stored forms in its one transaction: the key's block and one "
        "`metric_points` row per point (for analytics queries; multi-row INSERTs, index on "
        "experiment, key, step), the larger part of our batched time.\n"
    )
    if not all(math.isfinite(r["ratio"]) for r in result["rows"]):
        raise SystemExit("a timing was zero or broken")


if __name__ == "__main__":
    main()
