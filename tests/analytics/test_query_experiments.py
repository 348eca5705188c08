"""The query API and Arrow export over experiments, their histories and metrics."""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pytest

from swarmstore import InvalidQueryError, SwarmDatabaseManager
from tests.registry.helpers_governance import SWARM, store_versions

RUNS = [  # id, learning rate, optimizer, final accuracy, status, tags
    ("e1", 0.1, "sgd", 0.70, "completed", ["baseline"]),
    ("e2", 0.005, "adam", 0.91, "completed", ["baseline", "aug"]),
    ("e3", 0.001, "adam", 0.88, "completed", ["baseline"]),
    ("e4", 0.001, "adam", 0.95, "failed", ["baseline"]),
    ("e5", 0.0005, "adamw", 0.93, "completed", ["aug"]),
]


def history(accuracy: float, epochs: int = 5) -> list[dict[str, Any]]:
    return [
        {
            "epoch": i,
            "trainingLoss": 1.0 / (i + 1),
            "validationLoss": math.nan if i == 2 else 1.2 / (i + 1),
            "validationAccuracy": accuracy * (i + 1) / epochs,
            "learningRate": 0.01,
        }
        for i in range(epochs)
    ]


@pytest.fixture
def experiments(db: SwarmDatabaseManager) -> SwarmDatabaseManager:
    store_versions(db, ("v1.0", "v1.1"))
    for exp_id, lr, optimizer, accuracy, status, tags in RUNS:
        db.store_training_experiment(
            SWARM,
            {
                "id": exp_id,
                "modelId": "model_001",
                "hyperparameters": {"learningRate": lr, "optimizer": optimizer, "batchSize": 32},
                "metrics": {
                    "trainingHistory": history(accuracy),
                    "finalMetrics": {"accuracy": accuracy, "customMetrics": {"top5": 0.99}},
                },
                "status": status,
                "tags": tags,
                "checkpoints": ["v1.1"] if exp_id == "e2" else [],
                "resourceUsage": {"gpuHours": 1.5, "cpuHours": 2.0},
            },
        )
    return db


def ids(result: Any) -> list[str]:
    return [row["experimentId"] for row in result]


def test_the_issue_example(experiments: SwarmDatabaseManager) -> None:
    result = experiments.query_experiments(
        where={
            "hyperparameters.learningRate": ("<", 0.01),
            "status": "completed",
            "tags": "baseline",
        },
        order_by="-finalMetrics.accuracy",
        limit=10,
    )
    assert ids(result) == ["e2", "e3"]
    assert result[0]["finalAccuracy"] == 0.91 and result[0]["epochs"] == 5


@pytest.mark.parametrize(
    ("where", "order_by", "limit", "expected"),
    [
        ({"hyperparameters.optimizer": "adam"}, "finalAccuracy", None, ["e3", "e2", "e4"]),
        ({"accuracy": (">=", 0.9)}, "-accuracy", 2, ["e4", "e5"]),
        ({"status": ("!=", "completed")}, None, None, ["e4"]),
        ({"finalMetrics.customMetrics.top5": (">", 0.9)}, "experimentId", 1, ["e1"]),
        ({"tags": ("all", ["baseline", "aug"])}, None, None, ["e2"]),
        ({"resourceUsage.gpuHours": 1.5, "modelId": "model_001"}, "-startedAt", 1, ["e5"]),
        (
            {"epochs": 5, "bestValidationLoss": ("<", 1)},
            "experimentId",
            None,
            ["e1", "e2", "e3", "e4", "e5"],
        ),
    ],
)
def test_filters_order_limit(
    experiments: SwarmDatabaseManager,
    where: dict[str, Any],
    order_by: str | None,
    limit: int | None,
    expected: list[str],
) -> None:
    result = experiments.query_experiments(SWARM, where=where, order_by=order_by, limit=limit)
    assert ids(result) == expected


def test_experiment_export_schema(experiments: SwarmDatabaseManager) -> None:
    table = experiments.export_table("experiments", SWARM, order_by="experimentId")
    assert table.num_rows == 5 and "history" not in table.column_names
    assert table.schema.field("finalAccuracy").type == pa.float64()
    assert table.schema.field("epochs").type == pa.int64()
    assert table.schema.field("converged").type == pa.bool_()
    assert table.schema.field("startedAt").type == pa.timestamp("us", tz="UTC")
    assert table.column("finalAccuracy").to_pylist() == [r[3] for r in RUNS]


def test_history_export_one_row_per_epoch(experiments: SwarmDatabaseManager) -> None:
    table = experiments.export_table(
        "training_history", SWARM, where={"status": "failed"}, order_by="experimentId"
    )
    assert table.num_rows == 5 and set(table.column("experimentId").to_pylist()) == {"e4"}
    assert table.column("epoch").to_pylist() == [0, 1, 2, 3, 4]
    losses = table.column("validationLoss").to_pylist()
    assert math.isnan(losses[2]) and losses[0] == pytest.approx(1.2)
    narrow = experiments.export_table("training_history", columns=["experimentId", "epoch"])
    assert narrow.column_names == ["experimentId", "epoch"] and narrow.num_rows == 25
    with pytest.raises(InvalidQueryError):
        experiments.export_table("training_history", columns=["nope"])


def test_streamed_metrics_export_keeps_non_finite(db: SwarmDatabaseManager) -> None:
    with db.start_experiment(SWARM, "run_1", tags=["stream"]) as run:
        run.log_metrics(0, loss=math.inf)
        run.log_metrics(1, loss=0.5)
        run.log_metrics(2, loss=math.nan)
    table = db.export_table("metrics", SWARM, where={"key": "loss"}, order_by="step")
    assert table.column_names == [
        "swarmId",
        "experimentId",
        "key",
        "step",
        "epoch",
        "value",
        "wallTime",
    ]
    values = table.column("value").to_pylist()
    assert values[0] == math.inf and values[1] == 0.5 and math.isnan(values[2])
    assert db.export_table("metrics", where={"tags": "other"}).num_rows == 0


def test_lifecycle_stats_count_experiments(experiments: SwarmDatabaseManager) -> None:
    stats = experiments.get_neural_model_lifecycle_stats(SWARM)
    assert stats["totalExperiments"] == 5
    assert stats["recentActivity"]["experimentsRun"] == 5
    assert experiments.get_neural_model_lifecycle_stats("elsewhere")["totalExperiments"] == 0


def test_model_analytics_and_compare_use_experiments(experiments: SwarmDatabaseManager) -> None:
    analytics = experiments.get_model_analytics(SWARM, "model_001")
    assert analytics.training is not None and analytics.training.total == 5
    assert analytics.training.by_status == {"completed": 4, "failed": 1}
    assert analytics.resource_utilization.gpu_hours == pytest.approx(7.5)
    by_version = {p.version: p.value for p in analytics.performance_trends["accuracy"].points}
    assert by_version["v1.1"] == 0.91  # e2 checkpointed v1.1: its final score wins
    comparison = experiments.compare_models(SWARM, "model_001", metrics=["accuracy", "top5"])
    assert comparison.table()["top5"] == {"model_001@v1.0": None, "model_001@v1.1": 0.99}
    assert comparison.rows[1]["sources"]["accuracy"] == "experiment"
