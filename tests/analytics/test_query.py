"""The query API over model versions, deployments and the audit trail; Arrow export."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from swarmstore import InvalidQueryError, InvalidRecordError, SwarmDatabaseManager
from tests.conftest import model_record, small_state_dict
from tests.registry.helpers_governance import SWARM, seed_deployment

ROWS = [  # version, learning rate, accuracy, tags, optimizer
    ("v1", 0.1, 0.70, ["baseline"], "sgd"),
    ("v2", 0.01, 0.80, ["baseline", "aug"], "adam"),
    ("v3", 0.001, 0.90, ["aug"], "adam"),
    ("v4", 0.005, 0.85, [], "adamw"),
]


@pytest.fixture
def versions(db: SwarmDatabaseManager) -> SwarmDatabaseManager:
    for i, (version, lr, acc, tags, optimizer) in enumerate(ROWS):
        db.store_neural_model(
            SWARM,
            model_record(
                version,
                small_state_dict(i, width=8),
                hyperparameters={"learningRate": lr, "optimizer": optimizer, "nested": {"k": i}},
                metadata={"accuracy": acc, "loss": 1 - acc},
                tags=tags,
            ),
        )
    db.store_neural_model(
        "other_swarm", model_record("v1", small_state_dict(9, width=8), metadata={"accuracy": 1.0})
    )
    return db


def names(result: Any) -> list[str]:
    return [row["version"] for row in result]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"hyperparameters.learningRate": ("<", 0.01)}, ["v3", "v4"]),
        ({"hyperparameters.learningRate": ("<=", 0.01)}, ["v2", "v3", "v4"]),
        ({"hyperparameters.optimizer": "adam"}, ["v2", "v3"]),
        ({"hyperparameters.optimizer": ("in", ["sgd", "adamw"])}, ["v1", "v4"]),
        ({"hyperparameters.optimizer": ("like", "adam%")}, ["v2", "v3", "v4"]),
        ({"hyperparameters.nested.k": (">=", 2)}, ["v3", "v4"]),
        ({"accuracy": ("between", (0.8, 0.86))}, ["v2", "v4"]),
        ({"metadata.accuracy": (">", 0.8), "tags": "aug"}, ["v3"]),
        ({"tags": "baseline"}, ["v1", "v2"]),
        ({"tags": ("all", ["baseline", "aug"])}, ["v2"]),
        ({"tags": ("any", ["baseline", "aug"])}, ["v1", "v2", "v3"]),
        (
            {"version": ("!=", "v1"), "hyperparameters.missing": ("exists", False)},
            ["v2", "v3", "v4"],
        ),
        ({"hyperparameters.nested": ("exists", True)}, ["v1", "v2", "v3", "v4"]),
    ],
)
def test_filters(
    versions: SwarmDatabaseManager, where: dict[str, Any], expected: list[str]
) -> None:
    assert names(versions.query_model_versions(SWARM, where=where)) == expected


def test_order_limit_offset_and_swarm_scope(versions: SwarmDatabaseManager) -> None:
    db = versions
    assert names(db.query_model_versions(SWARM, order_by="-accuracy", limit=2)) == ["v3", "v4"]
    assert names(db.query_model_versions(SWARM, order_by="hyperparameters.learningRate")) == [
        "v3",
        "v4",
        "v2",
        "v1",
    ]
    assert names(db.query_model_versions(SWARM, order_by="accuracy", limit=2, offset=1)) == [
        "v2",
        "v4",
    ]
    everywhere = db.query_model_versions(order_by="-accuracy", limit=1)
    assert everywhere[0]["swarmId"] == "other_swarm"
    assert len(db.query_model_versions()) == 5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"where": {"nope": 1}}, "nope"),
        ({"where": {"accuracy": ("~", 1)}}, "accuracy"),
        ({"where": {"accuracy": ("in", [])}}, "accuracy"),
        ({"where": {"hyperparameters.": 1}}, "hyperparameters."),
        ({"where": {"tags": ("near", "x")}}, "tags"),
        ({"where": {"hyperparameters.x": {"a": 1}}}, "hyperparameters.x"),
        ({"order_by": "-unknown"}, "unknown"),
        ({"limit": -1}, "limit"),
        ({"where": ["status"]}, None),
    ],
)
def test_bad_queries_are_typed(
    versions: SwarmDatabaseManager, kwargs: dict[str, Any], field: str | None
) -> None:
    with pytest.raises(InvalidQueryError) as caught:
        versions.query_model_versions(SWARM, **kwargs)
    assert isinstance(caught.value, InvalidRecordError) and caught.value.field == field


def test_unknown_target(versions: SwarmDatabaseManager) -> None:
    with pytest.raises(InvalidQueryError, match="model_versions"):
        versions.export_table("nonsense")


def test_arrow_export_schema_and_rows(versions: SwarmDatabaseManager) -> None:
    table = versions.export_table(
        "model_versions", SWARM, where={"tags": "aug"}, order_by="version"
    )
    assert isinstance(table, pa.Table) and table.num_rows == 2
    assert table.schema.field("accuracy").type == pa.float64()
    assert table.schema.field("modelSize").type == pa.int64()
    assert table.schema.field("created").type == pa.timestamp("us", tz="UTC")
    assert table.column("version").to_pylist() == ["v2", "v3"]
    assert table.column("accuracy").to_pylist() == [0.8, 0.9]
    hyper = [json.loads(h) for h in table.column("hyperparameters").to_pylist()]
    assert [h["optimizer"] for h in hyper] == ["adam", "adam"]
    assert json.loads(table.column("tags")[1].as_py()) == ["aug"]
    result = versions.query_model_versions(SWARM, where={"tags": "aug"}, order_by="version")
    assert result.to_arrow().equals(table)
    picked = versions.export_table("model_versions", SWARM, columns=["version", "accuracy"])
    assert picked.column_names == ["version", "accuracy"] and picked.num_rows == 4
    empty = versions.export_table("model_versions", "no_such_swarm")
    assert empty.num_rows == 0 and empty.schema == table.schema


def test_deployments_registry_and_audit_are_queryable(db: SwarmDatabaseManager) -> None:
    db.store_neural_model(SWARM, model_record("v1.1", small_state_dict(0, width=8)))
    db.deploy_model(SWARM, seed_deployment(id="d1", environment="staging"), actor="ops")
    db.deploy_model(SWARM, seed_deployment(id="d2", environment="dev"), actor="ops")
    db.set_deployment_status(SWARM, "d2", "retired", actor="ops")
    active = db.query("deployments", SWARM, where={"status": "active"})
    assert [r["deploymentId"] for r in active] == ["d1"]
    big = db.export_table("deployments", where={"config.batchSize": (">=", 32)})
    assert sorted(big.column("deploymentId").to_pylist()) == ["d1", "d2"]
    audit = db.export_table("audit", SWARM, where={"action": "deployment_status_changed"})
    assert audit.column("to").to_pylist() == ["retired"]
    assert db.export_table("registry").num_rows == 0
