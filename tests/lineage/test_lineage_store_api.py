"""Lineage recorded by the real experiment, registry and deployment writes."""

from __future__ import annotations

import pytest

pytest.importorskip("kuzu")

from swarmstore import SwarmDatabaseManager
from swarmstore.lineage import DeploymentRef
from tests.registry.helpers_governance import (
    SWARM,
    approve_all,
    seed_deployment,
    seed_registry,
    store_versions,
)


def test_experiments_and_deployments_from_the_store_api(db: SwarmDatabaseManager) -> None:
    store_versions(db, ("v1.0", "v1.1"))
    db.store_training_experiment(
        SWARM,
        {"id": "exp_1", "name": "fine-tune", "modelId": "model_001", "checkpoints": ["v1.1"]},
    )
    db.register_model_in_registry(SWARM, seed_registry(), actor="alice")
    approve_all(db, "v1.1")
    db.deploy_model(SWARM, seed_deployment(id="dep_1"), actor="ops")
    for source in ("graph", "sql"):
        lineage = db.lineage
        assert lineage.experiments_for(SWARM, "model_001", "v1.1", source=source) == ["exp_1"]
        assert lineage.experiments_for(SWARM, "model_001", "v1.0", source=source) == []
        assert lineage.deployments_of(SWARM, "model_001", source=source) == [
            DeploymentRef("dep_1", "model_001", "v1.1")
        ]
        assert lineage.last_source == source
    report = db.check()
    assert report.ok, report
