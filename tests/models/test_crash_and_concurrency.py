"""kill -9 at random moments loses nothing acknowledged; concurrent writers lose nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swarmstore import SwarmDatabaseManager
from tests.conftest import bits_equal
from tests.models.store_worker import weights_for

WORKER = str(Path(__file__).with_name("store_worker.py"))
KILLS = 30


def _spawn(root: Path, model: str, prefix: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, WORKER, str(root), model, prefix, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _verify(root: Path, model: str, versions: list[str]) -> None:
    with SwarmDatabaseManager.open(root) as db:
        for version in versions:
            restored = db.get_neural_model("swarm", model, version).weights
            for name, tensor in weights_for(version).items():
                assert bits_equal(restored[name], tensor), (version, name)
        report = db.check()
        assert report.ok, report.problems


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_acknowledged_version(tmp_path: Path) -> None:
    rng = random.Random(1234)
    acknowledged: list[str] = []
    for _ in range(KILLS):
        child = _spawn(tmp_path, "crashy", "v", 10_000)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready", (
            child.stderr.read() if child.stderr else ""
        )
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate()
        acknowledged.extend(line for line in out.split() if line.startswith("v-"))
        with SwarmDatabaseManager.open(tmp_path) as db:  # open must succeed after every kill
            stored = (
                {v.version for v in db.list_model_versions("swarm", "crashy")}
                if db.list_models()
                else set()
            )
        assert set(acknowledged) <= stored
    assert len(set(acknowledged)) >= 5, "the child never got to store; the test proves nothing"
    _verify(tmp_path, "crashy", sorted(set(acknowledged)))


@pytest.mark.slow
def test_four_processes_store_25_versions_each(tmp_path: Path) -> None:
    children = [
        _spawn(tmp_path, "shared", f"p{i}", 25) for i in range(4)
    ]  # all race to create the schema
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err
        outputs.append([line for line in out.split() if line.startswith("p")])
    assert all(len(o) == 25 for o in outputs)
    with SwarmDatabaseManager.open(tmp_path) as db:
        versions = db.list_model_versions("swarm", "shared")
        assert len(versions) == 100
        assert len({v.version for v in versions}) == 100
    _verify(tmp_path, "shared", [v for o in outputs for v in o])
