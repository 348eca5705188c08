"""VectorIndex against real LanceDB tables in temp dirs, with small data."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lancedb")

from swarmstore.errors import InvalidRecordError, StoreClosedError
from swarmstore.index.embedder import DIM, embed_model, tensor_statistics
from swarmstore.index.lance import (
    DATASET_TABLE,
    MODEL_TABLE,
    DatasetVector,
    IndexWriteConflictError,
    ModelVector,
    VectorIndex,
    is_commit_conflict,
    sql_literal,
)


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return np.asarray(v / np.linalg.norm(v, axis=1, keepdims=True), dtype=np.float32)


def model_rows(
    vectors: np.ndarray, *, swarm: str = "s1", prefix: str = "v", start: int = 0
) -> list[ModelVector]:
    return [
        ModelVector(
            id=f"{prefix}{start + i}",
            swarm_id=swarm,
            vector=vec,
            model_id=f"m{i % 3}",
            version=str(i),
            architecture="cnn" if i % 2 else "mlp",
            accuracy=i / len(vectors),
        )
        for i, vec in enumerate(vectors)
    ]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[VectorIndex]:
    with VectorIndex(tmp_path / "vectors", compact_fragments=4, ann_min_rows=256) as ix:
        yield ix


def test_upsert_is_idempotent_and_search_finds_exact_match(index: VectorIndex) -> None:
    vectors = unit_vectors(20)
    assert index.upsert(model_rows(vectors)) == 20
    index.upsert(model_rows(vectors))
    assert index.count(MODEL_TABLE) == 20
    hits = index.search(MODEL_TABLE, vectors[7], limit=3)
    assert hits[0].id == "v7" and hits[0].distance == pytest.approx(0.0, abs=1e-5)
    expected = 1.0 - vectors @ vectors[7]
    assert [h.distance for h in hits] == pytest.approx(sorted(expected)[:3], abs=1e-5)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)


def test_upsert_replaces_by_id_and_last_row_of_a_batch_wins(index: VectorIndex) -> None:
    vectors = unit_vectors(3)
    index.upsert(model_rows(vectors))
    moved = ModelVector("v0", "s1", vectors[2], architecture="transformer")
    index.upsert([ModelVector("v0", "s1", vectors[1]), moved])
    assert index.count(MODEL_TABLE) == 3
    assert index.count(MODEL_TABLE, where="architecture = 'transformer'") == 1
    assert {h.id for h in index.search(MODEL_TABLE, vectors[2], limit=2)} == {"v0", "v2"}


def test_filters_apply_before_the_limit(index: VectorIndex) -> None:
    vectors = unit_vectors(30)
    index.upsert(
        model_rows(vectors[:15], swarm="s1") + model_rows(vectors[15:], swarm="s2", prefix="w")
    )
    hits = index.search(MODEL_TABLE, vectors[0], limit=5, swarm_id="s2")
    assert len(hits) == 5 and all(h.id.startswith("w") for h in hits)
    hits = index.search(
        MODEL_TABLE, vectors[0], limit=50, where="architecture = 'cnn' AND accuracy > 0.5"
    )
    assert hits and all(int(h.id[1:]) % 2 == 1 for h in hits)
    assert index.search(MODEL_TABLE, vectors[0], swarm_id="it's none") == []


def test_delete_by_id_and_datasets_are_separate(index: VectorIndex) -> None:
    vectors = unit_vectors(6)
    index.upsert(model_rows(vectors))
    index.upsert([DatasetVector("d1", "s1", vectors[0], name="mnist", data_type="image")])
    index.delete(MODEL_TABLE, ["v0", "v1", "missing", "o'hara"])
    assert index.count(MODEL_TABLE) == 4
    assert index.count(DATASET_TABLE) == 1
    assert [h.id for h in index.search(DATASET_TABLE, vectors[0], limit=5)] == ["d1"]


@pytest.mark.parametrize(
    "vector",
    [np.zeros(DIM), np.full(DIM, np.nan), np.ones(DIM - 1), np.ones((2, DIM))],
    ids=["zero", "nan", "short", "matrix"],
)
def test_invalid_vectors_write_nothing(index: VectorIndex, vector: np.ndarray) -> None:
    good = model_rows(unit_vectors(2))
    with pytest.raises(InvalidRecordError):
        index.upsert([*good, ModelVector("bad", "s1", vector)])
    assert index.count(MODEL_TABLE) == 0


def test_fragments_are_compacted_past_the_threshold(index: VectorIndex) -> None:
    vectors = unit_vectors(10)
    for row in model_rows(vectors):
        index.upsert([row])
        assert index.fragment_count(MODEL_TABLE) <= index.compact_fragments + 1
    assert index.compact(MODEL_TABLE, force=True)
    assert index.fragment_count(MODEL_TABLE) == 1
    assert not index.compact(MODEL_TABLE)
    assert index.count(MODEL_TABLE) == 10
    assert index.search(MODEL_TABLE, vectors[4], limit=1)[0].id == "v4"


def test_ann_index_is_built_past_the_threshold_and_stays_exact_at_the_top(
    index: VectorIndex,
) -> None:
    vectors = unit_vectors(300, seed=1)
    index.upsert(model_rows(vectors[:200]))
    assert not index.has_ann_index(MODEL_TABLE)
    index.upsert(model_rows(vectors[200:], start=200))
    assert index.has_ann_index(MODEL_TABLE)
    for i in (3, 150, 250):
        top = index.search(MODEL_TABLE, vectors[i], limit=3)[0]
        assert top.id == f"v{i}" and top.distance == pytest.approx(0.0, abs=1e-4)
    assert index.search(MODEL_TABLE, vectors[0], limit=10, where="architecture = 'cnn'")
    late = unit_vectors(1, seed=9)  # not in the index yet: searched exactly
    index.upsert([ModelVector("late", "s1", late[0])])
    assert index.search(MODEL_TABLE, late[0], limit=1)[0].id == "late"
    with pytest.raises(ValueError):
        VectorIndex(index.uri, ann_min_rows=10)


def test_commit_conflicts_are_retried_then_reported(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "v", max_retries=3, retry_delay=0.0)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("lance error: Commit conflict for version 7: concurrent commit")
        return "done"

    assert index._retry(flaky) == "done" and len(calls) == 3
    calls.clear()
    with pytest.raises(IndexWriteConflictError):
        index._retry(lambda: (_ for _ in ()).throw(OSError("Retryable commit conflict")))
    empty: dict[str, str] = {}
    with pytest.raises(KeyError):
        index._retry(lambda: empty["not a conflict"])
    assert is_commit_conflict(RuntimeError("Too much write contention"))
    assert not is_commit_conflict(RuntimeError("Schema error"))


def test_concurrent_writers_on_one_uri(tmp_path: Path) -> None:
    uri = tmp_path / "shared"
    vectors = unit_vectors(40)
    errors: list[BaseException] = []

    def writer(prefix: str) -> None:
        try:
            with VectorIndex(uri, compact_fragments=3) as ix:
                for start in range(0, 40, 8):
                    ix.upsert(model_rows(vectors[start : start + 8], prefix=prefix, start=start))
                ix.delete(MODEL_TABLE, [f"{prefix}0", f"{prefix}1"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    VectorIndex(uri).count(MODEL_TABLE)  # create the tables before the race
    threads = [threading.Thread(target=writer, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert VectorIndex(uri).count(MODEL_TABLE) == 76


def test_reopen_sees_data_and_clear_empties(tmp_path: Path) -> None:
    vectors = unit_vectors(5)
    reader = VectorIndex(tmp_path / "v")
    assert reader.count(MODEL_TABLE) == 0
    with VectorIndex(tmp_path / "v") as writer:
        writer.upsert(model_rows(vectors))
    assert reader.count(MODEL_TABLE) == 5  # another handle's write is visible
    reader.clear()
    assert reader.count(MODEL_TABLE) == 0 and reader.count(DATASET_TABLE) == 0
    reader.close()
    with pytest.raises(StoreClosedError):
        reader.count(MODEL_TABLE)


def test_sql_literal_escapes_quotes() -> None:
    assert sql_literal("o'hara") == "'o''hara'"


def test_fine_tuned_child_ranks_above_unrelated_model(index: VectorIndex) -> None:
    rng = np.random.default_rng(0)

    def model(weights: dict[str, np.ndarray], accuracy: float) -> np.ndarray:
        return embed_model(
            architecture="MLP",
            hyperparameters={"hidden": 128},
            tensors=[(k, "float32", v.shape) for k, v in weights.items()],
            statistics={k: tensor_statistics(v) for k, v in weights.items()},
            metrics={"accuracy": accuracy},
        )

    def init() -> dict[str, np.ndarray]:
        return {
            "fc1.weight": rng.normal(0, 0.1, (128, 64)).astype(np.float32),
            "fc1.bias": np.zeros(128, np.float32),
            "fc2.weight": rng.normal(0, 0.1, (10, 128)).astype(np.float32),
        }

    parent = init()
    child = {k: v + rng.normal(0, 0.02, v.shape).astype(np.float32) for k, v in parent.items()}
    rows = [
        ModelVector("parent", "s", model(parent, 0.90), architecture="MLP"),
        ModelVector("child", "s", model(child, 0.91), architecture="MLP"),
        *(ModelVector(f"other{i}", "s", model(init(), 0.90), architecture="MLP") for i in range(5)),
    ]
    index.upsert(rows)
    hits = index.search(MODEL_TABLE, rows[0].vector, limit=3, where="id != 'parent'")
    assert hits[0].id == "child"
    assert hits[0].distance < hits[1].distance - 0.2
