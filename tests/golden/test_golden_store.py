"""The golden store: a store written by an earlier swarmstore (``make_golden.py``)
that every later version must open, migrate and restore bit-exactly.

A failure here means a format or schema change forgot the old data: fix the
change (a migration, a reader for the old frames), never the golden store.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from swarmstore import SwarmDatabaseManager
from swarmstore.meta.migrate import HEAD_REVISION, STORE_FORMAT
from tests.golden.make_golden import tensor_sha256

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.embedded_only  # a SQLite file and a blob directory


@pytest.fixture
def golden(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "golden"
    shutil.copytree(HERE / "store_v1", path)
    return path, json.loads((HERE / "manifest.json").read_text())


def test_golden_store_opens_migrates_and_restores_bit_exactly(
    golden: tuple[Path, dict[str, Any]],
) -> None:
    path, expected = golden
    swarm, model = expected["swarm"], expected["model"]
    with SwarmDatabaseManager.open(path, mode="rw", indexing="off") as db:
        report = db.migrate()
        assert report.to_revision == HEAD_REVISION and report.format_version == STORE_FORMAT
        infos = {v.version: v for v in db.list_model_versions(swarm, model)}
        assert set(infos) == set(expected["versions"])
        for version, tensors in expected["versions"].items():
            tensors = dict(tensors)
            assert infos[version].checkpoint_type == tensors.pop("_checkpoint_type")
            record = db.get_neural_model(swarm, model, version)
            assert set(record.weights) == set(tensors), version
            for name, want in tensors.items():
                got = record.weights[name]
                assert str(got.dtype).removeprefix("torch.") == want["dtype"], name
                assert list(got.shape) == want["shape"], name
                assert tensor_sha256(got) == want["sha256"], f"{version}/{name} changed"
            streamed = dict(db.iter_neural_model_tensors(swarm, model, version))
            assert {n: tensor_sha256(t) for n, t in streamed.items()} == {
                n: w["sha256"] for n, w in tensors.items()
            }

        exp = expected["experiment"]
        assert db.get_training_experiment(swarm, exp["id"]).id == exp["id"]
        for key in ("loss", "acc"):
            history = db.get_metric_history(swarm, exp["id"], key)
            assert history.steps.tolist() == list(range(len(exp[key])))
            assert all(
                math.isclose(a, b, rel_tol=0, abs_tol=0)
                for a, b in zip(history.values.tolist(), exp[key], strict=True)
            )

        dataset = db.get_training_dataset(swarm, expected["dataset"]["id"])
        assert dataset.samples.as_array().tolist() == expected["dataset"]["inputs"]

        entry = db.get_registry_entry(swarm, expected["registry"]["id"])
        assert entry.id == expected["registry"]["id"]
        dep = expected["deployment"]
        deployment = db.get_deployment(swarm, dep["id"])
        assert (deployment.version, deployment.environment) == (dep["version"], dep["environment"])
        assert [d.version for d in db.lineage.deployments_of(swarm, model)] == [dep["version"]]

        check = db.check()
        assert check.ok, check

    with SwarmDatabaseManager.open(path, mode="ro") as db:  # migrated: readable read-only
        assert db.check().ok


def test_golden_store_is_small_and_has_no_derived_indexes() -> None:
    root = HERE / "store_v1"
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 2 << 20
    assert not (root / "indexes").exists()
    assert (root / "meta.sqlite3").is_file()
