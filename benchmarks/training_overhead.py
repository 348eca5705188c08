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

Scenarios (each contender runs the same loop within a scenario):

- ``full`` trains every layer from scratch (Adam, lr 1e-3): each fp32
  weight and both Adam moments change every step.
- ``head`` fine-tunes the last layer of a frozen backbone (the backbone's
  checkpoint bytes repeat, which deltas and dedup exploit).
- ``finetune`` fine-tunes every layer of a pretrained model at a low
  learning rate (Adam, lr 1e-5). The pretrained weights are already stored
  (a version ``base`` of the same model; for ``torch.save`` the pretrained
  file that exists anyway); neither side counts them: the store's bytes are
  its growth during the run, and its first checkpoint deltas against
  ``base`` (``on_training_start(base_version="base")``).
- ``wide`` is ``full`` at width 1024 (52 MB of weights + Adam state) with
  fewer steps per epoch: fixed per-callback costs matter less.

Reported per contender: stall = wall time the loop spends inside the
checkpoint call, median per checkpoint, and of it the time an async
callback waited for the previous save still in flight (a real stall, but
not the copy); run time over ``none``; stored bytes (the files, or the
store's blob directory plus its SQLite files; the derived, rebuildable
indexes are left out). Ratios are against ``torch.save`` measured in the
same repeat.

Then, per scenario, what deltas can achieve for each tensor group (weights,
``exp_avg``, ``exp_avg_sq``) of the same checkpoints, encoded by the
store's codec: a full frame, a delta against the previous checkpoint, a
delta against the first; and two size estimates of the delta against the
previous checkpoint: the order-0 entropy of its byte planes (what a
byte-plane coder can reach) and a magnitude-class estimate (a coder of the
integer difference that entropy-codes each element's bit length and stores
the bits below the leading one raw, as if they were uniform).

Goals (issue 6): async stall <= 0.25x torch.save stall; stored bytes
<= 0.6x the torch.save files (fp32, with deltas).

    python benchmarks/training_overhead.py [--quick] [--repeats N] [--scenarios full,head]
        [--delta-base parent]   # stores that delta against the previous version

Prints markdown tables and writes benchmarks/results/training_overhead.json
(git-ignored); benchmarks/results/training_overhead.md records a run with
what it says.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from swarmstore import SwarmDatabaseManager
from swarmstore.codec import CodecPolicy, encode_chunk

RESULTS = Path(__file__).with_name("results")
CONTENDERS = ("none", "torch.save", "torch.save+fsync", "swarmstore sync", "swarmstore async")


@dataclass(frozen=True)
class Scenario:
    name: str
    width: int
    depth: int
    epochs: int
    steps: int
    head_only: bool = False
    lr: float = 1e-3
    pretrained: bool = False  # start from stored weights (a fine-tune)
    analyze: bool = True  # per-group delta analysis (left out where most weights are frozen)


def build(
    width: int, depth: int, head_only: bool, lr: float = 1e-3
) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
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
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    return model, optimizer


def data(steps: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, 64, 64, generator=generator)
    y = torch.randint(0, 10, (steps, 64), generator=generator)
    return x, y


_PRETRAINED: dict[tuple[int, int], dict[str, torch.Tensor]] = {}


def pretrained(width: int, depth: int) -> dict[str, torch.Tensor]:
    """The weights a fine-tune starts from: 2 epochs of 60 steps at lr 1e-3 on other data."""
    key = (width, depth)
    if key not in _PRETRAINED:
        model, optimizer = build(width, depth, False)
        x, y = data(60, seed=2)
        for _ in range(2):
            for step in range(60):
                loss = torch.nn.functional.cross_entropy(model(x[step]), y[step])
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
        _PRETRAINED[key] = {k: v.clone() for k, v in model.state_dict().items()}
    return _PRETRAINED[key]


def prepare(sc: Scenario) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model, optimizer = build(sc.width, sc.depth, sc.head_only, sc.lr)
    if sc.pretrained:
        model.load_state_dict(pretrained(sc.width, sc.depth))
    return model, optimizer


def _store_bytes(root: Path) -> int:
    blob_bytes = _dir_bytes(root / "blobs") if (root / "blobs").exists() else 0
    return blob_bytes + sum(p.stat().st_size for p in root.glob("meta.sqlite3*"))


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_once(
    contender: str, workdir: Path, sc: Scenario, store: dict[str, Any] | None = None
) -> dict[str, Any]:
    model, optimizer = prepare(sc)
    x, y = data(sc.steps)
    target = workdir / contender.replace(" ", "_").replace("+", "_")
    target.mkdir(parents=True)
    db = None
    integration = None
    baseline = 0
    checkpoint: Callable[[int, float], None]
    if contender.startswith("swarmstore"):
        base = None
        if sc.pretrained:  # the pretrained model is already in the store; not counted
            with SwarmDatabaseManager.open(target / "store", **(store or {})) as setup:
                setup.store_neural_model(
                    "bench",
                    {
                        "id": "mlp",
                        "agentId": "agent",
                        "version": "base",
                        "weights": model.state_dict(),
                    },
                )
            base = "base"
            baseline = _store_bytes(target / "store")
        db = SwarmDatabaseManager.open(target / "store", **(store or {}))
        integration = db.integrate_with_neural_service(
            "bench",
            "agent",
            {
                "modelId": "mlp",
                "asyncSave": contender.endswith("async"),
                "resourceMonitoring": False,
            },
        )
        integration.on_training_start(base_version=base)

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
    waits: list[float] = []
    started = time.perf_counter()
    for epoch in range(sc.epochs):
        loss = torch.zeros(())
        for step in range(sc.steps):
            loss = torch.nn.functional.cross_entropy(model(x[step]), y[step])
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        waited = integration.save_wait_seconds if integration is not None else 0.0
        t0 = time.perf_counter()
        checkpoint(epoch, loss.item())
        stalls.append(time.perf_counter() - t0)
        if integration is not None:
            waits.append(integration.save_wait_seconds - waited)
    if integration is not None:
        t0 = time.perf_counter()
        integration.on_training_complete()
        drain = time.perf_counter() - t0
    else:
        drain = 0.0
    total = time.perf_counter() - started
    if db is not None:
        db.close()
        # blobs + SQLite; derived indexes (vectors, graph) left out
        stored = _store_bytes(target / "store") - baseline
    else:
        stored = _dir_bytes(target)
    return {
        "stall_median_s": statistics.median(stalls),
        "stall_first_s": stalls[0],
        "stall_rest_median_s": statistics.median(stalls[1:]) if len(stalls) > 1 else stalls[0],
        "wait_median_s": statistics.median(waits) if waits else 0.0,
        "waits": sum(1 for w in waits if w > 0),
        "drain_s": drain,
        "epoch_s": (total - drain - sum(stalls)) / sc.epochs,
        "total_s": total,
        "stored_bytes": stored,
    }


def scenario(sc: Scenario, repeats: int, store: dict[str, Any] | None = None) -> dict[str, Any]:
    per: dict[str, list[dict[str, Any]]] = {c: [] for c in CONTENDERS}
    ratios: dict[str, dict[str, list[float]]] = {c: {"stall": [], "bytes": []} for c in CONTENDERS}
    order = list(CONTENDERS)
    for repeat in range(repeats):
        random.Random(repeat).shuffle(order)
        with tempfile.TemporaryDirectory(prefix="swarm-bench-") as tmp:
            results = {c: run_once(c, Path(tmp), sc, store) for c in order}
        anchor = results["torch.save"]
        for c, r in results.items():
            per[c].append(r)
            ratios[c]["stall"].append(r["stall_median_s"] / anchor["stall_median_s"])
            ratios[c]["bytes"].append(r["stored_bytes"] / anchor["stored_bytes"])
    model, _optimizer = build(sc.width, sc.depth, sc.head_only)
    raw = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    out: dict[str, Any] = {"scenario": sc.name, "config": vars(sc), "model_bytes": raw}
    out["contenders"] = {}
    floor = statistics.median(r["total_s"] for r in per["none"])
    for c in CONTENDERS:
        rows = per[c]
        out["contenders"][c] = {
            "stall_ms": 1e3 * statistics.median(r["stall_median_s"] for r in rows),
            "stall_rest_ms": 1e3 * statistics.median(r["stall_rest_median_s"] for r in rows),
            "wait_ms": 1e3 * statistics.median(r["wait_median_s"] for r in rows),
            "waits": max(r["waits"] for r in rows),
            "stall_vs_torch_save": statistics.median(ratios[c]["stall"]),
            "total_s": statistics.median(r["total_s"] for r in rows),
            "overhead_vs_none": statistics.median(r["total_s"] for r in rows) / floor - 1.0,
            "drain_ms": 1e3 * statistics.median(r["drain_s"] for r in rows),
            "epoch_s": statistics.median(r["epoch_s"] for r in rows),
            "stored_mb": statistics.median(r["stored_bytes"] for r in rows) / 1e6,
            "bytes_vs_torch_save": statistics.median(ratios[c]["bytes"]),
        }
    return out


# -- what deltas can achieve, per tensor group -------------------------------

GROUPS = ("weights", "exp_avg", "exp_avg_sq")
CHUNK = 4 << 20  # the store's default chunk size


def checkpoints(sc: Scenario) -> list[dict[str, list[np.ndarray]]]:
    """The scenario's per-epoch checkpoints (fp32 tensors by group), no store involved."""
    model, optimizer = prepare(sc)
    x, y = data(sc.steps)
    out = []
    for _epoch in range(sc.epochs):
        for step in range(sc.steps):
            loss = torch.nn.functional.cross_entropy(model(x[step]), y[step])
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        groups: dict[str, list[np.ndarray]] = {g: [] for g in GROUPS}
        for p in model.parameters():
            groups["weights"].append(p.detach().numpy().copy())
            state = optimizer.state.get(p)
            if state:
                groups["exp_avg"].append(state["exp_avg"].numpy().copy())
                groups["exp_avg_sq"].append(state["exp_avg_sq"].numpy().copy())
        out.append(groups)
    return out


def _encoded(tensors: list[np.ndarray], bases: list[np.ndarray] | None) -> int:
    policy = CodecPolicy()
    size = 0
    for i, tensor in enumerate(tensors):
        raw = tensor.tobytes()
        base = bases[i].tobytes() if bases is not None else None
        for offset in range(0, len(raw), CHUNK):
            chunk_base = base[offset : offset + CHUNK] if base is not None else None
            frame = encode_chunk(raw[offset : offset + CHUNK], "float32", policy, chunk_base)
            size += len(frame.frame)
    return size


def _plane_bits(words: np.ndarray) -> float:
    """Order-0 entropy of the 4 byte planes of uint32 words, bits per word."""
    planes = words.view(np.uint8).reshape(-1, 4)
    bits = 0.0
    for i in range(4):
        counts = np.bincount(planes[:, i], minlength=256).astype(np.float64)
        p = counts[counts > 0] / counts.sum()
        bits += float(-(p * np.log2(p)).sum())
    return bits


def _zigzag(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """The codec's ``delta.sub``: wrapping difference, zigzag-coded."""
    d = (new - old).view(np.int32)
    zigzag: np.ndarray = ((d << 1) ^ (d >> 31)).view(np.uint32)
    return zigzag


def _magnitude_bits(new: np.ndarray, old: np.ndarray) -> float:
    """Bits per element of an ideal coder of the integer difference of the bit patterns:
    the bit length entropy-coded, the bits below the leading one raw, a sign if nonzero."""
    diff = new.view(np.int32).astype(np.int64) - old.view(np.int32).astype(np.int64)
    mag = np.abs(diff)
    length = np.zeros(mag.shape, dtype=np.int64)
    nz = mag > 0
    length[nz] = np.floor(np.log2(mag[nz])).astype(np.int64) + 1
    counts = np.bincount(length).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum() + np.maximum(length - 1, 0).mean() + nz.mean())


MANTISSA_BITS = 23  # an fp32 value that is new to the store: its mantissa is unpredictable


def _change_classes(new: np.ndarray, old: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per element: the bits below the leading one of the change of its bit pattern,
    capped at the mantissa (a change that large makes a new value), and its class
    (sign and bit length, the cap one class)."""
    diff = new.view(np.int32).astype(np.int64) - old.view(np.int32).astype(np.int64)
    mag = np.abs(diff)
    length = np.zeros(mag.shape, dtype=np.int64)
    nz = mag > 0
    length[nz] = np.floor(np.log2(mag[nz])).astype(np.int64) + 1
    low = np.minimum(np.maximum(length - 1, 0), MANTISSA_BITS)
    classes = np.minimum(length, MANTISSA_BITS + 1) * np.where(diff < 0, -1, 1)
    return low, classes


def _floor_bits(new: np.ndarray, old: np.ndarray) -> tuple[float, float]:
    """Bits per element that a lossless coder of ``new`` given ``old`` cannot avoid, if
    the low bits of each change are noise: (floor with every change's sign and size
    known for free, the same plus the order-0 entropy of those classes)."""
    low, classes = _change_classes(new, old)
    _, counts = np.unique(classes, return_counts=True)
    p = counts / counts.sum()
    return float(low.mean()), float(low.mean() - (p * np.log2(p)).sum())


def group_analysis(sc: Scenario) -> dict[str, Any]:
    """Per group: encoded size as a fraction of raw (full frame, delta vs previous,
    delta vs first) and bit estimates of the delta vs previous, averaged over checkpoints."""
    series = checkpoints(sc)
    out: dict[str, Any] = {}
    for group in GROUPS:
        seq = [s[group] for s in series]
        if not seq[0]:
            continue
        raw = sum(t.nbytes for t in seq[0])
        flat = [np.concatenate([t.ravel() for t in s]).view(np.uint32) for s in seq]
        pairs = range(1, len(seq))
        floors = [_floor_bits(flat[i], flat[i - 1]) for i in pairs]
        out[group] = {
            "raw_mb": raw / 1e6,
            "full": statistics.mean(_encoded(s, None) for s in seq) / raw,
            "delta_prev": statistics.mean(_encoded(seq[i], seq[i - 1]) for i in pairs) / raw,
            "delta_first": statistics.mean(_encoded(seq[i], seq[0]) for i in pairs) / raw,
            "bits_raw": statistics.mean(_plane_bits(f) for f in flat),
            "bits_xor_prev": statistics.mean(_plane_bits(flat[i] ^ flat[i - 1]) for i in pairs),
            "bits_sub_prev": statistics.mean(
                _plane_bits(_zigzag(flat[i], flat[i - 1])) for i in pairs
            ),
            "bits_bound_prev": statistics.mean(
                _magnitude_bits(flat[i], flat[i - 1]) for i in pairs
            ),
            "bits_floor_prev": statistics.mean(f[0] for f in floors),
            "bits_floor_classes_prev": statistics.mean(f[1] for f in floors),
            # the whole run: the first checkpoint's values are new, each later one a change
            "floor_run": (MANTISSA_BITS + sum(f[0] for f in floors)) / (32 * len(seq)),
            "floor_classes_run": (MANTISSA_BITS + sum(f[1] for f in floors)) / (32 * len(seq)),
        }
    return out


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"MLP depth {args.depth}, fp32, Adam; checkpoint every epoch; stores' delta base: "
        f"{args.delta_base}; median of {args.repeats} "
        "repeats (ratios: median of per-repeat ratios to torch.save). Stall = time in the "
        "checkpoint call per checkpoint (median); 'waiting' = the part an async callback "
        "spent waiting for the previous save still in flight (the rest is the snapshot).",
        "",
        "| scenario | contender | stall/ckpt ms | of it waiting ms | stall vs torch.save "
        "| run overhead vs none | stored MB | bytes vs torch.save |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for res in results:
        cfg = res["config"]
        label = (
            f"{res['scenario']} (w{cfg['width']}, {cfg['epochs']}x{cfg['steps']} steps, "
            f"lr {cfg['lr']:g}, {res['model_bytes'] / 1e6:.1f} MB weights)"
        )
        for c, r in res["contenders"].items():
            if c == "none":
                stall, wait, ratio, size, bratio = "-", "-", "-", "-", "-"
            else:
                stall = f"{r['stall_ms']:.1f}"
                wait = f"{r['wait_ms']:.1f}" if c == "swarmstore async" else "-"
                ratio = f"{r['stall_vs_torch_save']:.2f}x"
                size = f"{r['stored_mb']:.1f}"
                bratio = f"{r['bytes_vs_torch_save']:.2f}x"
            lines.append(
                f"| {label} | {c} | {stall} | {wait} | {ratio} "
                f"| {100 * r['overhead_vs_none']:+.0f}% | {size} | {bratio} |"
            )
    analyses = [r for r in results if r.get("groups")]
    if analyses:
        lines += [
            "",
            "Per tensor group, the same checkpoints encoded by the store's codec (fraction of "
            "raw fp32 bytes, mean over checkpoints) and estimates for the delta against the "
            "previous checkpoint in bits per 32-bit element: order-0 entropy of the byte "
            "planes of the raw values, of the XOR delta, of the zigzag SUB delta, and the "
            "magnitude-class estimate; then the floor: the bits below the leading one of "
            "each element's change (at most the 23 mantissa bits), which are noise to any "
            "coder, with the sign and size of every change free, and the same plus the "
            "order-0 entropy of those (sign, size) classes.",
            "",
            "| scenario | group | MB/ckpt | full frame | delta vs previous | delta vs first "
            "| planes raw / xor / sub (bits) | magnitude estimate (bits) "
            "| floor / + classes (bits) |",
            "|---|---|---:|---:|---:|---:|---|---:|---|",
        ]
        for res in analyses:
            for group, g in res["groups"].items():
                lines.append(
                    f"| {res['scenario']} | {group} | {g['raw_mb']:.2f} | {g['full']:.2f}x "
                    f"| {g['delta_prev']:.2f}x | {g['delta_first']:.2f}x "
                    f"| {g['bits_raw']:.1f} / {g['bits_xor_prev']:.1f} / {g['bits_sub_prev']:.1f} "
                    f"| {g['bits_bound_prev']:.1f} ({g['bits_bound_prev'] / 32:.2f}x) "
                    f"| {g['bits_floor_prev']:.1f} / {g['bits_floor_classes_prev']:.1f} |"
                )
        lines += ["", *(_floor_line(res) for res in analyses)]
    return "\n".join(lines) + "\n"


def _floor_line(res: dict[str, Any]) -> str:
    """The whole run's floor (first checkpoint new, the rest changes) against the
    ``torch.save`` files and against what the store wrote."""
    epochs = res["config"]["epochs"]
    groups = res["groups"].values()
    floor = sum(g["floor_run"] * g["raw_mb"] for g in groups) * epochs
    classes = sum(g["floor_classes_run"] * g["raw_mb"] for g in groups) * epochs
    saved = res["contenders"]["torch.save"]["stored_mb"]
    stored = res["contenders"]["swarmstore async"]["stored_mb"]
    return (
        f"- {res['scenario']}: the run's lossless floor is {floor / saved:.2f}x the "
        f"`torch.save` files with every change's sign and size free, "
        f"{classes / saved:.2f}x paying for them at their order-0 entropy; "
        f"the store wrote {stored / saved:.2f}x."
    )


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    d, e = args.depth, args.epochs
    every = {
        "full": Scenario("full", args.width, d, e, args.steps),
        "head": Scenario("head", args.width, d, e, args.steps, head_only=True, analyze=False),
        "finetune": Scenario(
            "finetune", args.width, d, e, args.steps, lr=args.finetune_lr, pretrained=True
        ),
        "wide": Scenario("wide", args.wide_width, d, e, args.wide_steps),
    }
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = sorted(set(names) - set(every))
    if unknown:
        raise SystemExit(f"unknown scenarios {unknown}; choose from {sorted(every)}")
    return [every[n] for n in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat (smoke test)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--finetune-lr", type=float, default=1e-5)
    parser.add_argument("--wide-width", type=int, default=1024)
    parser.add_argument("--wide-steps", type=int, default=20)
    parser.add_argument("--scenarios", default="full,head,finetune,wide")
    parser.add_argument("--no-analysis", action="store_true", help="skip the per-group analysis")
    parser.add_argument(
        "--delta-base",
        choices=("keyframe", "parent"),
        default="keyframe",
        help="the stores' delta base (default: the store's default, keyframe)",
    )
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.width, args.depth, args.epochs, args.steps = 1, 64, 1, 3, 2
        args.wide_width, args.wide_steps = 128, 2
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    results = []
    for sc in scenarios(args):
        res = scenario(sc, args.repeats, {"delta_base": args.delta_base})
        if sc.analyze and not args.no_analysis:
            res["groups"] = group_analysis(sc)
        results.append(res)
    text = table(results, args)
    print(text)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        suffix = "" if args.delta_base == "keyframe" else f"_{args.delta_base}"
        (RESULTS / f"training_overhead{suffix}.json").write_text(
            json.dumps({"args": vars(args), "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
