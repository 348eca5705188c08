"""The raw-chunk cache that spares a training loop from decoding its parent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from swarmstore import SwarmDatabaseManager
from tests.conftest import bits_equal


def _weights(scale: float) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return {"w": torch.randn(256, 256, generator=gen) * scale}


def test_a_series_caches_its_keyframes_and_a_one_off_save_caches_nothing(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path / "a", chunk_bytes=64 << 10) as db:
        cache = db._models.cache
        assert cache is not None
        db.store_neural_model("s", {"id": "m", "version": "v1", "weights": _weights(1.0)})
        assert len(cache._items) == 0  # no parent: a one-off save copies nothing
        for step, version in enumerate(("v2", "v3"), start=2):
            child = _weights(1.0 + step * 1e-4)
            parent = f"v{step - 1}"
            db.store_neural_model(
                "s", {"id": "m", "version": version, "weights": child, "parentVersion": parent}
            )
            # v1's four keyframe chunks (256 KiB in 64 KiB chunks), decoded once for
            # v2's deltas; the delta chunks themselves are never a base: not kept
            assert len(cache._items) == 4
            restored = db.get_neural_model("s", "m", version)
            assert restored.metadata.checkpoint_type == "incremental"
            assert bits_equal(restored.weights["w"], child["w"])


@pytest.mark.parametrize(("budget", "kept"), [(512 << 10, 4), (128 << 10, 0)])
def test_a_series_keyframe_is_cached_only_when_the_whole_model_fits(
    tmp_path: Path, budget: int, kept: int
) -> None:
    """keyframe_interval=1: every version is a full frame, so v2's chunks are the
    next save's bases; a model bigger than the cache would only evict itself."""
    with SwarmDatabaseManager.open(tmp_path, chunk_bytes=64 << 10, keyframe_interval=1) as db:
        cache = db._models.cache
        assert cache is not None
        cache.budget = budget
        db.store_neural_model("s", {"id": "m", "version": "v1", "weights": _weights(1.0)})
        child = _weights(1.0001)
        db.store_neural_model(
            "s", {"id": "m", "version": "v2", "weights": child, "parentVersion": "v1"}
        )
        assert len(cache._items) == kept
        assert bits_equal(db.get_neural_model("s", "m", "v2").weights["w"], child["w"])
