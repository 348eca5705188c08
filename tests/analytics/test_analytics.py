"""Lifecycle stats (the seed's shape), model analytics and compare_models."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from swarmstore import InvalidQueryError, ModelNotFoundError, SwarmDatabaseManager
from tests.conftest import model_record, small_state_dict, store_snapshot
from tests.registry.helpers_governance import (
    SWARM,
    approve_all,
    seed_deployment,
    seed_registry,
    store_versions,
)

SEED_STATS_KEYS = {
    "totalModels",
    "totalExperiments",
    "totalDatasets",
    "totalDeployments",
    "averageAccuracy",
    "averageModelSize",
    "architectureDistribution",
    "deploymentStatus",
    "recentActivity",
}


@pytest.fixture
def populated(db: SwarmDatabaseManager) -> SwarmDatabaseManager:
    store_versions(db, ("v1.0", "v1.1"), accuracies=(0.80, 0.90))
    db.store_neural_model(
        SWARM,
        model_record(
            "v1",
            small_state_dict(5, width=8),
            model_id="bert",
            architecture="transformer",
            metadata={"accuracy": 0.70},
        ),
    )
    db.store_neural_model(
        "elsewhere",
        model_record("v1", small_state_dict(6, width=8), model_id="x", architecture="cnn"),
    )
    db.register_model_in_registry(SWARM, seed_registry(), actor="alice")
    approve_all(db, "v1.0")
    approve_all(db, "v1.1")
    db.deploy_model(SWARM, seed_deployment(id="d1", version="v1.0"), actor="ops")
    db.deploy_model(SWARM, seed_deployment(id="d2", version="v1.1"), actor="ops")
    db.set_model_alias(SWARM, "model_001", "champion", "v1.1", actor="alice")
    return db


def test_lifecycle_stats_have_exactly_the_seed_shape(populated: SwarmDatabaseManager) -> None:
    stats = populated.get_neural_model_lifecycle_stats(SWARM)
    assert set(stats) == SEED_STATS_KEYS
    assert set(stats["recentActivity"]) == {"modelsStored", "experimentsRun", "deploymentsActive"}
    assert stats["totalModels"] == 2 and stats["totalDeployments"] == 2
    assert stats["averageAccuracy"] == pytest.approx((0.90 + 0.70) / 2)  # latest versions
    assert stats["architectureDistribution"] == {"feedforward": 1, "transformer": 1}
    assert stats["deploymentStatus"] == {"active": 1, "retired": 1}
    assert stats["recentActivity"]["modelsStored"] == 3
    assert stats["recentActivity"]["deploymentsActive"] == 1
    sizes = [v.model_size for v in populated.list_model_versions(SWARM, "model_001")]
    bert = populated.list_model_versions(SWARM, "bert")[0].model_size
    assert stats["averageModelSize"] == pytest.approx((sizes[-1] + bert) / 2)


def test_lifecycle_stats_across_swarms_and_windows(populated: SwarmDatabaseManager) -> None:
    everywhere = populated.get_neural_model_lifecycle_stats()
    assert everywhere["totalModels"] == 3
    assert everywhere["architectureDistribution"]["cnn"] == 1
    old = populated.get_neural_model_lifecycle_stats(SWARM, recent=timedelta(seconds=-60))
    assert old["recentActivity"]["modelsStored"] == 0


def test_empty_store_stats(db: SwarmDatabaseManager) -> None:
    stats = db.get_neural_model_lifecycle_stats()
    assert set(stats) == SEED_STATS_KEYS
    assert stats["totalModels"] == 0 and stats["averageAccuracy"] is None
    assert stats["deploymentStatus"] == {} and stats["architectureDistribution"] == {}


def test_model_analytics(populated: SwarmDatabaseManager) -> None:
    analytics = populated.get_model_analytics(SWARM, "model_001")
    assert analytics.total_versions == 2 and analytics.latest_version == "v1.1"
    accuracy = analytics.performance_trends["accuracy"]
    assert (accuracy.first, accuracy.last, accuracy.best_version) == (0.8, 0.9, "v1.1")
    assert accuracy.direction == "improving"
    assert analytics.performance_trends["loss"].mode == "min"
    assert analytics.versions[1].aliases == ["champion"]
    assert analytics.versions[0].stage == "staging"
    assert analytics.registry is not None and analytics.registry["aliases"] == {"champion": "v1.1"}
    deployments = analytics.deployments
    assert deployments is not None
    assert deployments.active == {"production": "v1.1"}
    assert deployments.by_status == {"retired": 1, "active": 1}
    usage = analytics.resource_utilization
    assert usage.versions_raw_bytes == sum(v.model_size for v in analytics.versions)
    data = analytics.to_json_dict()
    assert "performanceTrends" in data and "resourceUtilization" in data
    lean = populated.get_model_analytics(
        SWARM, "model_001", include_experiments=False, include_deployments=False
    )
    assert lean.deployments is None and lean.training is None


def test_model_analytics_of_unknown_model(db: SwarmDatabaseManager, store_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="ghost"):
        db.get_model_analytics(SWARM, "ghost")


def test_compare_models_side_by_side(populated: SwarmDatabaseManager) -> None:
    db = populated
    comparison = db.compare_models(SWARM, "model_001")
    assert [r["version"] for r in comparison.rows] == ["v1.0", "v1.1"]
    # v1.1 is the entry's latestVersion: its registry benchmark scores win
    assert comparison.table()["accuracy"] == {"model_001@v1.0": 0.8, "model_001@v1.1": 0.95}
    assert comparison.rows[1]["sources"]["accuracy"] == "registry"
    assert comparison.table()["f1Score"] == {"model_001@v1.0": None, "model_001@v1.1": 0.94}
    assert comparison.best["accuracy"] == "model_001@v1.1"
    cross = db.compare_models(SWARM, [("model_001", "v1.0"), ("bert", "v1")], metrics=["accuracy"])
    assert cross.metrics == ["accuracy"] and cross.best == {"accuracy": "model_001@v1.0"}
    table = cross.to_arrow()
    assert table.column_names == ["modelId", "version", "accuracy"]
    assert table.column("accuracy").to_pylist() == [0.8, 0.7]


def test_compare_models_bad_input(populated: SwarmDatabaseManager, store_path: Path) -> None:
    before = store_snapshot(store_path)
    with pytest.raises(ModelNotFoundError, match="v9"):
        populated.compare_models(SWARM, "model_001", ["v1.0", "v9"])
    with pytest.raises(ModelNotFoundError, match="ghost"):
        populated.compare_models(SWARM, [("ghost", "v1")])
    with pytest.raises(InvalidQueryError):
        populated.compare_models(SWARM, [])
    with pytest.raises(InvalidQueryError):
        populated.compare_models(SWARM, ["model_001"])  # type: ignore[list-item]
    assert store_snapshot(store_path) == before


def test_model_analytics_takes_the_seed_options(populated: SwarmDatabaseManager) -> None:
    seed_style = populated.get_model_analytics(
        SWARM, "model_001", {"includeExperiments": False, "includeDeployments": True}
    )
    assert seed_style.training is None and seed_style.deployments is not None
    with pytest.raises(InvalidQueryError, match="includeEverything"):
        populated.get_model_analytics(SWARM, "model_001", {"includeEverything": True})
