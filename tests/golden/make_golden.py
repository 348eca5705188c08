"""Build the golden store ``tests/golden/store_v1`` and its ``manifest.json``.

Run once, with the swarmstore release whose on-disk format it pins
(``python -m tests.golden.make_golden``); the output is committed and every later
release must open, migrate and restore it bit-exactly
(``tests/golden/test_golden_store.py``). Never regenerate it to make that test
pass: a failure there means a format change forgot the old data.

Contents: one swarm ``golden`` with model ``model_001`` at ``v1.0`` (full) and
``v1.1`` (a delta on ``v1.0``), tensors in fp32, bf16, fp16, int8, bool and
fp64, small ones in inline frames and a large one in blob files; an
experiment with metric blocks; a dataset; a registry entry; a deployment.
Indexing is off, so no Kuzu/Lance directories are written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
STORE = HERE / "store_v1"
MANIFEST = HERE / "manifest.json"
SWARM = "golden"


def tensor_sha256(tensor: torch.Tensor) -> str:
    raw = tensor.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    return hashlib.sha256(raw).hexdigest()


def weights(step: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1234)
    base = {
        "big.weight": torch.randn(96, 128, generator=g),  # 48 KiB fp32: blob file frames
        "fc.weight": torch.randn(16, 8, generator=g),  # small: inline frames
        "fc.bias": torch.randn(16, generator=g).to(torch.bfloat16),
        "half.weight": torch.randn(8, 8, generator=g).to(torch.float16),
        "quant.weight": torch.randint(-128, 128, (32,), generator=g, dtype=torch.int8),
        "mask": torch.rand(24, generator=g) > 0.5,
        "precise.weight": torch.randn(12, generator=g, dtype=torch.float64),
    }
    base["fc.weight"][0, 0] = -0.0
    base["precise.weight"][0] = float("nan")
    if step:  # a fine-tuning step: small changes, so v1.1 is stored as a delta
        base["big.weight"][::7, ::5] += 0.01
        base["fc.weight"][1] += 0.5
        base["quant.weight"][:4] = 7
    return base


def record(version: str, step: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": "model_001",
        "agentId": "agent_001",
        "modelName": "GoldenNet",
        "version": version,
        "architecture": "feedforward",
        "weights": weights(step),
        "metadata": {"accuracy": 0.8 + 0.05 * step, "loss": 0.5 - 0.1 * step},
        **extra,
    }


def build(store: Path = STORE, manifest: Path = MANIFEST) -> dict[str, Any]:
    from swarmstore import SwarmDatabaseManager

    if store.exists():
        shutil.rmtree(store)
    expected: dict[str, Any] = {"swarm": SWARM, "model": "model_001", "versions": {}}
    with SwarmDatabaseManager.open(store, indexing="off", durability="full") as db:
        for step, version in enumerate(("v1.0", "v1.1")):
            extra = {"parentVersion": "v1.0"} if step else {}
            rec = record(version, step, **extra)
            db.store_neural_model(SWARM, rec)
            expected["versions"][version] = {
                name: {
                    "dtype": str(t.dtype).removeprefix("torch."),
                    "shape": list(t.shape),
                    "sha256": tensor_sha256(t),
                }
                for name, t in rec["weights"].items()
            }
            info = {v.version: v for v in db.list_model_versions(SWARM, "model_001")}[version]
            expected["versions"][version]["_checkpoint_type"] = info.checkpoint_type
        with db.start_experiment(SWARM, "exp_001", flush_every=4) as run:
            for step in range(10):
                run.log_metrics(step, loss=1.0 / (step + 1), acc=step / 10)
        expected["experiment"] = {
            "id": "exp_001",
            "loss": [1.0 / (s + 1) for s in range(10)],
            "acc": [s / 10 for s in range(10)],
        }
        inputs = [[float(i), float(i) * 0.5, -float(i)] for i in range(12)]
        db.store_training_dataset(
            SWARM,
            {
                "id": "dataset_001",
                "name": "Golden",
                "description": "tiny",
                "dataType": "supervised",
                "format": "tensor",
                "samples": {"inputs": inputs, "labels": [f"c{i % 2}" for i in range(12)]},
            },
        )
        expected["dataset"] = {"id": "dataset_001", "inputs": inputs}
        db.register_model_in_registry(
            SWARM,
            {
                "id": "registry_001",
                "name": "GoldenNet",
                "description": "golden registry entry",
                "category": "testing",
                "useCase": "format_stability",
                "modelVersions": ["model_001_v1.0", "model_001_v1.1"],
                "latestVersion": "model_001_v1.1",
                "deployment": {"status": "staging", "environments": ["staging"]},
                "governance": {"owner": "ml_team", "approvers": []},
            },
            actor="golden",
        )
        db.deploy_model(
            SWARM,
            {
                "id": "dep_001",
                "modelId": "model_001",
                "version": "v1.1",
                "environment": "staging",
                "config": {"batchSize": 8},
            },
            actor="golden",
        )
        expected["registry"] = {"id": "registry_001"}
        expected["deployment"] = {"id": "dep_001", "version": "v1.1", "environment": "staging"}
        report = db.check()
        if not report.ok:
            raise SystemExit(f"golden store fails check: {report}")
    for leftover in (".schema.lock", "meta.sqlite3-wal", "meta.sqlite3-shm"):
        (store / leftover).unlink(missing_ok=True)
    manifest.write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    return expected


if __name__ == "__main__":
    build()
    total = sum(f.stat().st_size for f in STORE.rglob("*") if f.is_file())
    print(f"wrote {STORE} ({total} bytes) and {MANIFEST}", file=sys.stderr)
