"""``swarmstore demo``: train a small torch model, store a version per epoch,
restore and verify each, and print what it cost."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

from swarmstore.manager import SwarmDatabaseManager


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2048, 32, generator=generator)
    w = torch.randn(32, 4, generator=generator)
    return x, (x @ w).argmax(dim=1)


def run_demo(root: Path | None = None, *, epochs: int = 5) -> list[dict[str, object]]:
    """Returns one row per stored version (also printed as a table)."""
    torch.manual_seed(0)
    x, y = _data()
    model = nn.Sequential(
        nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 4)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    workdir = tempfile.TemporaryDirectory() if root is None else None
    store_root = Path(workdir.name) if workdir else Path(root)  # type: ignore[arg-type]
    rows: list[dict[str, object]] = []
    with SwarmDatabaseManager.open(store_root) as db:
        parent = None
        for epoch in range(1, epochs + 1):
            for start in range(0, len(x), 128):
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(
                    model(x[start : start + 128]), y[start : start + 128]
                )
                loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
                optimizer.step()
            with torch.no_grad():
                logits = model(x)
                accuracy = float((logits.argmax(1) == y).float().mean())
                full_loss = float(nn.functional.cross_entropy(logits, y))
            version = f"epoch-{epoch}"
            stored = db.store_neural_model(
                "demo",
                {
                    "id": "mlp",
                    "agentId": "demo-agent",
                    "modelName": "DemoMLP",
                    "version": version,
                    "architecture": "feedforward",
                    "hyperparameters": {"learningRate": 1e-3, "epochs": epochs},
                    "weights": model.state_dict(),
                    "parentVersion": parent,
                    "metadata": {"accuracy": accuracy, "loss": full_loss, "trainingEpochs": epoch},
                    "tags": ["demo"],
                },
            )
            parent = version
            restored = db.get_neural_model("demo", "mlp", version)
            exact = all(
                torch.equal(restored.weights[k].view(torch.uint8), v.view(torch.uint8))
                for k, v in model.state_dict().items()
            )
            meta = stored.metadata
            rows.append(
                {
                    "version": version,
                    "accuracy": accuracy,
                    "loss": full_loss,
                    "raw_bytes": meta.model_size,
                    "stored_bytes": meta.stored_size,
                    "type": meta.checkpoint_type,
                    "bit_exact": exact,
                }
            )
        report = db.check()
    _print(rows, store_root if workdir is None else None, report.ok)
    if workdir:
        workdir.cleanup()
    if not all(r["bit_exact"] for r in rows) or not report.ok:
        raise SystemExit("demo failed: a restored version differs or check found problems")
    return rows


def _print(rows: list[dict[str, object]], root: Path | None, check_ok: bool) -> None:
    print(
        f"{'version':<10} {'accuracy':>8} {'loss':>8} {'raw bytes':>10} {'stored':>10} "
        f"{'ratio':>6}  type         restored"
    )
    for r in rows:
        ratio = int(r["raw_bytes"]) / max(1, int(r["stored_bytes"]))  # type: ignore[call-overload]
        print(
            f"{r['version']:<10} {r['accuracy']:>8.3f} {r['loss']:>8.4f} {r['raw_bytes']:>10} "
            f"{r['stored_bytes']:>10} {ratio:>5.2f}x  {r['type']:<12} "
            f"{'bit-exact' if r['bit_exact'] else 'DIFFERS'}"
        )
    total_raw = sum(int(r["raw_bytes"]) for r in rows)  # type: ignore[call-overload]
    total_stored = sum(int(r["stored_bytes"]) for r in rows)  # type: ignore[call-overload]
    print(
        f"total: {total_raw} raw bytes stored in {total_stored} bytes "
        f"({total_raw / max(1, total_stored):.2f}x); "
        f"check: {'ok' if check_ok else 'PROBLEMS'}" + (f"; store at {root}" if root else "")
    )
