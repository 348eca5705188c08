"""What does the layout-by-aggregate refactor cost on the write and read paths users feel?

The refactor (issue 18) moved code into rooms named after the API's nouns,
sent every write through one unit of work (``swarmstore/meta/unit.py``:
event-log row + outbox row in the write's transaction, emit after commit)
and split the training integration into ``training/callbacks.py`` and
``training/checkpointing.py`` behind ``training/port.py``. None of that
should change what a call costs; this script checks.

**Anchor:** a pre-refactor tree (``--anchor-tree``, e.g. a git worktree at
2dc0dd4). **Contender:** a commit of the repository this script lives in
(``--contender-ref``, default ``HEAD``), exported with ``git archive`` to a
temp dir, so that uncommitted edits in the working tree (others may be
editing it during the run) stay out; ``--contender-tree DIR`` measures a
directory as it is instead. The same workload, written against the
public API only (``SwarmDatabaseManager``) so that it runs unchanged on both,
runs in a fresh Python subprocess per tree and repeat, with ``PYTHONPATH``
naming the tree. Anchor and contender subprocesses alternate (A C, C A, A C,
...), so drift in the machine's load reaches both; each repeat's contender
figure is divided by the anchor figure of the same repeat, and the table
gives the median of those paired ratios with their min and max.

Each subprocess opens a new store in a temp directory with the default,
durable settings (``durability="full"``: blobs fsynced, ``synchronous=FULL``)
and ``extra={"indexes": "off"}``: the background indexer (Kuzu, LanceDB)
would compete for the 2 cores at random moments, and the anchor does not
know the typed ``StoreConfig(indexing="off")`` that replaced that spelling
(both trees accept the old key). Every workload runs once untimed (warm-up),
then ``--iterations`` times timed; a subprocess reports the median of its
iterations, wall and process CPU time (all threads).

Workloads:

- ``save full``: ``store_neural_model`` of a new model's first version,
  20 fp32 tensors of 50,000 elements (4.0 MB).
- ``save delta``: its second version (``parentVersion`` the first, every
  element moved by ~1e-4 relative, as a training step does).
- ``open``: ``SwarmDatabaseManager.open`` of the existing store (closed
  before, so every open is fresh; the page cache is warm for both trees).
- ``restore delta``: the first ``get_neural_model`` after that open, of the
  delta version: every chunk's keyframe and delta decoded and hash-verified.
- ``register``, ``approve``, ``transition``, ``deploy``: the README's
  governed promotion of the delta version to production, one call each, and
  ``promotion`` their sum.
- ``experiment``: ``start_experiment``, 2,000 ``log_metrics`` points (one
  key; the default ``flush_every=1000``, so two flushes), ``finish``.
- ``training loop``: ``integrate_with_neural_service`` with the default
  options (a sync checkpoint every epoch, the final model saved), an MLP of
  151k parameters with Adam (1.8 MB of checkpointed state), 5 epochs x 6
  steps; ``in callbacks`` is the part of it spent inside the integration.

Before running, the anchor tree and the exported contender get the C
extensions built in this repository (``codec/_kernels*.so``,
``training/_copy*.so``) where they have none (only when their C sources are
the same), and each tree must show
``swarmstore.codec.native.KERNELS`` set, or the script stops.

    python benchmarks/refactor_overhead.py --anchor-tree /tmp/before
        [--repeats 7] [--iterations 5] [--quick]

Prints a markdown table and writes benchmarks/results/refactor_overhead.json
(git-ignored) and benchmarks/results/refactor_overhead.md (the command, both
trees, the machine, the table, what moved on each path; a re-run rewrites it,
so the reading of a run's numbers is added below it by hand). ``--quick``
(1 repeat, 1 iteration, smaller workloads) is a smoke test; it writes to a temp dir.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results")
HERE = Path(__file__).resolve()
SWARM = "bench"

# (key, workload, what is timed) in table order
ROWS: tuple[tuple[str, str, str], ...] = (
    ("save_full", "(a) save", "first version, {tensors} x {numel} fp32 ({mb:.1f} MB), durable"),
    ("save_delta", "(a) save", "second version as a delta on the first"),
    ("open", "(b) restore", "open the existing store"),
    ("restore_delta", "(b) restore", "first get_neural_model after open (delta version)"),
    ("register", "(c) registry", "register_model_in_registry"),
    ("approve", "(c) registry", "approve_model (production)"),
    ("transition", "(c) registry", "transition_model_stage -> production"),
    ("deploy", "(c) registry", "deploy_model (production)"),
    ("promotion", "(c) registry", "the four calls above"),
    ("experiment", "(d) experiment", "start, {points:,} log_metrics points, finish"),
    (
        "training_loop",
        "(e) training",
        "{epochs} epochs x {steps} steps, sync checkpoint per epoch + final",
    ),
    ("training_callbacks", "(e) training", "of it inside the integration's callbacks"),
)


# -- the workload (runs inside a worker subprocess, against either tree) ------


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def worker(cfg: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import torch

    import swarmstore
    from swarmstore import SwarmDatabaseManager
    from swarmstore.codec import native

    tree = Path(cfg["tree"]).resolve()
    where = Path(swarmstore.__file__).resolve()
    if tree not in where.parents:
        raise SystemExit(f"swarmstore imported from {where}, not from {tree}")
    if not native.KERNELS:
        raise SystemExit(f"{tree}: swarmstore.codec.native.KERNELS is not set")
    torch.set_num_threads(1)  # the store's own threads get the other core
    iterations, n_tensors, numel = cfg["iterations"], cfg["tensors"], cfg["numel"]
    samples: dict[str, list[tuple[float, float]]] = {key: [] for key, _, _ in ROWS}
    checks: dict[str, Any] = {"stored_bytes": [], "bit_exact": True}

    def weights(seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """A model's first and second version; each model its own values (no dedup)."""
        rng = np.random.default_rng(seed)
        first = {
            f"layer{i}.weight": rng.standard_normal(numel).astype(np.float32)
            for i in range(n_tensors)
        }
        step = {k: (1e-4 * rng.standard_normal(numel)).astype(np.float32) for k in first}
        return first, {k: v + step[k] * v for k, v in first.items()}

    models = ["warm", *(f"m{i}" for i in range(iterations))]
    versions = {model: weights(seed) for seed, model in enumerate(models)}

    root = Path(tempfile.mkdtemp(prefix="swarm-refactor-"))
    opts: dict[str, Any] = {"extra": {"indexes": "off"}}
    try:
        db = SwarmDatabaseManager.open(root / "store", **opts)

        def record(key: str, wall: float, cpu: float, timed: bool) -> None:
            if timed:
                samples[key].append((wall, cpu))

        # (a) save: a new model's first version, then a delta on it
        def save(model: str, timed: bool) -> None:
            base, moved = versions[model]

            def seed(version: str, weights: dict[str, Any], parent: str | None) -> dict[str, Any]:
                rec: dict[str, Any] = {
                    "id": model,
                    "agentId": "agent",
                    "modelName": "bench",
                    "version": version,
                    "architecture": "feedforward",
                    "weights": weights,
                    "metadata": {"loss": 0.1},
                }
                if parent:
                    rec["parentVersion"] = parent
                return rec

            first, wall, cpu = _timed(lambda: db.store_neural_model(SWARM, seed("v1", base, None)))
            record("save_full", wall, cpu, timed)
            second, wall, cpu = _timed(
                lambda: db.store_neural_model(SWARM, seed("v2", moved, "v1"))
            )
            record("save_delta", wall, cpu, timed)
            if timed:
                checks["stored_bytes"].append(
                    [first.metadata.stored_size, second.metadata.stored_size]
                )

        save("warm", False)
        for model in models[1:]:
            save(model, True)

        # (b) restore: a fresh open, then the delta version
        def restore(model: str, timed: bool) -> None:
            nonlocal db
            db.close()
            db, wall, cpu = _timed(lambda: SwarmDatabaseManager.open(root / "store", **opts))
            record("open", wall, cpu, timed)
            rec, wall, cpu = _timed(lambda: db.get_neural_model(SWARM, model, "v2"))
            record("restore_delta", wall, cpu, timed)
            for name, array in versions[model][1].items():
                if not np.array_equal(rec.weights[name].numpy(), array):
                    checks["bit_exact"] = False

        restore("warm", False)
        for model in models[1:]:
            restore(model, True)

        # (c) registry and deployment writes: the README's governed promotion
        def promote(model: str, timed: bool) -> None:
            entry = {
                "id": f"reg_{model}",
                "name": model,
                "modelId": model,
                "modelVersions": ["v2"],
                "governance": {"owner": "ml_team", "approvers": ["tech_lead"]},
            }
            deployment = {
                "modelId": model,
                "version": "v2",
                "environment": "production",
                "config": {"batchSize": 32},
            }
            calls: list[tuple[str, Callable[[], Any]]] = [
                ("register", lambda: db.register_model_in_registry(SWARM, entry, actor="alice")),
                (
                    "approve",
                    lambda: db.approve_model(SWARM, model, "v2", "tech_lead", stage="production"),
                ),
                (
                    "transition",
                    lambda: db.transition_model_stage(
                        SWARM, model, "v2", "production", actor="alice", reason="eval ok"
                    ),
                ),
                ("deploy", lambda: db.deploy_model(SWARM, deployment, actor="ops")),
            ]
            total_wall = total_cpu = 0.0
            for key, call in calls:
                _, wall, cpu = _timed(call)
                record(key, wall, cpu, timed)
                total_wall, total_cpu = total_wall + wall, total_cpu + cpu
            record("promotion", total_wall, total_cpu, timed)

        promote("warm", False)
        for model in models[1:]:
            promote(model, True)

        # (d) an experiment run streaming 2,000 points
        def experiment(timed: bool) -> None:
            def run() -> None:
                exp = db.start_experiment(SWARM, name="bench", hyperparameters={"lr": 0.01})
                for step in range(cfg["points"]):
                    exp.log_metrics(step, loss=1.0 / (step + 1))
                exp.finish()

            _, wall, cpu = _timed(run)
            record("experiment", wall, cpu, timed)

        experiment(False)
        for _ in range(iterations):
            experiment(True)

        # (e) a training loop checkpointing every epoch through the integration
        x_all = torch.randn(cfg["steps"], 64, 64, generator=torch.Generator().manual_seed(1))
        y_all = torch.randint(0, 10, (cfg["steps"], 64), generator=torch.Generator().manual_seed(2))

        def train(seed: int, timed: bool) -> None:
            torch.manual_seed(seed)  # each run its own weights (no dedup between runs)
            width = cfg["width"]
            net = torch.nn.Sequential(
                torch.nn.Linear(64, width),
                torch.nn.ReLU(),
                torch.nn.Linear(width, width),
                torch.nn.ReLU(),
                torch.nn.Linear(width, width),
                torch.nn.ReLU(),
                torch.nn.Linear(width, 10),
            )
            optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
            in_callbacks = 0.0
            in_callbacks_cpu = 0.0
            wall0, cpu0 = time.perf_counter(), time.process_time()
            integration = db.integrate_with_neural_service(
                SWARM, "agent", {"modelId": f"net{seed}", "checkpointInterval": 1}
            )
            integration.on_training_start()
            step = 0
            for epoch in range(cfg["epochs"]):
                total = 0.0
                for i in range(cfg["steps"]):
                    loss = torch.nn.functional.cross_entropy(net(x_all[i]), y_all[i])
                    optimizer.zero_grad()
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimizer.step()
                    total += loss.item()
                    step += 1
                metrics = {"loss": total / cfg["steps"]}
                wall, cpu = time.perf_counter(), time.process_time()
                integration.on_epoch_complete(epoch, metrics, net, optimizer, step=step)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                in_callbacks, in_callbacks_cpu = in_callbacks + wall, in_callbacks_cpu + cpu
            _, wall, cpu = _timed(lambda: integration.on_training_complete(model=net))
            in_callbacks, in_callbacks_cpu = in_callbacks + wall, in_callbacks_cpu + cpu
            total_wall, total_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            record("training_loop", total_wall, total_cpu, timed)
            record("training_callbacks", in_callbacks, in_callbacks_cpu, timed)

        train(0, False)
        for seed in range(1, iterations + 1):
            train(seed, True)
        db.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    return {
        "tree": str(tree),
        "swarmstore": str(where),
        "kernels": bool(native.KERNELS),
        "wall_s": {k: statistics.median(w for w, _ in v) for k, v in samples.items()},
        "cpu_s": {k: statistics.median(c for _, c in v) for k, v in samples.items()},
        "samples": samples,
        "checks": checks,
    }


# -- the driver -----------------------------------------------------------------


def copy_extensions(target_tree: Path, built: Path) -> list[str]:
    """Copy the C extensions built in ``built`` into ``target_tree`` where it has none
    (only when their C sources are the same)."""
    copied = []
    for room, stem in (("codec", "_kernels"), ("training", "_copy")):
        target = target_tree / "swarmstore" / room
        if any(target.glob(f"{stem}*.so")):
            continue
        for so in (built / "swarmstore" / room).glob(f"{stem}*.so"):
            src_c, dst_c = so.with_name(f"{stem}.c"), target / f"{stem}.c"
            if src_c.read_bytes() != dst_c.read_bytes():
                raise SystemExit(f"{dst_c} differs from {src_c}: build the anchor's own extension")
            shutil.copy2(so, target / so.name)
            copied.append(str(target / so.name))
    return copied


def export_ref(repo: Path, ref: str, dest: Path) -> str:
    """``git archive`` the package at ``ref`` into ``dest`` (no checkout; the working
    tree, which others may be editing, is left alone); the commit it names."""
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", commit, "swarmstore"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return commit


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env.pop("SWARMSTORE_CODEC_NATIVE", None)
    return env


def run_worker(tree: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="swarm-refactor-worker-") as tmp:
        out = Path(tmp) / "out.json"
        args = [sys.executable, str(HERE), "--worker", json.dumps({**cfg, "tree": str(tree)})]
        proc = subprocess.run(
            [*args, "--worker-out", str(out)],
            env=_env(tree),
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"worker on {tree} failed ({proc.returncode}):\n{proc.stderr}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def describe(tree: Path, snapshot_of: tuple[Path, str] | None = None) -> dict[str, Any]:
    if snapshot_of is not None:
        repo, commit = snapshot_of
        return {
            "path": f"git archive {commit} of {repo}",
            "commit": commit,
            "uncommitted_in_swarmstore": [],
        }

    def git(*args: str) -> str:
        proc = subprocess.run(
            ["git", "-C", str(tree), *args], capture_output=True, text=True, check=False
        )
        return proc.stdout.strip()

    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()]
    return {
        "path": str(tree),
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_in_swarmstore": [p for p in dirty if p.startswith("swarmstore/")],
    }


def summarize(anchor: list[dict[str, Any]], contender: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, _, _ in ROWS:
        ratios = [
            c["wall_s"][key] / a["wall_s"][key] for a, c in zip(anchor, contender, strict=True)
        ]
        cpu = [c["cpu_s"][key] / a["cpu_s"][key] for a, c in zip(anchor, contender, strict=True)]
        out[key] = {
            "anchor_ms": 1e3 * statistics.median(a["wall_s"][key] for a in anchor),
            "contender_ms": 1e3 * statistics.median(c["wall_s"][key] for c in contender),
            "ratio": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "ratios": ratios,
            "cpu_ratio": statistics.median(cpu),
        }
    return out


def table(summary: dict[str, Any], cfg: dict[str, Any]) -> str:
    lines = [
        "| workload | what is timed | anchor ms | contender ms | contender/anchor "
        "| min-max | CPU time ratio |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for key, workload, what in ROWS:
        s = summary[key]
        what = what.format(**cfg, mb=4 * cfg["tensors"] * cfg["numel"] / 1e6)
        lines.append(
            f"| {workload} | {what} | {s['anchor_ms']:.1f} | {s['contender_ms']:.1f} "
            f"| {s['ratio']:.2f}x | {s['ratio_min']:.2f}-{s['ratio_max']:.2f}x "
            f"| {s['cpu_ratio']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


MOVED = """\
## What moved on each path ({anchor}..{contender})

The refactor (issue 18) moved code and was meant to change no behaviour; these are the
changes a timed call goes through:

- **(a) save** (`models/`, was `checkpoints/`): the version, its manifest, lineage rows,
  event-log row and outbox row still commit in one SQLite transaction, now opened by
  `MetaStore.unit_of_work(bus)` (`meta/unit.py`), whose `publish` appends the event and
  outbox rows and emits after commit; the SQL moved to `models/queries.py`; the codec's
  heuristics moved from `codec/pipeline.py` to `codec/choose.py` (frames byte-identical).
- **(b) open and restore**: the manager opens its SQL and blob parts through
  `stores.open_parts` (shared with `copy`); the facade mixins declare their parts instead
  of probing each other with `getattr`. The read path (manifest query, frame decode,
  hash check) only moved module.
- **(c) registry and deployments** (`registry/`, `deployments/`, was `governance/`):
  every write and its audit rows in one unit of work, with the same events, outbox rows
  and order; SQL in the rooms' `queries.py`; one `parse_record`; one `require_model`
  (`register` now reads the model row once more through it: one more SELECT).
- **(d) experiments** (`experiments/`, was `tracking/`): the run writes through a
  three-method `RunWriter` protocol instead of the service; each flush and `finish` is a
  unit of work.
- **(e) training** (`training/callbacks.py` + `training/checkpointing.py`, was the
  740-line `training/integration.py`): the integration is a client of
  `training/port.py`, a `Protocol` the manager implements; it hands typed
  `NeuralModelRecord`s to the store instead of camelCase dicts through the public API,
  and gets a typed `ExperimentRun` back; training events publish through the unit of work.
"""


def notes(doc: dict[str, Any], text: str) -> str:
    a, c, m = doc["anchor"], doc["contender"], doc["machine"]
    dirty = c["uncommitted_in_swarmstore"]
    if c["path"].startswith("git archive"):
        contender = (
            f"{c['path']}: the commit, exported to a temp dir so that edits in the working "
            "tree stay out, with this repository's built C extensions copied in"
        )
    else:
        contender = f"`{c['path']}` at {c['commit']}" + (
            f" with uncommitted changes in {', '.join(f'`{p}`' for p in dirty)}" if dirty else ""
        )
    cfg, checks = doc["config"], doc["checks"]
    load_b, load_a = m["loadavg_before"], m["loadavg_after"]
    copied = (
        "the contender's built C extensions were copied into it (same C sources)"
        if doc["copied_extensions"]
        else "it already had the contender's built C extensions (same C sources)"
    )
    return f"""# Cost of the layout-by-aggregate refactor (issue 18)

`{doc["command"]}`

- **Anchor:** the pre-refactor tree `{a["path"]}` at {a["commit"]}; {copied}.
- **Contender:** {contender}.
- **Machine:** {m["platform"]}, {m["cpus"]} CPUs, Python {m["python"]}; 1-minute load average
  {load_b[0]:.1f} before and {load_a[0]:.1f} after; the run took {m["seconds"]:.0f} s.
- **Method:** one fresh subprocess per tree and repeat ({cfg["repeats"]} each), `PYTHONPATH`
  naming the tree, anchor and contender alternating (A C, C A, ...); each subprocess opens a
  new durable store (`durability="full"`) with `extra={{"indexes": "off"}}` (the background
  indexer's CPU would land at random moments on 2 cores, and the anchor does not know the
  typed `StoreConfig(indexing="off")`; both trees accept the old key), runs every workload
  once untimed, then {cfg["iterations"]} times timed, and reports the median. Torch uses 1
  thread. The ratio column is the median over repeats of contender / anchor of the same
  repeat (paired), with min-max; the CPU column is the same for process CPU time (all
  threads), which the machine's other load moves less than wall time.
- **Checks:** every restore bit-exact: {checks["anchor"]["bit_exact"]} (anchor),
  {checks["contender"]["bit_exact"]} (contender); C kernels loaded in every subprocess:
  {checks["anchor"]["kernels"]} / {checks["contender"]["kernels"]}; the same stored bytes per
  version on both trees: {checks["same_stored_bytes"]}.

Milliseconds are medians over subprocesses of each one's median.

{text}
{MOVED.format(anchor=a["commit"], contender=c["commit"])}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--anchor-tree", type=Path, help="the pre-refactor tree (required)")
    parser.add_argument(
        "--contender-ref",
        default="HEAD",
        help="commit of this repository to measure, exported with git archive (default HEAD)",
    )
    parser.add_argument(
        "--contender-tree", type=Path, help="measure this directory as it is instead of a commit"
    )
    parser.add_argument("--repeats", type=int, default=7, help="subprocesses per tree")
    parser.add_argument("--iterations", type=int, default=5, help="timed runs per subprocess")
    parser.add_argument("--quick", action="store_true", help="smoke test; writes to a temp dir")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        Path(args.worker_out).write_text(json.dumps(worker(json.loads(args.worker))))
        return
    if args.anchor_tree is None:
        parser.error("--anchor-tree is required")
    anchor, repo = args.anchor_tree.resolve(), HERE.parents[1]
    cfg = {"tensors": 20, "numel": 50_000, "points": 2000, "width": 256, "epochs": 5, "steps": 6}
    if args.quick:
        args.repeats, args.iterations = 1, 1
        cfg.update(tensors=4, numel=5000, points=200, width=32, epochs=2, steps=2)
    cfg["iterations"] = args.iterations
    copied = copy_extensions(anchor, repo)
    with tempfile.TemporaryDirectory(prefix="swarm-refactor-contender-") as snapshot:
        if args.contender_tree is not None:
            contender = args.contender_tree.resolve()
            contender_info = describe(contender)
        else:
            contender = Path(snapshot)
            commit = export_ref(repo, args.contender_ref, contender)
            copy_extensions(contender, repo)
            contender_info = describe(contender, (repo, commit))
        started, load_before = time.time(), os.getloadavg()
        runs: dict[str, list[dict[str, Any]]] = {"anchor": [], "contender": []}
        for repeat in range(args.repeats):
            order = [("anchor", anchor), ("contender", contender)]
            if repeat % 2:
                order.reverse()
            for name, tree in order:
                runs[name].append(run_worker(tree, cfg))
            print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr, flush=True)
        load_after, seconds = os.getloadavg(), time.time() - started
    summary = summarize(runs["anchor"], runs["contender"])
    text = table(summary, cfg)
    print(text)
    checks: dict[str, Any] = {
        name: {
            "bit_exact": all(r["checks"]["bit_exact"] for r in rs),
            "stored_bytes": [r["checks"]["stored_bytes"] for r in rs],
            "kernels": all(r["kernels"] for r in rs),
        }
        for name, rs in runs.items()
    }
    same = checks["anchor"]["stored_bytes"] == checks["contender"]["stored_bytes"]
    checks["same_stored_bytes"] = same
    print(
        f"checks: restores bit-exact {checks['anchor']['bit_exact']} (anchor) / "
        f"{checks['contender']['bit_exact']} (contender); C kernels "
        f"{checks['anchor']['kernels']} / {checks['contender']['kernels']}; same stored bytes "
        f"per version {same} (first saves {checks['anchor']['stored_bytes'][0][0]})"
    )
    print(f"load average before {load_before}, after {load_after}; {seconds:.0f} s")
    out = Path(tempfile.mkdtemp(prefix="swarm-refactor-quick-")) if args.quick else RESULTS
    out.mkdir(exist_ok=True)
    doc = {
        "command": " ".join(["python", "benchmarks/refactor_overhead.py", *sys.argv[1:]]),
        "anchor": describe(anchor),
        "contender": contender_info,
        "copied_extensions": copied,
        "config": {**cfg, "repeats": args.repeats, "store": {"extra": {"indexes": "off"}}},
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "seconds": seconds,
        },
        "checks": checks,
        "summary": summary,
        "runs": runs,
    }
    (out / "refactor_overhead.json").write_text(json.dumps(doc, indent=2))
    (out / "refactor_overhead.md").write_text(notes(doc, text))
    print(f"wrote {out / 'refactor_overhead.json'} and {out / 'refactor_overhead.md'}")


if __name__ == "__main__":
    main()
