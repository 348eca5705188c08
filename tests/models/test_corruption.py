"""Damaged blobs and inline frames are detected on read (naming the tensor) and
by check()."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from swarmstore import CorruptDataError, SwarmDatabaseManager
from tests.conftest import model_record


def _blob_of(store_path: Path, db: SwarmDatabaseManager, tensor: str) -> Path:
    conn = sqlite3.connect(store_path / "meta.sqlite3")
    key: str = conn.execute(
        "SELECT c.blob_key FROM tensor_chunks c JOIN tensors t ON t.pk = c.tensor_pk "
        "WHERE t.name = ?",
        (tensor,),
    ).fetchone()[0]
    conn.close()
    return store_path / "blobs" / key[:2] / key[2:]


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-7])


def delete(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize(
    "damage", [flip_byte, truncate, delete], ids=["flip", "truncate", "delete"]
)
def test_damaged_blob_is_reported_naming_the_tensor(
    db: SwarmDatabaseManager, store_path: Path, damage: Callable[[Path], None]
) -> None:
    # 128 KB of noise: a blob file (frames up to inline_frame_bytes stay in SQL)
    weights = {"encoder.weight": torch.randn(256, 128), "head.weight": torch.randn(4, 64)}
    db.store_neural_model("s", model_record("v1", weights))
    damage(_blob_of(store_path, db, "encoder.weight"))

    with pytest.raises(CorruptDataError) as raised:
        db.get_neural_model("s", "model_001", "v1")
    error = raised.value
    assert (error.swarm_id, error.model_id, error.version, error.tensor) == (
        "s",
        "model_001",
        "v1",
        "encoder.weight",
    )
    assert "encoder.weight" in str(error)

    report = db.check()
    assert not report.ok
    assert any("encoder.weight" in p and "v1" in p for p in report.problems)
    assert not any("head.weight" in p for p in report.problems)


def _damage_inline(store_path: Path, tensor: str, how: str) -> None:
    """Flip a byte of, truncate, or delete the tensor's inline frame row."""
    conn = sqlite3.connect(store_path / "meta.sqlite3")
    try:
        key, frame = conn.execute(
            "SELECT f.key, f.frame FROM inline_frames f JOIN tensor_chunks c ON c.blob_key = f.key "
            "JOIN tensors t ON t.pk = c.tensor_pk WHERE t.name = ?",
            (tensor,),
        ).fetchone()
        if how == "delete":
            conn.execute("DELETE FROM inline_frames WHERE key = ?", (key,))
        else:
            data = bytearray(frame)
            if how == "flip":
                data[len(data) // 2] ^= 0x10
            else:
                del data[-7:]
            conn.execute("UPDATE inline_frames SET frame = ? WHERE key = ?", (bytes(data), key))
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize("how", ["flip", "truncate", "delete"])
def test_damaged_inline_frame_is_reported_naming_the_tensor(
    db: SwarmDatabaseManager, store_path: Path, how: str
) -> None:
    weights = {"encoder.weight": torch.randn(256, 128), "norm.bias": torch.randn(64)}
    db.store_neural_model("s", model_record("v1", weights))
    _damage_inline(store_path, "norm.bias", how)

    with pytest.raises(CorruptDataError) as raised:
        db.get_neural_model("s", "model_001", "v1")
    assert raised.value.tensor == "norm.bias"

    report = db.check()
    assert not report.ok
    assert any("norm.bias" in p and "v1" in p for p in report.problems)
    assert not any("encoder.weight" in p for p in report.problems)


def test_check_is_clean_on_a_healthy_store(db: SwarmDatabaseManager) -> None:
    db.store_neural_model("s", model_record("v1", {"w": torch.randn(10)}))
    report = db.check()
    assert report.ok and report.chunks_checked == 1


def test_damaged_delta_base_fails_the_child_too(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path, durability="normal") as db:
        base = torch.randn(256, 64)
        db.store_neural_model("s", model_record("v1", {"w": base}))
        child = db.store_neural_model(
            "s", model_record("v2", {"w": base + 1e-4}, parentVersion="v1")
        )
        if child.metadata.checkpoint_type != "incremental":
            pytest.skip("codec chose a full frame; no chain to break")
        keyframe = _blob_of(tmp_path, db, "w")  # the first chunk row: v1's keyframe
        flip_byte(keyframe)
    # A fresh process has no cached raw bytes of v1 and must decode the damaged base.
    with SwarmDatabaseManager.open(tmp_path, durability="normal") as db:
        with pytest.raises(CorruptDataError) as raised:
            db.get_neural_model("s", "model_001", "v2")
        assert raised.value.version == "v2"
        # the chain is restored in place and hashed once; the error still names the bad link
        assert raised.value.blob == keyframe.parent.name + keyframe.name
