"""Damaged blobs and inline frames are detected on read (naming the tensor) and
by check(). Blobs are damaged through a ``FaultyBlobStore`` around the store's
own blob store (bit flips and short writes as they are written, flips as they
are read, deletes through the store API), so those tests run on every backend;
inline frames by editing SQLite, so that test is embedded only."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from swarmstore import CorruptDataError, StoreConfig, SwarmDatabaseManager
from swarmstore.blobs import factory
from swarmstore.blobs.base import BlobStore
from swarmstore.blobs.faulty import BitFlip, Fault, FaultyBlobStore, ShortWrite
from tests.conftest import model_record


@dataclass
class Faulty:
    """Every blob store the stores of a test open, wrapped in one ``FaultyBlobStore``
    each; ``faults`` is shared by all of them (so it holds across a reopen)."""

    stores: list[FaultyBlobStore] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    @property
    def last(self) -> FaultyBlobStore:
        return self.stores[-1]


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch) -> Faulty:
    """Stores opened in this test get their blob store through a ``FaultyBlobStore``."""
    state = Faulty()
    real = factory.open_blob_store

    def wrapped(config: StoreConfig) -> BlobStore:
        store = FaultyBlobStore(real(config), state.faults)
        state.stores.append(store)
        return store

    monkeypatch.setattr(factory, "open_blob_store", wrapped)
    return state


@pytest.fixture
def db(faulty: Faulty, store_path: Path) -> SwarmDatabaseManager:
    return SwarmDatabaseManager.open(store_path, durability="normal")


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_damaged_blob_is_reported_naming_the_tensor(
    faulty: Faulty, db: SwarmDatabaseManager, damage: str
) -> None:
    # 128 KB of noise: a blob (frames up to inline_frame_bytes stay in SQL, so
    # the write faults below hit encoder.weight's blobs only)
    weights = {"encoder.weight": torch.randn(256, 128), "head.weight": torch.randn(4, 64)}
    if damage == "flip":
        faulty.last.inject(BitFlip(on="write"))
    elif damage == "truncate":
        faulty.last.inject(ShortWrite(drop=7))
    db.store_neural_model("s", model_record("v1", weights))
    faulty.last.clear()
    assert faulty.last.puts, "encoder.weight went to the blob store"
    if damage == "delete":
        for key in faulty.last.puts:
            faulty.last.delete(key)

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


@pytest.mark.embedded_only  # edits meta.sqlite3 by hand
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


def test_damaged_delta_base_fails_the_child_too(faulty: Faulty, tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path, durability="normal") as db:
        base = torch.randn(256, 64)
        db.store_neural_model("s", model_record("v1", {"w": base}))
        keyframes = list(faulty.last.puts)  # v1's only tensor: its keyframe
        child = db.store_neural_model(
            "s", model_record("v2", {"w": base + 1e-4}, parentVersion="v1")
        )
        if child.metadata.checkpoint_type != "incremental":
            pytest.skip("codec chose a full frame; no chain to break")
    (keyframe,) = keyframes
    faulty.faults.append(BitFlip(on="read", keys={keyframe}))
    # A fresh process has no cached raw bytes of v1 and must decode the damaged base.
    with SwarmDatabaseManager.open(tmp_path, durability="normal") as db:
        with pytest.raises(CorruptDataError) as raised:
            db.get_neural_model("s", "model_001", "v2")
        assert raised.value.version == "v2"
        # the chain is restored in place and hashed once; the error still names the bad link
        assert raised.value.blob == keyframe
