"""The store on real PostgreSQL + SeaweedFS (S3): same API, chosen by config."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from swarmstore import BackendUnavailableError, StoreConfig, SwarmDatabaseManager
from swarmstore.blobs.s3 import ObjectBlobStore
from swarmstore.cli import main as cli_main
from tests.conftest import bits_equal, model_record, small_state_dict
from tests.scale.conftest import Servers
from tests.scale.remote_worker import weights_for
from tests.scale.servers import free_port

REPO = Path(__file__).resolve().parents[2]


def _toml(config: StoreConfig, path: Path) -> Path:
    lines = [f'metadata_url = "{config.metadata_url}"', f'blob_url = "{config.blob_url}"']
    lines += ["durability = 'normal'", "[storage_options]"]
    lines += [f'{k} = "{v}"' for k, v in config.storage_options.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_save_restore_bit_exact_and_check(remote: StoreConfig) -> None:
    weights = {
        **small_state_dict(3, 64),
        "bf16": torch.randn(33, 7).to(torch.bfloat16),
        "special": torch.tensor([float("nan"), -0.0, float("-inf"), 1e-45]),
        "mask": torch.rand(100) > 0.5,
    }
    with SwarmDatabaseManager.open(remote) as db:
        db.store_neural_model("s", model_record("v1", weights))
        changed = {k: (v + 1 if v.is_floating_point() else v) for k, v in weights.items()}
        db.store_neural_model("s", model_record("v2", changed, parentVersion="v1"))
    with SwarmDatabaseManager.open(remote) as db:  # a fresh process would see the same
        for version, expected in (("v1", weights), ("v2", changed)):
            got = db.get_neural_model("s", "model_001", version).weights
            assert all(bits_equal(expected[k], got[k]) for k in expected), version
        assert [v.version for v in db.list_model_versions("s", "model_001")] == ["v1", "v2"]
        assert db.check().ok


def test_open_from_toml_and_keyword_arguments(remote: StoreConfig, tmp_path: Path) -> None:
    config_file = _toml(remote, tmp_path / "shared.toml")
    with SwarmDatabaseManager.open(config_file) as db:
        db.store_neural_model("s", model_record("v1", small_state_dict(1)))
    with SwarmDatabaseManager.open(
        metadata_url=remote.metadata_url,
        blob_url=remote.blob_url,
        storage_options=remote.storage_options,
        root=tmp_path / "elsewhere",
    ) as db:
        assert db.get_neural_model("s", "model_001").version == "v1"
        assert db.config.blob_url == remote.blob_url
    assert not (tmp_path / "elsewhere" / "meta.sqlite3").exists()


def test_four_processes_store_at_once_and_everything_restores(
    remote: StoreConfig, tmp_path: Path
) -> None:
    config_file = _toml(remote, tmp_path / "shared.toml")
    SwarmDatabaseManager.open(config_file).close()  # schema first, so workers race on data
    count = 4
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.scale.remote_worker",
                str(config_file),
                str(w),
                str(count),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for proc in workers:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        assert out.count("stored") == count == 4
    with SwarmDatabaseManager.open(config_file) as db:
        for w in range(4):
            for i in range(count):
                got = db.get_neural_model(f"swarm{w}", f"m{w}", f"v{i}").weights
                expected = weights_for(f"{w}/{i}")
                assert all(bits_equal(expected[k], got[k]) for k in expected)
                shared = db.get_neural_model("common", "shared", f"w{w}-{i}").weights
                expected = weights_for(f"s{w}/{i}")
                assert all(bits_equal(expected[k], shared[k]) for k in expected)
        versions = db.list_model_versions("common", "shared")
        assert len(versions) == 4 * count
        assert db.check().ok
        events = db.events_since(0, limit=10_000)
    seqs = [e["seq"] for e in events]
    assert len(seqs) == len(set(seqs)) >= 2 * 4 * count


def test_unreachable_database_is_a_typed_error_in_bounded_time(
    servers: Servers, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        SwarmDatabaseManager.open(
            root=tmp_path,
            metadata_url=f"postgresql+psycopg://swarm:secret@127.0.0.1:{port}/nowhere",
            blob_url=f"s3://{servers.bucket}/x",
            storage_options=servers.storage_options,
            connect_timeout_seconds=2,
        )
    assert time.monotonic() - start < 15
    assert info.value.backend == "metadata database"
    assert str(port) in str(info.value) and "secret" not in str(info.value)
    assert info.value.reason


def test_unreachable_object_store_is_a_typed_error_in_bounded_time(
    servers: Servers, tmp_path: Path
) -> None:
    config = servers.fresh_config(tmp_path / "a")
    dead = {**servers.storage_options, "aws_endpoint": f"http://127.0.0.1:{free_port()}"}
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        SwarmDatabaseManager.open(config, storage_options=dead, connect_timeout_seconds=2)
    assert time.monotonic() - start < 15
    assert info.value.backend == "object store"
    with pytest.raises(BackendUnavailableError) as missing:
        SwarmDatabaseManager.open(config, blob_url="s3://no-such-bucket-here/x")
    assert missing.value.backend == "object store"
    assert "no-such-bucket-here" in str(missing.value)


def test_object_store_blobs_are_idempotent_ranged_and_multipart(servers: Servers) -> None:
    config = servers.fresh_config(Path("/nonexistent-unused"))
    assert config.blob_url is not None
    store = ObjectBlobStore.from_url(config.blob_url, config.storage_options)
    store.multipart_threshold, store.part_bytes = 6 << 20, 5 << 20
    try:
        small, big = b"a" * 1000, bytes(range(256)) * 49152  # 12 MiB: 3 parts
        key_small, key_big = "ab" + "0" * 62, "cd" + "1" * 62
        assert store.put(key_small, small) is True
        assert store.put(key_small, small) is False  # pending counts as present
        assert store.put(key_big, big) is True
        store.flush()
        assert store.put(key_small, b"other bytes") is False  # never replaced
        store.flush()
        assert store.get(key_small) == small and store.get(key_big) == big
        assert store.get_range(key_big, 1_000_000, 300) == big[1_000_000:1_000_300]
        assert store.get_range(key_big, len(big) - 10, 100) == big[-10:]
        assert {b.key for b in store.list()} == {key_small, key_big}
        with pytest.raises(FileNotFoundError):
            store.get("ef" + "2" * 62)
        store.delete(key_small)
        assert not store.exists(key_small)
    finally:
        store.close()


def test_gc_on_object_storage_spares_young_and_reused_blobs(remote: StoreConfig) -> None:
    weights = {"w": torch.randn(128, 128)}  # 64 KB: a blob object, not an inline frame
    with SwarmDatabaseManager.open(remote) as db:
        db.store_neural_model("s", model_record("v1", weights))
        db.store_neural_model("s", model_record("keep", {"w": torch.randn(8)}, model_id="other"))
        db.delete_model_version("s", "model_001", "v1")
        assert db.gc(grace_seconds=3600).deleted == 0  # young: may be a commit in flight
        time.sleep(2.2)  # S3 ages have one-second resolution
        # a save that reuses the orphaned blob refreshes its age: gc must keep it
        db.store_neural_model("s", model_record("v2", {"w": weights["w"].clone()}))
        report = db.gc(grace_seconds=2)
        assert report.deleted == 0
        assert db.check().ok
        assert bits_equal(db.get_neural_model("s", "model_001", "v2").weights["w"], weights["w"])
        db.delete_model_version("s", "model_001", "v2")
        time.sleep(2.2)
        report = db.gc(grace_seconds=2)
        assert report.deleted >= 1 and report.freed_bytes > 0
        assert db.check().ok  # "other" still complete
        assert db.get_neural_model("s", "other").version == "keep"


def test_copy_embedded_to_postgres_s3_and_back(remote: StoreConfig, tmp_path: Path) -> None:
    src, back = tmp_path / "embedded", tmp_path / "back"
    first, second = small_state_dict(5, 48), small_state_dict(6, 48)
    with SwarmDatabaseManager.open(src, durability="normal") as db:
        db.store_neural_model("s", model_record("v1", first))
        db.store_neural_model("s", model_record("v2", second, parentVersion="v1"))
        db.store_neural_model("t", model_record("x", first, model_id="twin"))
        inputs = [np.full((2, 3), i, dtype=np.float32) for i in range(5)]
        dataset = {"id": "d1", "name": "toy", "dataType": "supervised", "format": "tensor"}
        db.store_training_dataset("s", {**dataset, "samples": {"inputs": inputs}})
    config_file = _toml(remote, tmp_path / "remote.toml")
    assert cli_main(["copy", str(src), str(config_file)]) == 0
    assert cli_main(["copy", str(config_file), str(back)]) == 0
    assert cli_main(["check", str(config_file)]) == 0
    for target in (config_file, back):
        with SwarmDatabaseManager.open(target) as db:
            got = db.get_neural_model("s", "model_001", "v2").weights
            assert all(bits_equal(second[k], got[k]) for k in second)
            assert db.get_neural_model("t", "twin").version == "x"
            samples = db.get_training_dataset("s", "d1").samples
            assert samples is not None  # dataset sample blobs travelled too
            # keys and sequences moved on: the copy takes new writes
            db.store_neural_model("s", model_record("v3", first, parentVersion="v2"))
            assert db.check().ok
    assert cli_main(["copy", str(src), str(config_file)]) == 2  # destination not empty
