"""Dataset versions in the store: samples round-trip through the blob store,
statistics/quality/splits made by the store, versions and lineage, imports,
typed errors that leave the store unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sqlalchemy import select

from swarmstore import SwarmDatabaseManager
from swarmstore.datasets.importers import ImportFormatError
from swarmstore.datasets.torch_dataset import SampleDataset
from swarmstore.errors import (
    CorruptDataError,
    DatasetNotFoundError,
    DatasetVersionExistsError,
    InvalidRecordError,
)
from swarmstore.meta.lineage import DATASET, DATASET_PARENT_OF, node_key
from swarmstore.meta.log import outbox_since
from swarmstore.meta.tables_lineage import LineageEdgeRow
from swarmstore.records.dataset import InvalidSplitError
from tests.conftest import store_snapshot


def _record(n: int = 60, **extra: Any) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    return {
        "id": "dataset_001",
        "name": "CIFAR-10 Enhanced",
        "description": "Augmented",
        "dataType": "supervised",
        "format": "image",
        "samples": {
            "inputs": [rng.standard_normal((3, 8, 8)).astype(np.float32) for _ in range(n)],
            "labels": [f"class_{i % 3}" for i in range(n)],
            "metadata": [{"source": i} for i in range(n)],
        },
        "preprocessing": {"normalization": "z-score", "augmentation": ["rotation", "flip"]},
        **extra,
    }


def test_samples_round_trip_bit_exactly_and_read_as_numpy_and_torch(
    db: SwarmDatabaseManager,
) -> None:
    record = _record()
    record["samples"]["inputs"][0][0, 0, 0] = np.float32(-0.0)
    stored = db.store_training_dataset("s", record)
    assert stored.version == "1" and stored.swarm_id == "s"
    got = db.get_training_dataset("s", "dataset_001")
    original = np.stack(record["samples"]["inputs"])
    assert got.samples.as_array().tobytes() == original.tobytes()  # -0.0 survives
    assert got.samples.labels == record["samples"]["labels"]
    assert got.samples.metadata == [{"source": i} for i in range(60)]
    assert got.preprocessing.augmentation == ["rotation", "flip"]
    train: SampleDataset = got.torch_dataset("training")
    x, y = train[0]
    assert isinstance(train, torch.utils.data.Dataset) and x.shape == (3, 8, 8)
    assert y.dtype == torch.int64 and len(train) == len(got.splits.training)
    meta_only = db.get_training_dataset("s", "dataset_001", include_samples=False)
    assert len(meta_only.samples) == 0 and meta_only.statistics.total_samples == 60


@pytest.mark.parametrize(
    ("fmt", "inputs"),
    [
        ("text", ["a cat", "a dog", ""]),
        ("audio", [b"RIFF\x00\x01", np.zeros(16, np.int16), b"\xff"]),
        ("graph", [np.array([[0, 1], [1, 2]]), np.array([[0, 0]]), np.zeros((0, 2), np.int64)]),
        (
            "tensor",
            [
                np.array([1, np.nan], np.float64),
                np.array([0, 1], np.float64),
                np.array([0, 1], np.float64),
            ],
        ),
    ],
)
def test_every_format_round_trips(db: SwarmDatabaseManager, fmt: str, inputs: list[Any]) -> None:
    record = {"id": f"d_{fmt}", "name": fmt, "dataType": "unsupervised", "format": fmt}
    db.store_training_dataset("s", {**record, "samples": {"inputs": inputs}})
    got = db.get_training_dataset("s", f"d_{fmt}").samples.inputs
    for a, b in zip(got, inputs, strict=True):
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
        else:
            assert a == b


def test_statistics_quality_and_splits_are_made_by_the_store(db: SwarmDatabaseManager) -> None:
    record = _record(90)
    record["samples"]["inputs"][5] = record["samples"]["inputs"][4]  # a duplicate
    record["samples"]["labels"][4] = record["samples"]["labels"][5]
    record["samples"]["labels"][7] = None  # a missing label
    stored = db.store_training_dataset("s", record, split_seed=7, stratify=True)
    stats = stored.statistics
    assert stats.total_samples == 90 and stats.input_dimensions == [3, 8, 8]
    assert stats.quality is not None
    assert stats.quality.duplicate_samples == 1 and stats.quality.missing_labels == 1
    assert stats.quality_score is not None
    assert 0.0 < stats.quality_score < 1.0
    assert sum(stats.data_distribution.values()) == 89
    splits = stored.splits
    all_indices = splits.training + splits.validation + splits.test
    assert sorted(all_indices) == list(range(90))  # complete and disjoint
    assert (len(splits.training), len(splits.validation), len(splits.test)) == (72, 9, 9)
    again = db.store_training_dataset("s", {**record, "id": "copy"}, split_seed=7, stratify=True)
    assert again.splits == splits  # reproducible
    other = db.store_training_dataset("s", {**record, "id": "other"}, split_seed=8)
    assert other.splits != splits
    given = db.store_training_dataset(
        "s", {**_record(10), "id": "given", "statistics": {"qualityScore": 0.5}}
    )
    assert given.statistics.quality_score == 0.5  # given fields win


def test_versions_parents_lineage_events_and_outbox(
    db: SwarmDatabaseManager,
) -> None:
    seen: list[dict[str, Any]] = []
    db.on("training_dataset_stored", seen.append)
    db.store_training_dataset("s", _record(30))
    second = db.store_training_dataset("s", _record(20))
    assert (second.version, second.parent_version) == ("2", "1")
    named = db.store_training_dataset("s", {**_record(10), "version": "v-x", "parentVersion": "1"})
    assert named.parent_version == "1"
    assert [v.version for v in db.list_dataset_versions("s", "dataset_001")] == ["1", "2", "v-x"]
    assert db.get_training_dataset("s", "dataset_001").version == "v-x"  # latest
    assert db.get_training_dataset("s", "dataset_001", "1").statistics.total_samples == 30
    assert [e["version"] for e in seen] == ["1", "2", "v-x"]
    with db._meta.read() as session:
        edges = set(
            session.execute(
                select(LineageEdgeRow.src, LineageEdgeRow.dst).where(
                    LineageEdgeRow.rel == DATASET_PARENT_OF
                )
            ).all()
        )
        topics = [r.topic for r in outbox_since(session, 0)]
    key: Callable[[str], str] = lambda v: node_key(DATASET, "s", "dataset_001", v)  # noqa: E731
    assert edges == {(key("1"), key("2")), (key("1"), key("v-x"))}
    assert topics.count("dataset_version.upserted") == 3


def test_bad_datasets_raise_typed_errors_and_write_nothing(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    db.store_training_dataset("s", {**_record(10), "version": "1"})
    before = store_snapshot(store_path)
    overlap = {"training": [0, 1, 2], "validation": [2, 3], "test": []}
    with pytest.raises(InvalidSplitError) as info:
        db.store_training_dataset("s", {**_record(10), "id": "x", "splits": overlap})
    assert "splits.validation" in str(info.value.field)
    with pytest.raises(InvalidSplitError):
        db.store_training_dataset("s", {**_record(10), "id": "x", "splits": {"training": [0, 10]}})
    with pytest.raises(DatasetVersionExistsError):
        db.store_training_dataset("s", {**_record(10), "version": "1"})
    with pytest.raises(DatasetNotFoundError):
        db.store_training_dataset("s", {**_record(10), "id": "y", "parentVersion": "0"})
    with pytest.raises(InvalidRecordError):
        db.store_training_dataset("s", {**_record(10), "id": "bad/id"})
    with pytest.raises(InvalidRecordError):
        db.store_training_dataset("s", {**_record(10), "format": "text"})  # arrays as text
    with pytest.raises(DatasetNotFoundError):
        db.get_training_dataset("s", "dataset_001", "9")
    with pytest.raises(DatasetNotFoundError):
        db.list_dataset_versions("s", "nothing")
    assert store_snapshot(store_path) == before


@pytest.mark.embedded_only
def test_a_damaged_samples_blob_is_reported_not_returned(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    db.store_training_dataset("s", _record(10))
    blob = next(p for p in (store_path / "blobs").rglob("*") if p.is_file())
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    with pytest.raises(CorruptDataError):
        db.get_training_dataset("s", "dataset_001")


def test_import_jsonl_csv_and_text_with_duplicates_removed(
    db: SwarmDatabaseManager, tmp_path: Path
) -> None:
    jsonl = tmp_path / "pairs.jsonl"
    rows = [{"input": [1.0, 2.0], "label": "a"}, {"input": [1.0, 2.0], "label": "a"}]
    rows += [{"input": [float(i), 0.0], "label": "b"} for i in range(8)]
    jsonl.write_text("\n".join(json.dumps(r) for r in rows))
    imported = db.import_training_dataset(
        "s", jsonl, label_key="label", dtype="float32", deduplicate=True
    )
    assert imported.id == "pairs" and imported.format == "tensor"
    assert imported.statistics.total_samples == 9 and imported.data_type == "supervised"
    csv_file = tmp_path / "table.csv"
    csv_file.write_text("x,y,label\n1,2,a\n3,4,b\n5,6,a\n")
    table = db.import_training_dataset("s", csv_file, label_column="label", dataset_id="tab")
    assert db.get_training_dataset("s", "tab").samples.as_array().tolist() == [
        [1, 2],
        [3, 4],
        [5, 6],
    ]
    assert table.statistics.data_distribution == {"a": 2.0, "b": 1.0}
    text = tmp_path / "lines.txt"
    text.write_text("hello\nworld\nhello\n")
    lines = db.import_training_dataset("s", text, deduplicate=True)
    assert lines.format == "text" and lines.samples.inputs == ["hello", "world"]


def test_a_bad_import_line_names_its_number_and_writes_nothing(
    db: SwarmDatabaseManager, tmp_path: Path, store_path: Path
) -> None:
    before = store_snapshot(store_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": [1]}\n\n{"input": [2]\n')
    with pytest.raises(ImportFormatError) as info:
        db.import_training_dataset("s", bad)
    assert info.value.line == 3 and "bad.jsonl:3" in str(info.value)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("x,y\n1,2\n3,oops\n")
    with pytest.raises(ImportFormatError) as info_csv:
        db.import_training_dataset("s", bad_csv)
    assert info_csv.value.line == 3
    with pytest.raises(InvalidRecordError):
        db.import_training_dataset("s", tmp_path / "missing.jsonl")
    assert store_snapshot(store_path) == before


def test_gc_keeps_the_samples_of_stored_datasets(db: SwarmDatabaseManager) -> None:
    db.store_training_dataset("s", _record(5))
    db.gc(grace_seconds=0)
    assert db.get_training_dataset("s", "dataset_001").statistics.total_samples == 5


@pytest.mark.embedded_only  # damages blob files on disk
def test_check_verifies_dataset_sample_blobs(db: SwarmDatabaseManager) -> None:
    db.store_training_dataset("s", _record(5))
    assert db.check().ok
    for path in (db.config.resolved_blob_path).rglob("*"):
        if path.is_file():
            path.chmod(0o644)
            path.write_bytes(path.read_bytes()[:-1])  # truncate every blob
    report = db.check()
    assert any(p.startswith("datasets: blob") and "expected" in p for p in report.problems)
