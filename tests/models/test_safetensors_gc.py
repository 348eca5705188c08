"""safetensors export/import against the reference library; gc and its grace."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch

from swarmstore import InvalidRecordError, SwarmDatabaseManager
from tests.conftest import bits_equal, model_record


def mixed_weights() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {
        "a.bf16": torch.randn(33, 17).to(torch.bfloat16),
        "b.f16": torch.randn(5).half(),
        "c.f32": torch.tensor([float("nan"), -0.0, float("inf")]),
        "d.f64": torch.randn(2, 2, dtype=torch.float64),
        "e.i64": torch.arange(7),
        "f.bool": torch.tensor([True, False]),
        "g.u8": torch.arange(5, dtype=torch.uint8),
        "h.f8": torch.randn(9).to(torch.float8_e4m3fn),
        "i.scalar": torch.tensor(2.0),
        "j.empty": torch.empty(0, 3),
    }


def test_export_is_readable_by_safetensors_and_bit_exact(
    db: SwarmDatabaseManager, tmp_path: Path
) -> None:
    weights = mixed_weights()
    db.store_neural_model("s", model_record("v1", weights))
    out = db.export_safetensors("s", "model_001", "v1", tmp_path / "m.safetensors")
    loaded = safetensors.torch.load_file(out)
    assert loaded.keys() == weights.keys()
    for name, tensor in weights.items():
        assert bits_equal(loaded[name], tensor), name


def test_import_of_a_reference_file_is_bit_exact(db: SwarmDatabaseManager, tmp_path: Path) -> None:
    weights = mixed_weights()
    path = tmp_path / "ref.safetensors"
    safetensors.torch.save_file(weights, path, metadata={"format": "pt"})
    stored = db.import_safetensors(
        "s", path, {"id": "imported", "version": "1", "architecture": "mixed"}
    )
    assert stored.metadata.model_size == sum(t.numel() * t.element_size() for t in weights.values())
    back = db.get_neural_model("s", "imported", "1")
    for name, tensor in weights.items():
        assert bits_equal(back.weights[name], tensor), name
    again = tmp_path / "again.safetensors"
    db.export_safetensors("s", "imported", "1", again)
    assert safetensors.torch.load_file(again).keys() == weights.keys()


@pytest.mark.parametrize("damage", [b"", b"\xff" * 8, b"\x08\x00\x00\x00\x00\x00\x00\x00not json"])
def test_malformed_safetensors_is_a_typed_error(
    db: SwarmDatabaseManager, tmp_path: Path, damage: bytes
) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(damage)
    with pytest.raises(InvalidRecordError, match=r"bad\.safetensors"):
        db.import_safetensors("s", path, {"id": "x", "version": "1"})
    assert db.list_models() == []


def test_gc_removes_only_old_unreferenced_blobs(db: SwarmDatabaseManager, store_path: Path) -> None:
    db.store_neural_model("s", model_record("v1", {"w": torch.randn(100)}))
    blobs = store_path / "blobs"
    orphan_old = blobs / "ab" / ("c" * 62)
    orphan_young = blobs / "ab" / ("d" * 62)
    orphan_old.parent.mkdir(exist_ok=True)
    orphan_old.write_bytes(b"old")
    orphan_young.write_bytes(b"young")
    past = time.time() - 7200
    os.utime(orphan_old, (past, past))
    for blob in blobs.rglob("*"):  # age the referenced blob too: references, not age, protect it
        if blob.is_file() and blob.parent.name != "ab":
            os.utime(blob, (past, past))

    report = db.gc()
    assert (report.deleted, report.freed_bytes, report.kept_young) == (1, 3, 1)
    assert not orphan_old.exists() and orphan_young.exists()
    assert db.check().ok
    assert db.get_neural_model("s", "model_001").weights["w"].shape == (100,)
