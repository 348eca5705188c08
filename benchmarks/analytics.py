"""Are filtered queries and lifecycle stats fast on a store with 30,000 runs?

Goal (issue 4): with 30,000 experiments of 50-epoch histories, a filtered,
ordered query and ``get_neural_model_lifecycle_stats`` each under 1 s.

Data: a real store (SQLite, WAL) with 100 models; rows are bulk-inserted
through the same SQLAlchemy tables the API writes (much faster than 30,000
API calls, same rows). Model versions: 30,000 rows with hyperparameters,
accuracy/loss metadata and tags (no tensors: queries never read them).
Experiments, when the training tables exist: 30,000 rows with 50-epoch
histories, final metrics and tags.

Anchor, same run: the same question answered the obvious way without the
query API — load every row (ORM objects) and filter, sort and aggregate in
Python. Reported: median of 5 runs (after one warm-up), the ratio to the 1 s
goal and the speed-up over the anchor.

    python benchmarks/analytics.py [--rows 30000] [--repeat 5]

Prints a markdown table; writes benchmarks/results/analytics.json and .md.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from swarmstore import SwarmDatabaseManager
from swarmstore.meta.tables import ModelRow, VersionRow
from swarmstore.meta.tables_training import ExperimentRow

RESULTS = Path(__file__).parent / "results"
SWARM = "bench"
GOAL_S = 1.0
ARCHITECTURES = ("feedforward", "transformer", "cnn", "rnn")
OPTIMIZERS = ("adam", "adamw", "sgd")
STATUSES = ("completed", "failed", "running", "paused")
INDEXES = (
    "ix_experiments_final_accuracy",
    "ix_experiments_swarm_id_final_accuracy",
    "ix_experiments_swarm_id_started",
)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = fn()  # warm-up (page cache, statement cache)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# ------------------------------------------------------------------ data


def populate_models(db: SwarmDatabaseManager, rows: int, models: int, rng: random.Random) -> None:
    now = datetime.now(UTC)
    with db._meta.write() as session:
        pks = []
        for m in range(models):
            row = ModelRow(
                swarm_id=SWARM,
                model_id=f"model_{m:03d}",
                agent_id="agent",
                model_name=f"Net{m}",
                architecture=ARCHITECTURES[m % len(ARCHITECTURES)],
                created=now,
                updated=now,
            )
            session.add(row)
            session.flush()
            pks.append(row.pk)
        batch = []
        for i in range(rows):
            accuracy = rng.uniform(0.5, 0.99)
            batch.append(
                {
                    "model_pk": pks[i % models],
                    "version": f"v{i // models}",
                    "seq": i // models + 1,
                    "agent_id": "agent",
                    "model_name": "Net",
                    "architecture": ARCHITECTURES[(i % models) % len(ARCHITECTURES)],
                    "hyperparameters": {
                        "learningRate": 10 ** rng.uniform(-4, -1),
                        "batchSize": rng.choice((16, 32, 64, 128)),
                        "optimizer": rng.choice(OPTIMIZERS),
                    },
                    "meta": {"accuracy": accuracy, "loss": 1 - accuracy + rng.uniform(0, 0.1)},
                    "tags": rng.sample(["baseline", "augmented", "distilled", "sweep"], 2),
                    "checkpoint_type": "full",
                    "compression_type": "zstd",
                    "model_size": rng.randint(1 << 20, 1 << 28),
                    "stored_size": rng.randint(1 << 19, 1 << 27),
                    "tensor_count": 10,
                    "hidden": False,
                    "created": now - timedelta(days=rng.uniform(0, 30)),
                    "updated": now,
                }
            )
            if len(batch) == 5000:
                session.execute(insert(VersionRow), batch)
                batch = []
        if batch:
            session.execute(insert(VersionRow), batch)


def epoch_rows(
    rng: random.Random, epochs: int, start: datetime
) -> tuple[list[dict[str, Any]], float]:
    """A plausible 50-epoch history (losses fall, accuracies rise, some noise)."""
    rate = rng.uniform(0.03, 0.15)
    ceiling = rng.uniform(0.6, 0.98)
    rows: list[dict[str, Any]] = []
    for epoch in range(epochs):
        progress = 1 - math.exp(-rate * (epoch + 1))
        rows.append(
            {
                "epoch": epoch,
                "trainingLoss": 2.3 * (1 - progress) + rng.uniform(0, 0.05),
                "validationLoss": 2.4 * (1 - progress) + rng.uniform(0, 0.1),
                "trainingAccuracy": min(1.0, ceiling * progress + rng.uniform(0, 0.02)),
                "validationAccuracy": min(1.0, ceiling * progress * 0.97),
                "learningRate": 0.001,
                "timestamp": (start + timedelta(minutes=epoch)).isoformat(),
                "customMetrics": {},
            }
        )
    return rows, rows[-1]["validationAccuracy"]


def populate_experiments(
    db: SwarmDatabaseManager, rows: int, epochs: int, rng: random.Random
) -> None:
    """Rows as ``swarmstore.experiments.rows.row_values`` writes them (summary columns too)."""
    now = datetime.now(UTC)
    with db._meta.write() as session:
        batch = []
        for i in range(rows):
            started = now - timedelta(days=rng.uniform(0, 30))
            history, accuracy = epoch_rows(rng, epochs, started)
            val_losses = [h["validationLoss"] for h in history]
            best = min(range(epochs), key=val_losses.__getitem__)
            status = rng.choices(STATUSES, weights=(80, 10, 5, 5))[0]
            batch.append(
                {
                    "swarm_id": SWARM,
                    "experiment_id": f"exp_{i:06d}",
                    "name": f"run {i}",
                    "model_id": f"model_{i % 100:03d}",
                    "agent_id": "agent",
                    "dataset_id": "",
                    "status": status,
                    "hyperparameters": {
                        "learningRate": 10 ** rng.uniform(-4, -1),
                        "batchSize": rng.choice((16, 32, 64, 128)),
                        "epochs": epochs,
                        "optimizer": rng.choice(OPTIMIZERS),
                        "lossFunction": "cross_entropy",
                        "regularization": {"weightDecay": 0.01},
                        "schedulers": {},
                    },
                    "history": history,
                    "final_metrics": {
                        "accuracy": accuracy,
                        "precision": accuracy - 0.01,
                        "recall": accuracy - 0.02,
                        "f1Score": accuracy - 0.015,
                        "customMetrics": {},
                    },
                    "convergence": {"converged": True, "bestEpoch": best, "overfittingRisk": 0.1},
                    "resource_usage": {"gpuHours": rng.uniform(0, 4), "cpuHours": 1.0},
                    "tags": rng.sample(["baseline", "augmented", "distilled", "sweep"], 2),
                    "epochs": epochs,
                    "final_accuracy": accuracy,
                    "final_loss": val_losses[-1],
                    "best_validation_loss": val_losses[best],
                    "best_epoch": best,
                    "converged": True,
                    "overfitting_risk": 0.1,
                    "duration": epochs * 60.0,
                    "started": started,
                    "ended": None if status == "running" else started + timedelta(hours=1),
                    "created": now,
                    "updated": now,
                }
            )
            if len(batch) == 2000:
                session.execute(insert(ExperimentRow), batch)
                batch = []
        if batch:
            session.execute(insert(ExperimentRow), batch)


# ------------------------------------------------------------------ questions

EXPERIMENT_WHERE = {
    "hyperparameters.learningRate": ("<", 0.01),
    "status": "completed",
    "tags": "baseline",
}


def experiments_api(db: SwarmDatabaseManager) -> list[str]:
    result = db.query_experiments(
        where=EXPERIMENT_WHERE, order_by="-finalMetrics.accuracy", limit=10
    )
    return [r["experimentId"] for r in result]


def experiments_naive(db: SwarmDatabaseManager) -> list[str]:
    with db._meta.read() as session:
        rows = list(session.scalars(select(ExperimentRow)))
    hits = [
        r
        for r in rows
        if r.hyperparameters.get("learningRate", 1) < 0.01
        and r.status == "completed"
        and "baseline" in r.tags
    ]
    hits.sort(key=lambda r: (-(r.final_metrics.get("accuracy") or -1), r.pk))
    return [r.experiment_id for r in hits[:10]]


VERSION_WHERE = {
    "hyperparameters.learningRate": ("<", 0.01),
    "hyperparameters.optimizer": "adam",
    "tags": "baseline",
}


def versions_api(db: SwarmDatabaseManager) -> list[str]:
    result = db.query_model_versions(SWARM, where=VERSION_WHERE, order_by="-accuracy", limit=10)
    return [f"{r['modelId']}@{r['version']}" for r in result]


def versions_naive(db: SwarmDatabaseManager) -> list[str]:
    with db._meta.read() as session:
        rows = session.execute(
            select(ModelRow.model_id, VersionRow).join(ModelRow, ModelRow.pk == VersionRow.model_pk)
        ).all()
    hits = [
        (model_id, v)
        for model_id, v in rows
        if v.hyperparameters.get("learningRate", 1) < 0.01
        and v.hyperparameters.get("optimizer") == "adam"
        and "baseline" in v.tags
    ]
    hits.sort(key=lambda h: -h[1].meta.get("accuracy", float("-inf")))
    return [f"{m}@{v.version}" for m, v in hits[:10]]


def stats_naive(db: SwarmDatabaseManager) -> dict[str, Any]:
    with db._meta.read() as session:
        models = list(session.scalars(select(ModelRow)))
        versions = list(session.scalars(select(VersionRow)))
    latest: dict[int, VersionRow] = {}
    for v in versions:
        if v.model_pk not in latest or v.seq > latest[v.model_pk].seq:
            latest[v.model_pk] = v
    accs = [v.meta["accuracy"] for v in latest.values() if "accuracy" in v.meta]
    return {
        "totalModels": len(models),
        "averageAccuracy": sum(accs) / len(accs) if accs else None,
    }


def run(rows: int, epochs: int, repeat: int) -> dict[str, Any]:
    rng = random.Random(0)
    report: dict[str, Any] = {
        "rows": rows,
        "epochs": epochs,
        "repeat": repeat,
        "python": sys.version.split()[0],
        "machine": platform.platform(),
        "results": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        db = SwarmDatabaseManager.open(Path(tmp) / "store", durability="normal")
        try:
            start = time.perf_counter()
            populate_models(db, rows, 100, rng)
            report["populate_versions_s"] = time.perf_counter() - start
            start = time.perf_counter()
            populate_experiments(db, rows, epochs, rng)
            report["populate_experiments_s"] = time.perf_counter() - start
            questions: list[tuple[str, Callable[[], Any], Callable[[], Any] | None]] = [
                (
                    "query_experiments (lr < 0.01, completed, tag; -accuracy; limit 10)",
                    lambda: experiments_api(db),
                    lambda: experiments_naive(db),
                ),
                (
                    "query_model_versions (3 filters, order, limit 10)",
                    lambda: versions_api(db),
                    lambda: versions_naive(db),
                ),
                (
                    "get_neural_model_lifecycle_stats(swarm)",
                    lambda: db.get_neural_model_lifecycle_stats(SWARM),
                    lambda: stats_naive(db),
                ),
                (
                    "get_neural_model_lifecycle_stats(all)",
                    lambda: db.get_neural_model_lifecycle_stats(),
                    None,
                ),
                (
                    "export_table model_versions (filtered) -> Arrow",
                    lambda: db.export_table("model_versions", SWARM, where=VERSION_WHERE).num_rows,
                    None,
                ),
            ]
            for name, api, naive in questions:
                api_s, api_result = timed(api, repeat)
                entry: dict[str, Any] = {
                    "question": name,
                    "api_s": api_s,
                    "goal_ratio": api_s / GOAL_S,
                    "meets_goal": api_s < GOAL_S,
                }
                if naive is not None:
                    naive_s, naive_result = timed(naive, max(1, repeat // 2))
                    entry["anchor_s"] = naive_s
                    entry["speedup_vs_anchor"] = naive_s / api_s
                    if name.startswith("query"):
                        entry["same_answer"] = naive_result == api_result
                report["results"].append(entry)
            # The same experiment query once more without the analytics indexes (0004).
            with db._meta.write() as session:
                for name in INDEXES:
                    session.execute(text(f"DROP INDEX {name}"))
            api_s, _ = timed(lambda: experiments_api(db), repeat)
            report["results"].append(
                {
                    "question": "query_experiments, analytics indexes dropped",
                    "api_s": api_s,
                    "goal_ratio": api_s / GOAL_S,
                    "meets_goal": api_s < GOAL_S,
                }
            )
        finally:
            db.close()
    return report


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Store: {report['rows']:,} experiments with {report['epochs']}-epoch histories and "
        f"{report['rows']:,} model versions over 100 models; median of {report['repeat']} runs; "
        f"{report['machine']}, Python {report['python']}.",
        "",
        "| question | swarmstore | / 1 s goal | anchor: load all + Python | speed-up |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in report["results"]:
        anchor = f"{r['anchor_s'] * 1000:.1f} ms" if "anchor_s" in r else "–"
        speedup = f"{r['speedup_vs_anchor']:.1f}x" if "speedup_vs_anchor" in r else "–"
        lines.append(
            f"| {r['question']} | {r['api_s'] * 1000:.1f} ms | {r['goal_ratio']:.3f} | "
            f"{anchor} | {speedup} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    report = run(args.rows, args.epochs, args.repeat)
    text = markdown(report)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "analytics.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "analytics.md").write_text("# Analytics queries\n\n" + text)


if __name__ == "__main__":
    main()
