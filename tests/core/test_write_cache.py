"""The raw-chunk cache that spares a training loop from decoding its parent."""

from __future__ import annotations

from pathlib import Path

import torch

from swarmstore import SwarmDatabaseManager
from tests.conftest import bits_equal


def _weights(scale: float) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return {"w": torch.randn(256, 256, generator=gen) * scale}


def test_a_model_that_fits_is_cached_and_one_that_does_not_is_not(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path / "a", chunk_bytes=64 << 10) as db:
        cache = db._models.cache
        assert cache is not None
        db.store_neural_model("s", {"id": "m", "version": "v1", "weights": _weights(1.0)})
        assert len(cache._items) == 4  # 256 KiB in 64 KiB chunks

    with SwarmDatabaseManager.open(tmp_path / "b", chunk_bytes=64 << 10) as db:
        cache = db._models.cache
        assert cache is not None
        cache.budget = 128 << 10  # smaller than the model
        db.store_neural_model("s", {"id": "m", "version": "v1", "weights": _weights(1.0)})
        assert len(cache._items) == 0
        child = _weights(1.0001)
        db.store_neural_model(
            "s", {"id": "m", "version": "v2", "weights": child, "parentVersion": "v1"}
        )  # the delta's bases are decoded from the blobs instead
        restored = db.get_neural_model("s", "m", "v2")
        assert restored.metadata.checkpoint_type == "incremental"
        assert bits_equal(restored.weights["w"], child["w"])
