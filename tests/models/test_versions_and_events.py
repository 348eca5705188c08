"""Versions, latest resolution, lineage fields, events after commit, replay."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch

from swarmstore import (
    InvalidRecordError,
    ModelNotFoundError,
    SwarmDatabaseManager,
    VersionExistsError,
)
from tests.conftest import bits_equal, model_record, small_state_dict, store_snapshot


def test_latest_is_the_last_stored_and_record_is_complete(db: SwarmDatabaseManager) -> None:
    for i in range(3):
        db.store_neural_model(
            "s",
            model_record(
                f"v{i}",
                small_state_dict(i),
                parentVersion=f"v{i - 1}" if i else None,
                metadata={
                    "accuracy": 0.5 + i / 10,
                    "loss": 1.0 / (i + 1),
                    "trainingEpochs": i,
                    "f1": 0.3,
                },
                hyperparameters={"learningRate": 1e-3},
                tags=["t"],
            ),
        )
    latest = db.get_neural_model("s", "model_001")
    assert latest.version == "v2" and latest.parent_version == "v1"
    assert bits_equal(latest.weights["fc1.weight"], small_state_dict(2)["fc1.weight"])
    meta = latest.metadata
    assert meta.accuracy == pytest.approx(0.7) and meta.training_epochs == 2
    assert meta.model_size == sum(t.numel() * 4 for t in small_state_dict().values())
    assert meta.created is not None and meta.created.tzinfo is not None
    assert meta.compression_type is not None and meta.checkpoint_type in ("full", "incremental")
    assert meta.model_extra == {"f1": 0.3}  # custom metrics kept
    dumped: dict[str, Any] = latest.to_json_dict()
    assert (
        dumped["agentId"] == "agent_001"
        and dumped["parentVersion"] == "v1"
        and "weights" not in dumped
    )
    assert dumped["metadata"]["trainingEpochs"] == 2
    versions = db.list_model_versions("s", "model_001")
    assert [v.version for v in versions] == ["v0", "v1", "v2"]
    assert [v.parent_version for v in versions] == [None, "v0", "v1"]
    [listed] = db.list_models()
    assert (listed["model_id"], listed["versions"], listed["architecture"]) == (
        "model_001",
        3,
        "feedforward",
    )


def test_snake_case_keys_and_record_objects_are_accepted(db: SwarmDatabaseManager) -> None:
    from swarmstore import NeuralModelRecord

    db.store_neural_model(
        "s",
        {
            "id": "m",
            "agent_id": "a",
            "model_name": "n",
            "version": "1",
            "weights": {"w": torch.ones(2)},
        },
    )
    db.store_neural_model(
        "s",
        NeuralModelRecord(id="m", version="2", parent_version="1", weights={"w": torch.zeros(2)}),
    )
    assert db.get_neural_model("s", "m", "1").agent_id == "a"
    assert db.get_neural_model("s", "m").parent_version == "1"


def test_events_fire_after_commit_with_the_seed_fields(db: SwarmDatabaseManager) -> None:
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any]) -> None:
        # Fired after commit: the version is already readable.
        assert (
            db.get_neural_model(event["swarm_id"], event["model_id"], event["version"]).version
            == event["version"]
        )
        seen.append(event)

    db.on("neural_model_stored", handler)
    db.store_neural_model("swarm_123", model_record("v1.0", small_state_dict()))
    assert seen == [
        {
            "swarm_id": "swarm_123",
            "model_id": "model_001",
            "version": "v1.0",
            "parent_version": None,
        }
    ]


def test_no_event_for_a_failed_write(db: SwarmDatabaseManager) -> None:
    seen: list[dict[str, Any]] = []
    db.store_neural_model("s", model_record("v1", small_state_dict()))
    db.on("neural_model_stored", seen.append)
    with pytest.raises(VersionExistsError):
        db.store_neural_model("s", model_record("v1", small_state_dict(1)))
    assert seen == []


def test_a_raising_subscriber_is_logged_and_does_not_fail_the_write(
    db: SwarmDatabaseManager, caplog: pytest.LogCaptureFixture
) -> None:
    after: list[str] = []

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("subscriber bug")

    db.on("neural_model_stored", broken)
    db.on("neural_model_stored", lambda e: after.append(e["version"]))
    with caplog.at_level(logging.ERROR):
        stored = db.store_neural_model("s", model_record("v1", small_state_dict()))
    assert stored.version == "v1" and after == ["v1"]
    assert "subscriber bug" in caplog.text


def test_unsubscribe_and_unknown_event(db: SwarmDatabaseManager) -> None:
    seen: list[Any] = []
    off = db.on("neural_model_stored", seen.append)
    off()
    db.store_neural_model("s", model_record("v1", small_state_dict()))
    assert seen == []
    with pytest.raises(InvalidRecordError, match="no_such_event"):
        db.on("no_such_event", print)


def test_event_log_replays_across_processes_by_sequence(
    db: SwarmDatabaseManager, store_path: Any
) -> None:
    db.store_neural_model("s", model_record("v1", small_state_dict()))
    db.store_neural_model("s", model_record("v2", small_state_dict(1), parentVersion="v1"))
    with SwarmDatabaseManager.open(store_path) as other:
        events = other.events_since(0)
        assert [(e["name"], e["version"]) for e in events] == [
            ("neural_model_stored", "v1"),
            ("neural_model_stored", "v2"),
        ]
        assert other.events_since(events[0]["seq"])[0]["version"] == "v2"


def test_a_merge_records_every_parent_and_refuses_a_missing_one(tmp_path: Path) -> None:
    weights = {"w": torch.arange(4, dtype=torch.float32)}
    with SwarmDatabaseManager.open(tmp_path) as db:
        db.store_neural_model("s", {"id": "a", "version": "v1", "weights": weights})
        db.store_neural_model("s", {"id": "b", "version": "v1", "weights": weights})
        db.store_neural_model(
            "s",
            {
                "id": "a",
                "version": "v2",
                "weights": weights,
                "parentVersion": "v1",
                "mergedFrom": ["b/v1"],
                "state": {"adam.step": torch.tensor(3)},
            },
        )
        merged = db.get_neural_model("s", "a", "v2")
        assert (merged.parent_version, merged.merged_from) == ("v1", ["b/v1"])
        assert int(merged.state["adam.step"]) == 3
        before = store_snapshot(tmp_path)
        with pytest.raises(ModelNotFoundError, match="'zz'"):
            db.store_neural_model(
                "s", {"id": "a", "version": "v3", "weights": weights, "mergedFrom": ["zz/v1"]}
            )
        assert store_snapshot(tmp_path) == before
