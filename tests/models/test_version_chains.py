"""50 consecutive versions of a model: every one restores bit-exactly in any order,
in both delta layouts, and pruning versions in the middle leaves the rest exact."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from sqlalchemy import select

from swarmstore import SwarmDatabaseManager
from swarmstore.meta.tables import ChunkRow
from tests.conftest import bits_equal


def _training_like_chain(n: int) -> list[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(7)
    weights = {
        "w": torch.randn(96, 96, generator=gen),
        "h": torch.randn(4096, generator=gen).to(torch.bfloat16),
        "steps": torch.tensor(0),
    }
    chain = []
    for step in range(n):
        chain.append({k: v.clone() for k, v in weights.items()})
        weights["w"] -= 1e-3 * torch.randn(weights["w"].shape, generator=gen)
        weights["h"] = (weights["h"].float() + 1e-2 * torch.randn(4096, generator=gen)).to(
            torch.bfloat16
        )
        weights["steps"] = torch.tensor(step + 1)
    return chain


@pytest.mark.parametrize("delta_base", ["keyframe", "parent"])
def test_fifty_versions_restore_in_random_order_and_survive_pruning(
    tmp_path: Path, delta_base: str
) -> None:
    chain = _training_like_chain(50)
    with SwarmDatabaseManager.open(
        tmp_path, chunk_bytes=16 << 10, delta_base=delta_base, durability="normal"
    ) as db:
        for i, weights in enumerate(chain):
            record = {"id": "m", "version": f"v{i:02d}", "weights": weights}
            db.store_neural_model("s", {**record, "parentVersion": f"v{i - 1:02d}" if i else None})
        infos = db.list_model_versions("s", "m")
        assert sum(v.checkpoint_type == "incremental" for v in infos) >= 40  # deltas were used

        order = list(range(50))
        random.Random(3).shuffle(order)
        for i in order:
            restored = db.get_neural_model("s", "m", f"v{i:02d}").weights
            assert all(bits_equal(restored[k], chain[i][k]) for k in chain[i]), i

        pruned = set(range(1, 49, 3)) | {8, 16, 24}  # keyframes among them
        for i in sorted(pruned):
            db.delete_model_version("s", "m", f"v{i:02d}")
        db.gc(grace_seconds=0)
        assert db.check().ok
        kept = [i for i in range(50) if i not in pruned]
        assert [v.version for v in db.list_model_versions("s", "m")] == [f"v{i:02d}" for i in kept]
        random.Random(4).shuffle(kept)
        for i in kept:
            restored = db.get_neural_model("s", "m", f"v{i:02d}").weights
            assert all(bits_equal(restored[k], chain[i][k]) for k in chain[i]), i


@pytest.mark.parametrize("delta_base", ["keyframe", "parent"])
def test_adamw_fine_tune_saves_decay_deltas_that_restore_exactly(
    tmp_path: Path, delta_base: str
) -> None:
    """A real AdamW run (weight decay on, sparse embedding gradients): the
    untouched rows are predicted by the decay transform, and every version
    restores bit-exactly from a fresh open."""
    from swarmstore.codec.native import KERNELS

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(2048, 32), torch.nn.Linear(32, 8))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    chain = []
    for _ in range(6):
        chain.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        tokens = torch.randint(0, 100, (16,))
        optimizer.zero_grad()
        model(tokens).pow(2).sum().backward()
        optimizer.step()
    with SwarmDatabaseManager.open(tmp_path, delta_base=delta_base, keyframe_interval=4) as db:
        for i, weights in enumerate(chain):
            parent = f"v{i - 1}" if i else None
            db.store_neural_model(
                "s", {"id": "m", "version": f"v{i}", "weights": weights, "parentVersion": parent}
            )
    with SwarmDatabaseManager.open(tmp_path) as db:
        for i in random.Random(1).sample(range(len(chain)), len(chain)):
            restored = db.get_neural_model("s", "m", f"v{i}").weights
            assert all(bits_equal(restored[k], chain[i][k]) for k in chain[i]), i
        with db._meta.read() as session:
            codecs = set(session.scalars(select(ChunkRow.codec)))
    if KERNELS is not None:
        assert any(c.startswith("decay>delta.sub>") for c in codecs), codecs
