"""The object store dies in the middle of a save (SIGKILL of a private
SeaweedFS): the save raises, nothing is committed, the next save after a
restart succeeds and ``check`` is clean."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from swarmstore import BackendUnavailableError, SwarmDatabaseManager
from tests.conftest import bits_equal, model_record
from tests.scale.conftest import Servers
from tests.scale.servers import SeaweedServer


@pytest.fixture
def private_s3(tmp_path: Path) -> Iterator[SeaweedServer]:
    server = SeaweedServer.start(tmp_path / "seaweed")
    try:
        server.create_bucket("faults")
        yield server
    finally:
        server.stop()


def _kill(server: SeaweedServer) -> None:
    import os
    import signal

    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(10)


def test_object_store_dying_mid_save_commits_nothing(
    servers: Servers, private_s3: SeaweedServer, tmp_path: Path
) -> None:
    config = servers.fresh_config(
        tmp_path / "local",
        blob_url="s3://faults/store",
        storage_options=private_s3.storage_options,
        io_timeout_seconds=3,
        connect_timeout_seconds=2,
        chunk_bytes=64 << 10,
        compression="none",
    )
    small = {"w": torch.randn(64, 64)}
    big = {f"layer{i}": torch.rand(256, 1024) for i in range(24)}  # 24 MiB in 384 chunks
    with SwarmDatabaseManager.open(config) as db:
        db.store_neural_model("s", model_record("v1", small))
        uploaded_before = len(list(db._blobs.list()))
        outcome: list[BaseException | None] = []

        def save() -> None:
            try:
                db.store_neural_model("s", model_record("v2", big, parentVersion="v1"))
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        saver = threading.Thread(target=save)
        saver.start()
        deadline = time.monotonic() + 60
        while len(list(db._blobs.list())) < uploaded_before + 20:  # the save is uploading
            assert saver.is_alive(), outcome
            assert time.monotonic() < deadline
            time.sleep(0.02)
        _kill(private_s3)
        saver.join(120)
        assert len(outcome) == 1 and isinstance(outcome[0], BackendUnavailableError), outcome
        assert outcome[0].backend == "object store"
        assert [v.version for v in db.list_model_versions("s", "model_001")] == ["v1"]
        events = [e["name"] for e in db.events_since(0)]

    private_s3.launch()  # same data directory and ports
    with SwarmDatabaseManager.open(config) as db:
        assert [e["name"] for e in db.events_since(0)] == events  # nothing was logged
        db.store_neural_model("s", model_record("v2", big, parentVersion="v1"))
        got = db.get_neural_model("s", "model_001", "v2").weights
        assert all(bits_equal(big[k], got[k]) for k in big)
        assert bits_equal(db.get_neural_model("s", "model_001", "v1").weights["w"], small["w"])
        assert db.check().ok
