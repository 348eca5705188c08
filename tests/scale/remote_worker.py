"""Child process for the multi-process test: stores deterministic versions
into a shared store named by a ``swarmstore.toml`` (run as a script)."""

from __future__ import annotations

import sys
import zlib

import torch

from swarmstore import SwarmDatabaseManager


def weights_for(name: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    shared = torch.Generator().manual_seed(7)
    return {
        "backbone": torch.randn(128, 128, generator=shared),  # every worker: dedup across swarms
        "layer.weight": torch.randn(96, 64, generator=generator),
        "layer.bias": torch.randn(64, generator=generator).to(torch.bfloat16),
        "nan": torch.tensor([float("nan"), -0.0, float("inf")]),
        "steps": torch.tensor([len(name)], dtype=torch.int64),
    }


def main() -> None:
    config_file, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with SwarmDatabaseManager.open(config_file, chunk_bytes=16384) as db:
        for i in range(count):
            own = {"id": f"m{worker}", "version": f"v{i}", "architecture": "mlp"}
            if i:
                own["parentVersion"] = f"v{i - 1}"
            db.store_neural_model(
                f"swarm{worker}", {**own, "weights": weights_for(f"{worker}/{i}")}
            )
            # every worker also appends versions to one shared model: sequence numbers,
            # get-or-create of the model row and the outbox race here
            shared = {"id": "shared", "version": f"w{worker}-{i}", "architecture": "mlp"}
            db.store_neural_model("common", {**shared, "weights": weights_for(f"s{worker}/{i}")})
            print(f"stored {i}", flush=True)


if __name__ == "__main__":
    main()
