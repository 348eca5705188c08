"""Training-loop overhead of checkpointing every epoch: swarmstore vs torch.save vs nothing.

A small MLP (fp32, Adam) trains on CPU for a fixed number of steps on
synthetic data; every contender runs the same seeded loop in the same
process, one after the other, in a new shuffled order per repeat:

- ``none``: no checkpointing (the floor).
- ``torch.save``: ``torch.save({"model": state_dict, "optimizer": ...})``
  to one file per epoch. **Anchor.** Not fsynced (what most loops do).
- ``torch.save+fsync``: the same, fsynced (as durable as the store).
- ``swarmstore sync``: ``integrate_with_neural_service`` with the default
  durable store, deltas against the previous checkpoint, foreground save.
- ``swarmstore async``: the same with ``asyncSave``: the loop blocks only
  for the snapshot copy (and for the previous save, if it is still running).

Two scenarios: ``full`` trains every layer (each fp32 weight changes each
epoch, so XOR deltas of mantissas barely compress), ``head`` fine-tunes the
last layer of a frozen backbone (the backbone's checkpoint bytes repeat,
which deltas and dedup exploit).

Reported per contender: stall = wall time the loop spends inside the
checkpoint call, median per checkpoint; run time over ``none``; stored bytes
(the files, or the store's blob directory plus its SQLite files; the
derived, rebuildable indexes are left out). Ratios are against ``torch.save``
measured in the same repeat.

Goals (issue 6): async stall <= 0.25x torch.save stall; stored bytes
<= 0.6x the torch.save files (fp32, with deltas).

    python benchmarks/training_overhead.py [--quick] [--repeats N]

Prints a markdown table, writes benchmarks/results/training_overhead.json
(git-ignored) and benchmarks/results/training_overhead.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from swarmstore import SwarmDatabaseManager

RESULTS = Path(__file__).with_name("results")
CONTENDERS = ("none", "torch.save", "torch.save+fsync", "swarmstore sync", "swarmstore async")


def build(width: int, depth: int, head_only: bool) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = [torch.nn.Linear(64, width), torch.nn.ReLU()]
    for _ in range(depth):
        layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(width, 10))
    model = torch.nn.Sequential(*layers)
    if head_only:
        for p in model[:-1].parameters():
            p.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    return model, optimizer


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_once(
    contender: str,
    workdir: Path,
    *,
    width: int,
    depth: int,
    head_only: bool,
    epochs: int,
    steps: int,
) -> dict[str, Any]:
    model, optimizer = build(width, depth, head_only)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(steps, 64, 64, generator=generator)
    y = torch.randint(0, 10, (steps, 64), generator=generator)
    target = workdir / contender.replace(" ", "_").replace("+", "_")
    target.mkdir(parents=True)
    db = None
    integration = None
    checkpoint: Callable[[int, float], None]
    if contender.startswith("swarmstore"):
        db = SwarmDatabaseManager.open(target / "store")
        integration = db.integrate_with_neural_service(
            "bench",
            "agent",
            {
                "modelId": "mlp",
                "asyncSave": contender.endswith("async"),
                "resourceMonitoring": False,
            },
        )
        integration.on_training_start()

        def checkpoint(epoch: int, loss: float) -> None:
            assert integration is not None
            integration.on_epoch_complete(epoch, {"loss": loss}, model, optimizer)

    elif contender.startswith("torch.save"):
        durable = contender.endswith("fsync")

        def checkpoint(epoch: int, loss: float) -> None:
            path = target / f"epoch{epoch:04d}.pt"
            with open(path, "wb") as handle:
                torch.save(
                    {"model": model.state_dict(), "optimizer": optimizer.state_dict()}, handle
                )
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            if durable:
                fd = os.open(target, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    else:

        def checkpoint(epoch: int, loss: float) -> None:
            return None

    stalls: list[float] = []
    started = time.perf_counter()
    for epoch in range(epochs):
        loss = torch.zeros(())
        for step in range(steps):
            loss = torch.nn.functional.cross_entropy(model(x[step]), y[step])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        t0 = time.perf_counter()
        checkpoint(epoch, loss.item())
        stalls.append(time.perf_counter() - t0)
    if integration is not None:
        t0 = time.perf_counter()
        integration.on_training_complete()
        drain = time.perf_counter() - t0
    else:
        drain = 0.0
    total = time.perf_counter() - started
    stored = 0
    if db is not None:
        db.close()
        root = target / "store"
        blob_bytes = _dir_bytes(root / "blobs")
        sql_bytes = sum(p.stat().st_size for p in root.glob("meta.sqlite3*"))
        stored = blob_bytes + sql_bytes  # derived indexes (vectors, graph) left out
    else:
        stored = blob_bytes = _dir_bytes(target)
    return {
        "stall_median_s": statistics.median(stalls),
        "stall_first_s": stalls[0],
        "stall_rest_median_s": statistics.median(stalls[1:]) if len(stalls) > 1 else stalls[0],
        "drain_s": drain,
        "epoch_s": (total - drain - sum(stalls)) / epochs,
        "total_s": total,
        "stored_bytes": stored,
        "blob_bytes": blob_bytes,
    }


def scenario(name: str, args: argparse.Namespace, *, head_only: bool) -> dict[str, Any]:
    per: dict[str, list[dict[str, Any]]] = {c: [] for c in CONTENDERS}
    ratios: dict[str, dict[str, list[float]]] = {c: {"stall": [], "bytes": []} for c in CONTENDERS}
    order = list(CONTENDERS)
    for repeat in range(args.repeats):
        random.Random(repeat).shuffle(order)
        with tempfile.TemporaryDirectory(prefix="swarm-bench-") as tmp:
            results = {
                c: run_once(
                    c,
                    Path(tmp),
                    width=args.width,
                    depth=args.depth,
                    head_only=head_only,
                    epochs=args.epochs,
                    steps=args.steps,
                )
                for c in order
            }
        anchor = results["torch.save"]
        for c, r in results.items():
            per[c].append(r)
            ratios[c]["stall"].append(r["stall_median_s"] / anchor["stall_median_s"])
            ratios[c]["bytes"].append(r["stored_bytes"] / anchor["stored_bytes"])
    model, _optimizer = build(args.width, args.depth, head_only)
    raw = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    out: dict[str, Any] = {"scenario": name, "model_bytes": raw, "contenders": {}}
    floor = statistics.median(r["total_s"] for r in per["none"])
    for c in CONTENDERS:
        rows = per[c]
        out["contenders"][c] = {
            "stall_ms": 1e3 * statistics.median(r["stall_median_s"] for r in rows),
            "stall_rest_ms": 1e3 * statistics.median(r["stall_rest_median_s"] for r in rows),
            "stall_vs_torch_save": statistics.median(ratios[c]["stall"]),
            "total_s": statistics.median(r["total_s"] for r in rows),
            "overhead_vs_none": statistics.median(r["total_s"] for r in rows) / floor - 1.0,
            "drain_ms": 1e3 * statistics.median(r["drain_s"] for r in rows),
            "epoch_s": statistics.median(r["epoch_s"] for r in rows),
            "stored_mb": statistics.median(r["stored_bytes"] for r in rows) / 1e6,
            "bytes_vs_torch_save": statistics.median(ratios[c]["bytes"]),
        }
    return out


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"MLP width {args.width}, depth {args.depth}, fp32, Adam; {args.epochs} epochs x "
        f"{args.steps} steps, checkpoint every epoch; median of {args.repeats} repeats "
        f"(ratios: median of per-repeat ratios to torch.save).",
        "",
        "| scenario | contender | stall/ckpt ms | stall vs torch.save | run overhead vs none "
        "| stored MB | bytes vs torch.save |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for res in results:
        for c, r in res["contenders"].items():
            if c == "none":
                stall, ratio, size, bratio = "-", "-", "-", "-"
            else:
                stall = f"{r['stall_ms']:.1f}"
                ratio = f"{r['stall_vs_torch_save']:.2f}x"
                size = f"{r['stored_mb']:.1f}"
                bratio = f"{r['bytes_vs_torch_save']:.2f}x"
            lines.append(
                f"| {res['scenario']} ({res['model_bytes'] / 1e6:.1f} MB weights) | {c} | {stall} "
                f"| {ratio} | {100 * r['overhead_vs_none']:+.0f}% | {size} | {bratio} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat (smoke test)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.width, args.depth, args.epochs, args.steps = 1, 64, 1, 3, 2
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    results = [
        scenario("full", args, head_only=False),
        scenario("head", args, head_only=True),
    ]
    text = table(results, args)
    print(text)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "training_overhead.json").write_text(
            json.dumps({"args": vars(args), "results": results}, indent=2)
        )
        (RESULTS / "training_overhead.md").write_text(
            "# Training-loop checkpoint overhead\n\n"
            "`python benchmarks/training_overhead.py`\n\n" + text
        )


if __name__ == "__main__":
    main()
