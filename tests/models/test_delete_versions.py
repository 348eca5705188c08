"""Deleting versions: later deltas still restore, lineage keeps its shape, gc frees blobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from sqlalchemy import func, select

from swarmstore import ModelNotFoundError, SwarmDatabaseManager, VersionExistsError
from swarmstore.meta.tables import ChunkRow, InlineFrameRow, VersionRow
from tests.conftest import bits_equal, store_snapshot


def _chain(db: SwarmDatabaseManager, n: int) -> dict[str, dict[str, torch.Tensor]]:
    """n versions, each a small perturbation of its parent: stored as deltas."""
    gen = torch.Generator().manual_seed(0)
    weights = {"w": torch.randn(64, 1024, generator=gen), "b": torch.randn(64, generator=gen)}
    stored = {}
    parent = None
    for i in range(1, n + 1):
        weights = {k: v + 1e-3 * torch.randn(v.shape, generator=gen) for k, v in weights.items()}
        version = f"v{i}"
        db.store_neural_model(
            "s", {"id": "m", "version": version, "weights": weights, "parentVersion": parent}
        )
        stored[version] = {k: v.clone() for k, v in weights.items()}
        parent = version
    return stored


def _count(db: SwarmDatabaseManager, table: type) -> int:
    with db._meta.read() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_later_versions_restore_after_their_delta_bases_are_deleted(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path, chunk_bytes=64 << 10) as db:
        stored = _chain(db, 6)
        assert db.get_neural_model("s", "m", "v6").metadata.checkpoint_type == "incremental"
        for version in ("v2", "v1", "v4"):
            db.delete_model_version("s", "m", version)
        assert [v.version for v in db.list_model_versions("s", "m")] == ["v3", "v5", "v6"]
        for version in ("v3", "v5", "v6"):
            restored = db.get_neural_model("s", "m", version).weights
            assert all(bits_equal(restored[k], stored[version][k]) for k in stored[version])
        assert db.get_neural_model("s", "m", "v5").parent_version == "v4"  # lineage kept
        with pytest.raises(ModelNotFoundError, match="'v4'"):
            db.get_neural_model("s", "m", "v4")
        with pytest.raises(VersionExistsError):  # v4 is a tombstone: v5 names it as parent
            db.store_neural_model("s", {"id": "m", "version": "v4", "weights": stored["v4"]})
        assert db.check().ok


def test_deleting_every_version_frees_every_row_and_then_every_blob(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path, chunk_bytes=64 << 10) as db:
        _chain(db, 4)
        for version in ("v1", "v3", "v4", "v2"):
            db.delete_model_version("s", "m", version)
        assert (_count(db, VersionRow), _count(db, ChunkRow)) == (0, 0)
        assert db.check().ok
        report = db.gc(grace_seconds=0)
        assert report.deleted > 0
        assert list(db._blobs.list()) == []


def test_deleting_an_unknown_version_changes_nothing(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path) as db:
        _chain(db, 2)
        db.delete_model_version("s", "m", "v1")
        before = store_snapshot(tmp_path)
        for version in ("v1", "v9"):
            with pytest.raises(ModelNotFoundError, match=repr(version)):
                db.delete_model_version("s", "m", version)
        with pytest.raises(ModelNotFoundError):  # a deleted version cannot become a parent
            db.store_neural_model(
                "s",
                {
                    "id": "m",
                    "version": "v3",
                    "weights": {"w": torch.ones(2)},
                    "parentVersion": "v1",
                },
            )
        assert store_snapshot(tmp_path) == before


def test_a_deleted_version_fires_an_event_and_leaves_the_event_log(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path) as db:
        _chain(db, 2)
        heard: list[dict[str, Any]] = []
        db.on("model_version_deleted", heard.append)
        db.delete_model_version("s", "m", "v2")
        assert heard == [{"swarm_id": "s", "model_id": "m", "version": "v2"}]
        assert db.events_since(0)[-1]["name"] == "model_version_deleted"
        assert db.get_neural_model("s", "m").version == "v1"  # latest moves back


def test_the_cli_deletes_a_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from swarmstore.cli import main

    with SwarmDatabaseManager.open(tmp_path) as db:
        _chain(db, 2)
    assert main(["delete", str(tmp_path), "s", "m", "v2"]) == 0
    assert "deleted m v2" in capsys.readouterr().out
    assert main(["delete", str(tmp_path), "s", "m", "v2"]) == 2
    with SwarmDatabaseManager.open(tmp_path) as db:
        assert [v.version for v in db.list_model_versions("s", "m")] == ["v1"]


def test_a_registered_aliased_version_cannot_be_deleted(tmp_path: Path) -> None:
    from swarmstore import VersionInUseError
    from tests.registry.helpers_governance import SWARM, seed_registry, store_versions

    with SwarmDatabaseManager.open(tmp_path) as db:
        store_versions(db, ("v1.0", "v1.1", "v1.2"))
        db.register_model_in_registry(SWARM, seed_registry(), actor="alice")
        db.set_model_alias(SWARM, "model_001", "champion", "v1.1", actor="alice")
        before = store_snapshot(tmp_path)
        with pytest.raises(VersionInUseError, match="'champion'"):
            db.delete_model_version(SWARM, "model_001", "v1.1")
        assert store_snapshot(tmp_path) == before
        db.delete_model_version(SWARM, "model_001", "v1.2")  # named by nothing
        versions = [v.version for v in db.list_model_versions(SWARM, "model_001")]
        assert versions == ["v1.0", "v1.1"]


def test_deleting_versions_drops_only_the_inline_frames_no_chunk_names(tmp_path: Path) -> None:
    """Small frames live in SQL (inline_frames): the last chunk naming one takes
    it along; a frame another version still names stays and still restores."""
    gen = torch.Generator().manual_seed(1)
    shared = torch.randn(32, generator=gen)  # in both versions: one inline frame
    with SwarmDatabaseManager.open(tmp_path, durability="normal") as db:
        db.store_neural_model(
            "s", {"id": "m", "version": "v1", "weights": {"a": shared, "b": torch.randn(16)}}
        )
        db.store_neural_model(
            "s", {"id": "m", "version": "v2", "weights": {"a": shared, "c": torch.randn(8)}}
        )
        assert _count(db, InlineFrameRow) == 3
        assert not any((tmp_path / "blobs").rglob("*/*"))  # nothing small became a file

        db.delete_model_version("s", "m", "v1")
        assert _count(db, InlineFrameRow) == 2  # b's frame went with v1; a's stays for v2
        back = db.get_neural_model("s", "m", "v2").weights
        assert bits_equal(back["a"], shared)

        db.delete_model_version("s", "m", "v2")
        assert _count(db, InlineFrameRow) == 0
        assert db.check().ok


def test_a_version_deleted_after_it_was_located_reads_as_not_found(tmp_path: Path) -> None:
    """A read that located a version before a delete landed (the background
    indexer, another thread) gets ModelNotFoundError, never an empty record or
    a CorruptDataError about purged delta bases."""
    with SwarmDatabaseManager.open(tmp_path, durability="normal", chunk_bytes=64 << 10) as db:
        _chain(db, 2)  # v2 is a delta on v1's keyframe
        models = db._models
        located = models.locate("s", "m", "v2")
        db.delete_model_version("s", "m", "v2")
        with pytest.raises(ModelNotFoundError, match="deleted while it was being read"):
            list(models.iter_located(located))

        first = {"w": torch.randn(64, 1024), "b": torch.randn(64)}
        db.store_neural_model("s", {"id": "n", "version": "a", "weights": first})
        nudged = {k: v + 1e-3 for k, v in first.items()}
        db.store_neural_model(
            "s", {"id": "n", "version": "b", "weights": nudged, "parentVersion": "a"}
        )
        db.delete_model_version("s", "n", "a")  # hidden, kept: b decodes through it
        located = models.locate("s", "n", "b")
        manifest = models.load_manifest(located)  # loaded before the delete lands
        db.delete_model_version("s", "n", "b")  # purges b, then a's now unused bases
        with pytest.raises(ModelNotFoundError, match="deleted while it was being read"):
            list(models.iter_located(located, manifest))
