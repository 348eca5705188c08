"""Child process for crash and concurrency tests (run as a script).

Stores versions of deterministic weights (seeded by the version name) and
prints each version's name only after ``store_neural_model`` returned, so the
parent knows exactly which versions were acknowledged.
"""

from __future__ import annotations

import sys
import zlib

import torch

from swarmstore import SwarmDatabaseManager


def weights_for(version: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(zlib.crc32(version.encode()))
    base = torch.Generator().manual_seed(7)
    return {
        "backbone": torch.randn(256, 128, generator=base),  # shared by every version: dedup
        "layer.weight": torch.randn(192, 96, generator=generator),
        "layer.bias": torch.randn(96, generator=generator).to(torch.bfloat16),
        "steps": torch.tensor([len(version)], dtype=torch.int64),
    }


def main() -> None:
    root, model_id, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with SwarmDatabaseManager.open(root, keyframe_interval=4, chunk_bytes=32768) as db:
        existing = (
            {v.version for v in db.list_model_versions("swarm", model_id)}
            if db.list_models("swarm")
            else set()
        )
        parent = None
        print("ready", flush=True)
        for i in range(count):
            version = f"{prefix}-{i}"
            if version in existing:
                parent = version
                continue
            db.store_neural_model(
                "swarm",
                {
                    "id": model_id,
                    "version": version,
                    "parentVersion": parent,
                    "weights": weights_for(version),
                },
            )
            print(version, flush=True)
            parent = version


if __name__ == "__main__":
    main()
