"""Derived indexes: similar-model search, lineage depth, indexer throughput.

Three questions, each against an anchor measured in the same run:

1. **Similar-model query** over N stored 384-d vectors (default N = 100k and
   1M): p50/p99 latency of one top-10 query with the swarm prefilter that
   ``find_similar_models`` uses, on LanceDB with an IVF_SQ index (exact
   re-ranking of 10x candidates, 20 probes; a bitmap index on ``swarm_id``),
   against **brute force** (Lance's flat scan of the same table with the same
   bitmap, the anchor) and numpy's exact matrix product
   (the ground truth for recall@10). Vectors are clustered, like real
   embeddings of model families: ``N / 1000`` centres, each vector a centre
   plus Gaussian noise of the same norm, L2-normalised; queries are stored
   vectors plus a little noise. Goal: p50 <= 25 ms at 1M, recall@10 >= 0.9.
2. **Ancestors of a 1,000-deep chain**: Kuzu through an open graph handle,
   ``db.lineage.ancestors`` on the graph (index lock, catch-up check and
   node-key lookup included) and on SQL ``WITH RECURSIVE`` (the anchor).
   Goal: <= 50 ms.
3. **Indexer throughput** (outbox rows/s): lineage-only rows (an experiment
   node and edge each, graph + vector pass), and model versions (a 2-layer
   MLP: every version is decoded and embedded) caught up on open.

    python benchmarks/indexes.py [--sizes 100000,1000000] [--queries 200] [--quick]

Prints markdown tables, writes benchmarks/results/indexes.json (git-ignored)
and benchmarks/results/indexes.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from swarmstore import SwarmDatabaseManager
from swarmstore.index.embedder import DIM
from swarmstore.index.lance import MODEL_TABLE, SCHEMAS, VectorIndex

RESULTS = Path(__file__).resolve().parent / "results"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered) * 1e3, "p99_ms": p99 * 1e3, "n": len(ordered)}


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    samples, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - t)
    return samples, out


# --- 1. vectors -------------------------------------------------------------------


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    labels = rng.integers(0, len(centres), n)
    noise = rng.standard_normal((n, DIM), dtype=np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    out = centres[labels] + noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def load_vectors(index: VectorIndex, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(100, n // 1000), DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    parts = []
    schema = SCHEMAS[MODEL_TABLE]
    for start in range(0, n, 100_000):
        count = min(100_000, n - start)
        block = clustered(count, rng, centres)
        ids = [f"ModelVersion:s/m{i // 10}/v{i % 10}" for i in range(start, start + count)]
        table = pa.table(
            {
                "id": ids,
                "swarm_id": ["s"] * count,
                "model_id": [i.split("/")[1] for i in ids],
                "version": [i.split("/")[2] for i in ids],
                "architecture": ["mlp"] * count,
                "accuracy": rng.random(count),
                "embedder": ["bench"] * count,
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), DIM),
            },
            schema=schema,
        )
        index.append(table, MODEL_TABLE)
        parts.append(block)
    index.compact(MODEL_TABLE, force=True)
    return np.concatenate(parts)


def exact_top10(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    out = []
    for q in queries:
        scores = data @ q
        top = np.argpartition(-scores, 10)[:10]
        out.append(top[np.argsort(-scores[top])])
    return np.stack(out)


def recall(found: list[list[str]], truth: np.ndarray) -> float:
    hits = 0
    for ids, exact in zip(found, truth, strict=True):
        wanted = {f"ModelVersion:s/m{i // 10}/v{i % 10}" for i in exact}
        hits += len(wanted & set(ids))
    return hits / (10 * len(found))


def bench_vectors(n: int, queries: int, workdir: Path) -> dict[str, Any]:
    print(f"\n## {n:,} vectors", flush=True)
    index = VectorIndex(workdir / f"vectors-{n}", ann_min_rows=10**12)
    t = time.perf_counter()
    data = load_vectors(index, n, seed=n)
    load_s = time.perf_counter() - t
    rng = np.random.default_rng(1)
    picks = rng.integers(0, n, queries)
    qs = data[picks] + 0.05 * rng.standard_normal((queries, DIM), dtype=np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    t = time.perf_counter()
    truth = exact_top10(data, qs)
    numpy_ms = (time.perf_counter() - t) / queries * 1e3

    def search(q: np.ndarray) -> list[str]:
        return [h.id for h in index.search(MODEL_TABLE, q, limit=10, swarm_id="s")]

    from lancedb.index import Bitmap

    index._table(MODEL_TABLE).create_index("swarm_id", config=Bitmap(), replace=True)
    flat_n = min(queries, 40 if n >= 500_000 else 100)
    search(qs[0])  # warm
    flat_samples, flat_found = [], []
    for q in qs[:flat_n]:
        t = time.perf_counter()
        flat_found.append(search(q))
        flat_samples.append(time.perf_counter() - t)
    t = time.perf_counter()
    index.create_ann_index(MODEL_TABLE)
    build_s = time.perf_counter() - t
    search(qs[0])
    ann_samples, ann_found = [], []
    for q in qs:
        t = time.perf_counter()
        ann_found.append(search(q))
        ann_samples.append(time.perf_counter() - t)
    flat, ann = percentiles(flat_samples), percentiles(ann_samples)
    row = {
        "n": n,
        "load_s": load_s,
        "ann_build_s": build_s,
        "numpy_exact_ms_per_query": numpy_ms,
        "brute_force": {**flat, "recall_at_10": recall(flat_found, truth[:flat_n])},
        "ivf_sq": {**ann, "recall_at_10": recall(ann_found, truth)},
        "speedup_p50": flat["p50_ms"] / ann["p50_ms"],
    }
    print(json.dumps(row, indent=1), flush=True)
    index.close()
    del data
    gc.collect()
    return row


# --- 2. lineage -----------------------------------------------------------------


def bulk_chain(db: SwarmDatabaseManager, n: int) -> None:
    from sqlalchemy import insert

    from swarmstore.meta import lineage as ln
    from swarmstore.meta.log import append_outbox
    from swarmstore.meta.tables_lineage import LineageEdgeRow, LineageNodeRow

    now = datetime.now(UTC)
    keys = [ln.node_key(ln.MODEL_VERSION, "s", "chain", f"c{i}") for i in range(n)]
    with db._meta.write() as session:
        session.execute(
            insert(LineageNodeRow),
            [
                {"key": k, "kind": ln.MODEL_VERSION, "swarm_id": "s", "props": {}}
                | {"created": now, "updated": now}
                for k in keys
            ],
        )
        session.execute(
            insert(LineageEdgeRow),
            [
                {"src": a, "rel": ln.PARENT_OF, "dst": b, "swarm_id": "s", "created": now}
                for a, b in itertools.pairwise(keys)
            ],
        )
        append_outbox(session, "model_version.upserted", "bulk", {"swarm_id": "s"}, now)


def bench_lineage(depth: int, repeats: int, workdir: Path) -> dict[str, Any]:
    print(f"\n## ancestors of a {depth}-deep chain", flush=True)
    from swarmstore.index.graph import LineageGraph
    from swarmstore.meta import lineage as ln

    root = workdir / "lineage"
    with SwarmDatabaseManager.open(root, durability="normal") as db:
        bulk_chain(db, depth)
        db.lineage.ancestors("s", "chain", f"c{depth - 1}", source="graph")  # catch up
        last = f"c{depth - 1}"
        graph_api, out_g = timed(
            lambda: db.lineage.ancestors("s", "chain", last, source="graph"), repeats
        )
        sql_api, out_s = timed(
            lambda: db.lineage.ancestors("s", "chain", last, source="sql"), repeats
        )
        assert out_g == out_s and len(out_g) == depth - 1
        graph_file = db._indexer.graph_path
    key = ln.node_key(ln.MODEL_VERSION, "s", "chain", last)
    with LineageGraph(graph_file) as graph:
        kuzu, out_k = timed(lambda: graph.ancestors(key), repeats)
        assert len(out_k) == depth - 1
    row: dict[str, Any] = {
        "depth": depth,
        "kuzu_handle": percentiles(kuzu),
        "db_lineage_graph": percentiles(graph_api),
        "db_lineage_sql": percentiles(sql_api),
    }
    row["ratio_sql_over_graph_p50"] = (
        row["db_lineage_sql"]["p50_ms"] / row["db_lineage_graph"]["p50_ms"]
    )
    print(json.dumps(row, indent=1), flush=True)
    return row


# --- 3. indexer throughput ----------------------------------------------------


def bench_indexer(lineage_rows: int, versions: int, workdir: Path) -> dict[str, Any]:
    print("\n## indexer throughput", flush=True)
    import torch

    from swarmstore.meta import lineage as ln
    from swarmstore.meta.log import append_outbox

    root = workdir / "throughput"
    with SwarmDatabaseManager.open(root, durability="normal", extra={"indexes": "off"}) as db:
        g = torch.Generator().manual_seed(0)
        for i in range(versions):
            db.store_neural_model(
                "s",
                {
                    "id": "mlp",
                    "version": f"v{i}",
                    "parentVersion": f"v{i - 1}" if i else None,
                    "architecture": "mlp",
                    "weights": {
                        "fc1.weight": torch.randn(256, 128, generator=g),
                        "fc1.bias": torch.randn(256, generator=g),
                        "fc2.weight": torch.randn(10, 256, generator=g),
                    },
                    "metadata": {"accuracy": 0.5 + i / (2 * versions)},
                },
            )
    t = time.perf_counter()
    with SwarmDatabaseManager.open(root, durability="normal") as db:
        open_s = time.perf_counter() - t
        assert db.index_status()["vectors"] == versions
        # No idle-close of the graph during the writes (it would index them early).
        db._indexer.graph_idle_seconds = 0.0
        db._indexer.run_pending()
        version_key = ln.node_key(ln.MODEL_VERSION, "s", "mlp", "v0")
        start = time.perf_counter()
        now = datetime.now(UTC)
        for i in range(lineage_rows):  # one transaction per write, as writers do
            with db._meta.write() as session:
                key = ln.node_key(ln.EXPERIMENT, "s", f"e{i}")
                ln.upsert_node(session, ln.EXPERIMENT, key, "s", {"n": i}, now)
                ln.add_edge(session, key, ln.PRODUCED, version_key, "s", now)
                append_outbox(session, "experiment.upserted", f"s/e{i}", {"swarm_id": "s"}, now)
        write_s = time.perf_counter() - start
        t = time.perf_counter()
        report = db._indexer.run_pending(block=True)
        lineage_s = time.perf_counter() - t
        assert report.applied["lineage_graph"] == lineage_rows
        assert db.check().ok
    row = {
        "model_versions": versions,
        "model_versions_catch_up_s": open_s,
        "model_version_rows_per_s": versions / open_s,
        "lineage_rows": lineage_rows,
        "lineage_rows_write_s": write_s,
        "lineage_rows_index_s": lineage_s,
        "lineage_rows_per_s": lineage_rows / lineage_s,
    }
    print(json.dumps(row, indent=1), flush=True)
    return row


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Derived indexes benchmark",
        "",
        f"`python benchmarks/indexes.py {' '.join(result['argv'])}` on {result['machine']}.",
        "",
        "## Similar-model query (top 10, swarm prefilter), anchor: brute force",
        "",
        "| vectors | brute force p50 / p99 ms | IVF_SQ p50 / p99 ms | speed-up p50 "
        "| recall@10 | ANN build s | numpy exact ms/query |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["vectors"]:
        bf, ann = r["brute_force"], r["ivf_sq"]
        lines.append(
            f"| {r['n']:,} | {bf['p50_ms']:.1f} / {bf['p99_ms']:.1f} "
            f"| {ann['p50_ms']:.1f} / {ann['p99_ms']:.1f} | {r['speedup_p50']:.1f}x "
            f"| {ann['recall_at_10']:.3f} | {r['ann_build_s']:.0f} "
            f"| {r['numpy_exact_ms_per_query']:.1f} |"
        )
    lin = result["lineage"]
    lines += [
        "",
        f"## Ancestors of a {lin['depth']}-deep chain, anchor: SQL WITH RECURSIVE",
        "",
        "| path | p50 ms | p99 ms |",
        "|---|---:|---:|",
        f"| Kuzu, open handle | {lin['kuzu_handle']['p50_ms']:.1f} "
        f"| {lin['kuzu_handle']['p99_ms']:.1f} |",
        f"| db.lineage (graph) | {lin['db_lineage_graph']['p50_ms']:.1f} "
        f"| {lin['db_lineage_graph']['p99_ms']:.1f} |",
        f"| db.lineage (SQL) | {lin['db_lineage_sql']['p50_ms']:.1f} "
        f"| {lin['db_lineage_sql']['p99_ms']:.1f} |",
        "",
        f"SQL / graph (p50): {lin['ratio_sql_over_graph_p50']:.2f}x.",
        "",
        "## Indexer throughput",
        "",
    ]
    ix = result["indexer"]
    lines += [
        f"- lineage-only outbox rows: {ix['lineage_rows_per_s']:,.0f} rows/s "
        f"({ix['lineage_rows']} rows in {ix['lineage_rows_index_s']:.2f} s, graph + vector pass)",
        f"- model versions (decode + embed + graph), caught up on open: "
        f"{ix['model_version_rows_per_s']:,.1f} rows/s ({ix['model_versions']} versions "
        f"of a 35k-parameter MLP in {ix['model_versions_catch_up_s']:.2f} s)",
        "",
        "## Notes",
        "",
        "- Machine: 2 cores shared with other jobs; latencies move by ~1.5x run to run.",
        "- Data: clustered random 384-d vectors (N/1000 centres, noise of the centre's",
        "  norm), not real model embeddings; uniform random vectors have no neighbours",
        "  worth finding and make every ANN index look bad.",
        "- IVF_PQ (24 sub-vectors) reached recall@10 0.51 (refine x10) to 0.92 (x50) at",
        "  100k in an exploratory run; 96 sub-vectors reached 0.98 but took 117 s to build",
        "  at 100k. IVF_SQ is what `VectorIndex.create_ann_index` builds now. Without a",
        "  bitmap index on `swarm_id` the swarm prefilter alone cost ~45 ms at 1M.",
        "- On a pure chain SQLite's recursive CTE beats Kuzu's breadth-first",
        "  `SHORTEST` (~33 us per level); both meet the 50 ms goal at 1,000 levels.",
        '  `db.lineage` still asks the graph first (the issue\'s design); `source="sql"`',
        "  forces SQL.",
        "- Lineage-only rows: 2,000 experiment writes sharing one timestamp, so every",
        "  batch of 500 re-reads the swarm's lineage stamped since then (see",
        "  `swarmstore/index/queries.py`); real writes with spread timestamps read less.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="vector counts, comma-separated")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--depth", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="20k vectors, small throughput runs")
    parser.add_argument("--workdir", help="scratch directory (default: a temporary one)")
    args = parser.parse_args()
    sizes = [20_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        result: dict[str, Any] = {
            "argv": sys.argv[1:],
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs ({platform.platform()})",
            "lineage": bench_lineage(args.depth, args.repeats, work),
            "indexer": bench_indexer(200 if args.quick else 2000, 20 if args.quick else 100, work),
            "vectors": [bench_vectors(n, args.queries, work) for n in sizes],
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "indexes.json").write_text(json.dumps(result, indent=2))
    text = markdown(result)
    (RESULTS / "indexes.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
