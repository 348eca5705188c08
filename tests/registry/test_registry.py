"""Registry: entries, governed stage changes, approvals, aliases, the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from swarmstore import (
    AliasNotFoundError,
    DatasetNotFoundError,
    ModelNotFoundError,
    NotAnApproverError,
    RegistryEntryNotFoundError,
    SwarmDatabaseManager,
)
from swarmstore.records.registry import InvalidTransitionError, PromotionBlockedError
from tests.conftest import store_snapshot
from tests.registry.helpers_governance import SWARM, approve_all, seed_registry, store_versions


@pytest.fixture
def registered(db: SwarmDatabaseManager) -> SwarmDatabaseManager:
    store_versions(db)
    db.register_model_in_registry(SWARM, seed_registry(), actor="alice")
    return db


def test_seed_entry_is_stored_with_canonical_versions(db: SwarmDatabaseManager) -> None:
    store_versions(db)
    events: list[dict[str, Any]] = []
    db.on("model_registered", events.append)
    stored = db.register_model_in_registry(SWARM, seed_registry(), actor="alice")
    assert stored.model_id == "model_001"
    assert stored.model_versions == ["v1.0", "v1.1"] and stored.latest_version == "v1.1"
    assert stored.deployment.version_stages == {"v1.0": "staging", "v1.1": "staging"}
    again = db.get_registry_entry(SWARM, "registry_001")
    assert again.to_json_dict() == stored.to_json_dict()
    assert db.get_registry_entry(SWARM, model_id="model_001").id == "registry_001"
    again_json: dict[str, Any] = again.to_json_dict()
    assert again_json["performance"]["benchmarkScores"] == {
        "accuracy": 0.95,
        "f1Score": 0.94,
    }
    assert events == [
        {
            "swarm_id": SWARM,
            "registry_id": "registry_001",
            "model_id": "model_001",
            "versions": ["v1.0", "v1.1"],
            "stage": "staging",
        }
    ]
    outbox = [e for e in db.events_since(0) if e["name"] == "model_registered"]
    assert len(outbox) == 1


def test_bare_versions_need_model_id(db: SwarmDatabaseManager) -> None:
    store_versions(db)
    entry = seed_registry(modelId="model_001", modelVersions=["v1.0"], latestVersion="v1.0")
    assert db.register_model_in_registry(SWARM, entry).model_versions == ["v1.0"]


def test_unknown_versions_are_named_and_nothing_is_written(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    store_versions(db)
    before = store_snapshot(store_path)
    entry = seed_registry(modelVersions=["model_001_v1.0", "model_001_v9"], latestVersion=None)
    with pytest.raises(ModelNotFoundError, match="model_001_v9") as caught:
        db.register_model_in_registry(SWARM, entry)
    assert caught.value.versions == ["model_001_v9"]  # type: ignore[attr-defined]
    with pytest.raises(ModelNotFoundError, match="nope"):
        db.register_model_in_registry(SWARM, seed_registry(modelId="nope"))
    assert store_snapshot(store_path) == before


def test_registering_straight_into_a_gated_stage_is_refused(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    store_versions(db)
    before = store_snapshot(store_path)
    entry = seed_registry(deployment={"status": "production"})
    with pytest.raises(PromotionBlockedError, match="tech_lead"):
        db.register_model_in_registry(SWARM, entry)
    assert store_snapshot(store_path) == before


def test_governed_promotion_to_production(registered: SwarmDatabaseManager) -> None:
    db = registered
    changes: list[dict[str, Any]] = []
    db.on("model_stage_changed", changes.append)
    with pytest.raises(PromotionBlockedError) as caught:
        db.transition_model_stage(
            SWARM, "model_001", "v1.1", "production", actor="alice", reason="eval ok"
        )
    assert caught.value.missing_approvers == ["tech_lead", "ml_architect"]
    db.approve_model(SWARM, "model_001", "v1.1", "tech_lead", comment="lgtm")
    with pytest.raises(PromotionBlockedError) as caught:
        db.transition_model_stage(SWARM, "model_001", "v1.1", "production", actor="a", reason="")
    assert caught.value.missing_approvers == ["ml_architect"]
    db.approve_model(SWARM, "model_001", "v1.1", "ml_architect", environment="production")
    audit = db.transition_model_stage(
        SWARM, "model_001", "v1.1", "production", actor="alice", reason="eval ok"
    )
    assert (audit.from_stage, audit.to_stage, audit.who, audit.why) == (
        "staging",
        "production",
        "alice",
        "eval ok",
    )
    assert audit.approvers == ["ml_architect", "tech_lead"]
    entry = db.get_registry_entry(SWARM, "registry_001")
    assert entry.deployment.status == "production"
    assert entry.deployment.version_stages == {"v1.0": "staging", "v1.1": "production"}
    assert [c["to"] for c in changes] == ["production"]


def test_policy_may_require_one_approver_only(db: SwarmDatabaseManager) -> None:
    store_versions(db)
    governance = {"owner": "ml", "approvers": ["tech_lead", "ml_architect"], "requiredApprovals": 1}
    db.register_model_in_registry(SWARM, seed_registry(governance=governance))
    db.approve_model(SWARM, "model_001", "v1.0", "ml_architect")
    db.transition_model_stage(SWARM, "model_001", "v1.0", "production", actor="x", reason="")
    assert db.get_registry_entry(SWARM, "registry_001").deployment.status == "production"


def test_approval_for_another_version_or_rejected_does_not_count(
    registered: SwarmDatabaseManager,
) -> None:
    db = registered
    approve_all(db, "v1.0")
    with pytest.raises(PromotionBlockedError):
        db.transition_model_stage(SWARM, "model_001", "v1.1", "production", actor="a", reason="")
    approve_all(db, "v1.1")
    db.approve_model(SWARM, "model_001", "v1.1", "tech_lead", decision="rejected")
    with pytest.raises(PromotionBlockedError, match="tech_lead"):
        db.transition_model_stage(SWARM, "model_001", "v1.1", "production", actor="a", reason="")


def test_bad_approvals_and_transitions_write_nothing(
    registered: SwarmDatabaseManager, store_path: Path
) -> None:
    db = registered
    before = store_snapshot(store_path)
    with pytest.raises(NotAnApproverError, match="mallory") as caught:
        db.approve_model(SWARM, "model_001", "v1.1", "mallory")
    assert isinstance(caught.value, PermissionError)
    with pytest.raises(ModelNotFoundError, match="v9"):
        db.approve_model(SWARM, "model_001", "v9", "tech_lead")
    with pytest.raises(InvalidTransitionError):
        db.transition_model_stage(SWARM, "model_001", "v1.1", "staging", actor="a", reason="")
    with pytest.raises(InvalidTransitionError):
        db.transition_model_stage(SWARM, "model_001", "v1.1", "registered", actor="a", reason="")
    with pytest.raises(ModelNotFoundError):
        db.set_model_alias(SWARM, "model_001", "champion", "v7", actor="a")
    with pytest.raises(RegistryEntryNotFoundError):
        db.get_registry_entry(SWARM, "registry_404")
    assert store_snapshot(store_path) == before


def test_unregistered_model_has_no_stages_or_aliases(db: SwarmDatabaseManager) -> None:
    store_versions(db)
    with pytest.raises(RegistryEntryNotFoundError, match="register"):
        db.transition_model_stage(SWARM, "model_001", "v1.0", "staging", actor="a", reason="")
    with pytest.raises(RegistryEntryNotFoundError):
        db.set_model_alias(SWARM, "model_001", "champion", "v1.0", actor="a")


def test_aliases_point_at_versions(registered: SwarmDatabaseManager) -> None:
    db = registered
    seen: list[dict[str, Any]] = []
    db.on("model_alias_set", seen.append)
    db.set_model_alias(SWARM, "model_001", "champion", "v1.0", actor="alice", reason="best")
    assert db.resolve_alias(SWARM, "model_001", "champion") == "v1.0"
    db.set_model_alias(SWARM, "model_001", "champion", "v1.1", actor="bob", reason="better")
    version = db.resolve_alias(SWARM, "model_001", "champion")
    assert db.get_neural_model(SWARM, "model_001", version).version == "v1.1"
    assert db.list_model_aliases(SWARM, "model_001") == {"champion": "v1.1"}
    assert [e["previous"] for e in seen] == [None, "v1.0"]
    with pytest.raises(AliasNotFoundError, match="production"):
        db.resolve_alias(SWARM, "model_001", "production")


def test_audit_trail_records_every_change(registered: SwarmDatabaseManager) -> None:
    db = registered
    approve_all(db)
    db.transition_model_stage(SWARM, "model_001", "v1.1", "production", actor="al", reason="go")
    db.set_model_alias(SWARM, "model_001", "champion", "v1.1", actor="al", reason="best")
    trail = db.list_audit_trail(SWARM, "model_001")
    assert [a.action for a in trail] == [
        "registered",
        "approved",
        "approved",
        "stage_changed",
        "alias_set",
    ]
    assert [a.seq for a in trail] == sorted(a.seq for a in trail)  # type: ignore[type-var]
    change = trail[3]
    assert (change.who, change.from_stage, change.to_stage, change.why, change.version) == (
        "al",
        "staging",
        "production",
        "go",
        "v1.1",
    )
    assert all(a.when is not None for a in trail)
    assert db.list_audit_trail(SWARM, "other_model") == []


def test_audit_trail_is_append_only_in_sql(registered: SwarmDatabaseManager) -> None:
    registered.approve_model(SWARM, "model_001", "v1.1", "tech_lead")
    for sql in (
        "UPDATE registry_audit SET who = 'mallory'",
        "DELETE FROM registry_audit",
        "DELETE FROM registry_approvals",
        "UPDATE registry_approvals SET decision = 'approved'",
    ):
        with registered._meta.engine.connect() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(sql))
            conn.rollback()
    assert [a.who for a in registered.list_audit_trail(SWARM)] == ["alice", "tech_lead"]


def test_updating_an_entry_keeps_stages_and_refuses_stage_edits(
    registered: SwarmDatabaseManager, store_path: Path
) -> None:
    db = registered
    store_versions(db, ("v1.2",))
    updated = db.register_model_in_registry(
        SWARM,
        seed_registry(
            modelVersions=["model_001_v1.0", "model_001_v1.1", "model_001_v1.2"],
            latestVersion="model_001_v1.2",
            description="now with v1.2",
            deployment={"environments": ["staging", "production"]},
        ),
    )
    assert updated.deployment.version_stages["v1.2"] == "registered"
    assert updated.deployment.version_stages["v1.1"] == "staging"
    assert updated.description == "now with v1.2"
    before = store_snapshot(store_path)
    with pytest.raises(InvalidTransitionError):
        db.register_model_in_registry(SWARM, seed_registry(deployment={"status": "development"}))
    assert store_snapshot(store_path) == before


def test_lineage_parent_models_must_exist(db: SwarmDatabaseManager, store_path: Path) -> None:
    store_versions(db)
    store_versions(db, ("v1",), model_id="teacher")
    before = store_snapshot(store_path)
    with pytest.raises(ModelNotFoundError, match="ghost"):
        db.register_model_in_registry(
            SWARM, seed_registry(lineage={"parentModels": ["teacher", "ghost"]})
        )
    assert store_snapshot(store_path) == before
    entry = db.register_model_in_registry(
        SWARM, seed_registry(lineage={"parentModels": ["teacher", "teacher@v1"]})
    )
    assert entry.lineage.parent_models == ["teacher", "teacher@v1"]


def test_dataset_lineage_must_name_stored_datasets(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    store_versions(db)
    lineage = {"parentModels": [], "datasetLineage": ["dataset_001"]}
    before = store_snapshot(store_path)
    with pytest.raises(DatasetNotFoundError, match="dataset_001"):
        db.register_model_in_registry(SWARM, seed_registry(lineage=lineage))
    assert store_snapshot(store_path) == before
    db.store_training_dataset(
        SWARM,
        {
            "id": "dataset_001",
            "name": "tiny",
            "dataType": "supervised",
            "format": "tensor",
            "samples": {"inputs": [np.zeros(2, dtype=np.float32)] * 4, "labels": ["a", "b"] * 2},
        },
    )
    entry = db.register_model_in_registry(
        SWARM, seed_registry(lineage=lineage, modelVersions=["model_001/v1.0"], latestVersion=None)
    )
    assert entry.lineage.dataset_lineage == ["dataset_001"]
    assert entry.model_versions == ["v1.0"]


def test_registry_events_fire_after_commit_and_are_logged(db: SwarmDatabaseManager) -> None:
    store_versions(db)
    names = ("model_registered", "model_approved", "model_stage_changed", "model_alias_set")
    fired: list[str] = []
    for name in names:

        def remember(event: dict[str, Any], name: str = name) -> None:
            fired.append(name)

        db.on(name, remember)
    db.register_model_in_registry(SWARM, seed_registry(), actor="alice")
    approve_all(db, "v1.1")
    db.transition_model_stage(SWARM, "model_001", "v1.1", "production", actor="a", reason="")
    db.set_model_alias(SWARM, "model_001", "production", "v1.1", actor="a")
    with pytest.raises(NotAnApproverError):
        db.approve_model(SWARM, "model_001", "v1.1", "mallory")
    expected = [names[0], names[1], names[1], names[2], names[3]]
    assert fired == expected
    logged = [e["name"] for e in db.events_since(0) if e["name"] in names]
    assert logged == expected
