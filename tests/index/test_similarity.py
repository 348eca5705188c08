"""find_similar_models / find_similar_datasets through the real store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("lancedb")
pytest.importorskip("kuzu")

from swarmstore import InvalidRecordError, ModelNotFoundError, SwarmDatabaseManager
from swarmstore.errors import LineageNodeNotFoundError
from swarmstore.index.lance import DATASET_TABLE
from swarmstore.meta import lineage as ln
from swarmstore.meta.log import append_outbox


class Net(nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc2(torch.relu(self.fc1(x)))
        return out


def train(net: Net, steps: int, seed: int) -> dict[str, torch.Tensor]:
    """A few real SGD steps on a fixed toy task (a fine-tune, not noise)."""
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(256, 16, generator=g), torch.randint(0, 4, (256,), generator=g)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()  # type: ignore[no-untyped-call]
        opt.step()
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def record(
    model_id: str, version: str, weights: dict[str, torch.Tensor], **extra: object
) -> dict[str, Any]:
    return {
        "id": model_id,
        "agentId": "a",
        "version": version,
        "architecture": extra.pop("architecture", "mlp"),
        "hyperparameters": {"lr": 0.05, "hidden": 32},
        "weights": weights,
        **extra,
    }


@pytest.fixture
def db(store_path: Path) -> SwarmDatabaseManager:
    db = SwarmDatabaseManager.open(store_path, durability="normal")
    base = Net(seed=1)
    db.store_neural_model(
        "s", record("base", "v1", train(base, 30, 0), metadata={"accuracy": 0.71})
    )
    db.store_neural_model(  # fine-tuned child: same model, a few more steps on new data
        "s",
        record("base", "v2", train(base, 10, 5), parentVersion="v1", metadata={"accuracy": 0.74}),
    )
    db.store_neural_model(  # same architecture, trained from another initialisation
        "s", record("stranger", "v1", train(Net(seed=2), 30, 0), metadata={"accuracy": 0.72})
    )
    db.store_neural_model(
        "s",
        record(
            "conv",
            "v1",
            {"conv1.weight": torch.randn(8, 3, 3, 3), "conv1.bias": torch.zeros(8)},
            architecture="cnn",
            metadata={"accuracy": 0.9},
        ),
    )
    return db


def test_fine_tuned_child_ranks_above_an_unrelated_model_of_the_same_architecture(
    db: SwarmDatabaseManager,
) -> None:
    matches = db.find_similar_models("s", "base", "v1", threshold=-1.0, limit=10)
    names = [(m.model_id, m.version) for m in matches]
    assert names.index(("base", "v2")) < names.index(("stranger", "v1"))
    child, stranger = matches[names.index(("base", "v2"))], matches[names.index(("stranger", "v1"))]
    assert child.score > stranger.score
    assert child.relation == "child"
    assert set(child.reasons) >= {"architecture", "weights", "lineage"}
    assert "architecture" in stranger.reasons and "weights" not in stranger.reasons
    assert stranger.relation is None and "lineage" not in stranger.reasons
    assert ("base", "v1") not in names  # never the target itself
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)


def test_threshold_and_filters(db: SwarmDatabaseManager) -> None:
    default = db.find_similar_models("s", "base", "v1")  # threshold 0.8
    assert [(m.model_id, m.version) for m in default] == [("base", "v2")]
    assert all(m.score >= 0.8 for m in default)
    assert {m.model_id for m in db.find_similar_models("s", "base", "v1", threshold=-1)} == {
        "base",
        "stranger",
        "conv",
    }
    only_cnn = db.find_similar_models("s", "base", "v1", threshold=-1, architecture="cnn")
    assert [m.model_id for m in only_cnn] == ["conv"]
    accurate = db.find_similar_models("s", "base", "v1", threshold=-1, min_accuracy=0.73)
    assert {m.model_id for m in accurate} == {"base", "conv"}
    unrelated = db.find_similar_models("s", "base", "v1", threshold=-1, relation="unrelated")
    assert {m.model_id for m in unrelated} == {"stranger", "conv"}
    assert len(db.find_similar_models("s", "base", "v1", threshold=-1, limit=1)) == 1
    # version=None is the latest version: v2, whose parent v1 matches best.
    latest = db.find_similar_models("s", "base", threshold=-1, relation="ancestor")
    assert [(m.version, m.relation) for m in latest] == [("v1", "parent")]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"limit": 0}, InvalidRecordError),
        ({"threshold": 2.0}, InvalidRecordError),
        ({"relation": "cousin"}, InvalidRecordError),
        ({"min_accuracy": "high"}, InvalidRecordError),
        ({"version": "v9"}, ModelNotFoundError),
    ],
)
def test_bad_similarity_arguments_raise_typed_errors(
    db: SwarmDatabaseManager, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        db.find_similar_models("s", "base", **kwargs)
    with pytest.raises(ModelNotFoundError):
        db.find_similar_models("s", "nobody")


def record_dataset(
    db: SwarmDatabaseManager,
    dataset_id: str,
    version: str,
    props: dict[str, Any],
    parent: str | None,
) -> None:
    """What a dataset write records: its lineage node (props) and an outbox row."""
    now = datetime.now(UTC)
    key = ln.node_key(ln.DATASET, "s", dataset_id, version)
    with db._meta.write() as session:
        ln.upsert_node(session, ln.DATASET, key, "s", props, now)
        if parent is not None:
            src = ln.node_key(ln.DATASET, "s", dataset_id, parent)
            ln.add_edge(session, src, ln.DATASET_PARENT_OF, key, "s", now)
        payload = {"swarm_id": "s", "dataset_id": dataset_id, "version": version}
        append_outbox(
            session, "dataset_version.upserted", f"s/{dataset_id}/{version}", payload, now
        )
    db._indexer.run_pending()


def test_similar_datasets_rank_by_schema_size_and_lineage(store_path: Path) -> None:
    db = SwarmDatabaseManager.open(store_path, durability="normal")
    image = {"name": "cifar", "data_type": "image", "num_samples": 50_000}
    record_dataset(db, "cifar", "1", image, None)
    record_dataset(db, "cifar", "2", {**image, "num_samples": 52_000}, "1")
    text = {"name": "reviews", "data_type": "text", "num_samples": 900}
    record_dataset(db, "reviews", "1", text, None)
    matches = db.find_similar_datasets("s", "cifar", threshold=-1)  # latest: version 2
    assert [(m.dataset_id, m.version) for m in matches] == [("cifar", "1"), ("reviews", "1")]
    assert matches[0].relation == "parent" and "lineage" in matches[0].reasons
    assert matches[0].score > matches[1].score
    only_text = db.find_similar_datasets("s", "cifar", "1", threshold=-1, data_type="text")
    assert [m.dataset_id for m in only_text] == ["reviews"]
    rows = db._indexer.vectors().get_rows(
        DATASET_TABLE, [ln.node_key(ln.DATASET, "s", "cifar", "1")], columns=("id", "embedder")
    )
    assert next(iter(rows.values()))["embedder"].endswith("+lineage-only")
    with pytest.raises(LineageNodeNotFoundError):
        db.find_similar_datasets("s", "mnist")
    assert db.check().ok


def dataset(
    dataset_id: str, data_type: str, fmt: str, n: int, classes: int, **extra: object
) -> dict[str, Any]:
    rng = np.random.default_rng(len(dataset_id))
    return {
        "id": dataset_id,
        "name": dataset_id,
        "dataType": data_type,
        "format": fmt,
        "samples": {
            "inputs": [
                f"message {i}" if fmt == "text" else rng.standard_normal((3, 4, 4)).astype("f4")
                for i in range(n)
            ],
            "labels": [f"class_{i % classes}" for i in range(n)],
        },
        **extra,
    }


def test_similar_datasets_from_the_real_dataset_store(db: SwarmDatabaseManager) -> None:
    db.store_training_dataset("s", dataset("cifar", "supervised", "image", 60, 3))
    db.store_training_dataset(
        "s", dataset("cifar", "supervised", "image", 64, 3, version="2", parentVersion="1")
    )
    db.store_training_dataset("s", dataset("chat", "unsupervised", "text", 20, 1))
    db.sync_indexes()
    rows = db._indexer.vectors().get_rows(
        DATASET_TABLE,
        [ln.node_key(ln.DATASET, "s", "cifar", "2")],
        columns=("id", "embedder"),
    )
    assert not next(iter(rows.values()))["embedder"].endswith("+lineage-only")  # from the record
    matches = db.find_similar_datasets("s", "cifar", threshold=-1)
    assert matches[0].dataset_id == "cifar" and matches[0].relation == "parent"
    assert matches[0].score > matches[-1].score and matches[-1].dataset_id == "chat"
    assert db.check().ok
