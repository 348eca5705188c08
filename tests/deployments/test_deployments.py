"""Deployments: governed rollouts, status history, rollback, lineage, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from swarmstore import (
    DeploymentNotApprovedError,
    DeploymentNotFoundError,
    InvalidRecordError,
    ModelNotFoundError,
    NoRollbackTargetError,
    SwarmDatabaseManager,
)
from swarmstore.records.registry import InvalidTransitionError
from tests.conftest import store_snapshot
from tests.registry.helpers_governance import (
    SWARM,
    approve_all,
    seed_deployment,
    seed_registry,
    store_versions,
)


@pytest.fixture
def approved(db: SwarmDatabaseManager) -> SwarmDatabaseManager:
    store_versions(db, ("v1.0", "v1.1", "v1.2"))
    entry = seed_registry(
        modelVersions=["model_001_v1.0", "model_001_v1.1", "model_001_v1.2"],
        latestVersion="model_001_v1.2",
    )
    db.register_model_in_registry(SWARM, entry, actor="alice")
    for version in ("v1.0", "v1.1"):
        approve_all(db, version)
    return db


def test_seed_deployment_is_stored_with_lineage_and_events(
    approved: SwarmDatabaseManager,
) -> None:
    db = approved
    seen: list[dict[str, Any]] = []
    db.on("model_deployed", seen.append)
    stored = db.deploy_model(SWARM, seed_deployment(id="dep_1"), actor="ops")
    assert stored.status == "active" and [h.status for h in stored.status_history] == ["active"]
    again = db.get_deployment(SWARM, "dep_1")
    assert again.to_json_dict() == stored.to_json_dict()
    assert again.config.scaling.max_replicas == 10 and again.monitoring.metrics_interval == 30000
    assert seen == [
        {
            "swarm_id": SWARM,
            "deployment_id": "dep_1",
            "model_id": "model_001",
            "version": "v1.1",
            "environment": "production",
        }
    ]
    with db._meta.read() as session:
        edge = session.execute(
            text("SELECT src, rel FROM lineage_edges WHERE dst = :dst"),
            {"dst": f"Deployment:{SWARM}/dep_1"},
        ).all()
        topics = list(session.scalars(text("SELECT topic FROM outbox")))
    assert [tuple(e) for e in edge] == [(f"ModelVersion:{SWARM}/model_001/v1.1", "DEPLOYED_AS")]
    assert "deployment.upserted" in topics and "registry_entry.upserted" in topics


def test_new_deployment_retires_the_active_one_and_rollback_restores_it(
    approved: SwarmDatabaseManager,
) -> None:
    db = approved
    rolled: list[dict[str, Any]] = []
    db.on("deployment_rolled_back", rolled.append)
    first = db.deploy_model(SWARM, seed_deployment(id="dep_a", version="v1.0"), actor="ops")
    second = db.deploy_model(
        SWARM, seed_deployment(id="dep_b", config={"batchSize": 64}), actor="ops"
    )
    assert second.replaces == "dep_a"
    retired = db.get_deployment(SWARM, "dep_a")
    assert retired.status == "retired" and "dep_b" in retired.status_history[-1].reason
    back = db.rollback_deployment(SWARM, "dep_b", actor="oncall", reason="latency")
    assert back.version == "v1.0" and back.status == "active" and back.replaces == "dep_b"
    assert back.config.batch_size == first.config.batch_size == 32  # the config it had then
    assert db.get_deployment(SWARM, "dep_b").status == "rolled_back"
    assert [h.status for h in db.get_deployment(SWARM, "dep_b").status_history] == [
        "active",
        "rolled_back",
    ]
    assert rolled[0]["from_version"] == "v1.1" and rolled[0]["to_version"] == "v1.0"
    active = db.list_deployments(SWARM, "model_001", environment="production", status="active")
    assert [d.id for d in active] == [back.id]
    assert len(db.list_deployments(SWARM)) == 3
    actions = [a.action for a in db.list_audit_trail(SWARM, "model_001")]
    assert actions.count("deployed") == 3 and "rolled_back" in actions


def test_rollback_to_a_named_version_and_without_target(approved: SwarmDatabaseManager) -> None:
    db = approved
    db.deploy_model(SWARM, seed_deployment(id="dep_a", version="v1.1"), actor="ops")
    with pytest.raises(NoRollbackTargetError):
        db.rollback_deployment(SWARM, "dep_a", actor="ops")
    back = db.rollback_deployment(SWARM, "dep_a", "v1.0", actor="ops", reason="pin")
    assert back.version == "v1.0"
    with pytest.raises(InvalidTransitionError):
        db.rollback_deployment(SWARM, "dep_a", actor="ops")  # no longer active


def test_status_changes_follow_the_lifecycle(approved: SwarmDatabaseManager) -> None:
    db = approved
    db.deploy_model(SWARM, seed_deployment(id="dep_a", environment="staging"), actor="ops")
    changed: list[dict[str, Any]] = []
    db.on("deployment_status_changed", changed.append)
    db.set_deployment_status(SWARM, "dep_a", "failed", actor="ops", reason="oom")
    db.set_deployment_status(SWARM, "dep_a", "retired", actor="ops")
    with pytest.raises(InvalidTransitionError):
        db.set_deployment_status(SWARM, "dep_a", "failed", actor="ops")
    assert [(c["from"], c["to"]) for c in changed] == [("active", "failed"), ("failed", "retired")]


def test_ungated_environment_needs_no_approval(db: SwarmDatabaseManager) -> None:
    store_versions(db)
    dep = db.deploy_model(SWARM, seed_deployment(environment="staging"))
    assert dep.environment == "staging"


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"version": "v9"}, ModelNotFoundError, "v9"),
        ({"modelId": "ghost"}, ModelNotFoundError, "ghost"),
        ({"version": "v1.2"}, DeploymentNotApprovedError, "tech_lead"),
        ({"environment": "edge"}, DeploymentNotApprovedError, "allows only"),
        ({"config": {"batchSize": 0}}, InvalidRecordError, "batchSize"),
        ({"id": "bad/id"}, InvalidRecordError, "separator"),
    ],
)
def test_refused_deployments_write_nothing(
    approved: SwarmDatabaseManager,
    store_path: Path,
    changes: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    before = store_snapshot(store_path)
    with pytest.raises(error, match=match):
        approved.deploy_model(SWARM, seed_deployment(**changes), actor="ops")
    assert store_snapshot(store_path) == before


def test_unregistered_model_cannot_reach_production(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    store_versions(db)
    before = store_snapshot(store_path)
    with pytest.raises(DeploymentNotApprovedError, match="not in the registry") as caught:
        db.deploy_model(SWARM, seed_deployment())
    assert (caught.value.environment, caught.value.version) == ("production", "v1.1")
    assert store_snapshot(store_path) == before


def test_environment_mapping_and_failed_checks_gate_deployments(
    db: SwarmDatabaseManager,
) -> None:
    store_versions(db)
    governance = {
        "approvers": ["tech_lead"],
        "environmentStages": {"prod-eu": "production"},
        "complianceChecks": [{"name": "bias-audit", "status": "pending"}],
    }
    db.register_model_in_registry(SWARM, seed_registry(governance=governance, deployment={}))
    db.approve_model(SWARM, "model_001", "v1.1", "tech_lead", environment="prod-eu")
    with pytest.raises(DeploymentNotApprovedError, match="bias-audit") as caught:
        db.deploy_model(SWARM, seed_deployment(environment="prod-eu"))
    assert caught.value.blocking_checks == ["bias-audit"] and caught.value.missing_approvers == []


def test_unknown_deployment_and_bad_status(approved: SwarmDatabaseManager) -> None:
    with pytest.raises(DeploymentNotFoundError, match="nope"):
        approved.get_deployment(SWARM, "nope")
    with pytest.raises(DeploymentNotFoundError):
        approved.rollback_deployment(SWARM, "nope", actor="ops")
    approved.deploy_model(SWARM, seed_deployment(id="d1"))
    with pytest.raises(InvalidTransitionError, match="rollback"):
        approved.set_deployment_status(SWARM, "d1", "rolled_back", actor="ops")
    with pytest.raises(InvalidRecordError, match="already exists"):
        approved.deploy_model(SWARM, seed_deployment(id="d1"))


def test_references_to_a_version_are_listed(approved: SwarmDatabaseManager) -> None:
    from swarmstore.models import queries as q
    from swarmstore.registry.queries import version_references

    db = approved
    db.deploy_model(SWARM, seed_deployment(id="d1"))
    db.set_model_alias(SWARM, "model_001", "champion", "v1.1", actor="a")
    with db._meta.read() as session:
        model = q.find_model(session, SWARM, "model_001")
        assert model is not None
        row = q.find_version(session, model.pk, "v1.1")
        assert row is not None
        refs = version_references(session, row.pk)
    assert refs == ["registry entry 'registry_001'", "alias 'champion'", "deployment 'd1'"]
