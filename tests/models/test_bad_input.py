"""Bad input: a typed error naming the offender, and the store unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from swarmstore import (
    InvalidIdentifierError,
    InvalidRecordError,
    ModelNotFoundError,
    StoreClosedError,
    SwarmDatabaseManager,
    SwarmStoreError,
    UnsupportedDtypeError,
    VersionExistsError,
)
from tests.conftest import model_record, small_state_dict, store_snapshot


@pytest.fixture
def seeded(db: SwarmDatabaseManager) -> SwarmDatabaseManager:
    db.store_neural_model("s", model_record("v1", small_state_dict()))
    return db


def _quantized() -> torch.Tensor:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized dtypes are deprecated in torch
        return torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.qint8)


BAD_CASES: list[tuple[str, Any, Any, type[SwarmStoreError], str]] = [
    ("existing version", "s", model_record("v1", small_state_dict(1)), VersionExistsError, "v1"),
    (
        "missing parent",
        "s",
        model_record("v2", small_state_dict(1), parentVersion="nope"),
        ModelNotFoundError,
        "nope",
    ),
    (
        "slash in model id",
        "s",
        model_record("v2", small_state_dict(), model_id="a/b"),
        InvalidIdentifierError,
        "a/b",
    ),
    ("dotdot version", "s", model_record("..", small_state_dict()), InvalidIdentifierError, ".."),
    (
        "control char in swarm",
        "s\x00x",
        model_record("v2", small_state_dict()),
        InvalidIdentifierError,
        "swarm_id",
    ),
    (
        "newline in version",
        "s",
        model_record("v\n2", small_state_dict()),
        InvalidIdentifierError,
        "version",
    ),
    ("empty swarm", "", model_record("v2", small_state_dict()), InvalidIdentifierError, "swarm_id"),
    (
        "too long id",
        "s",
        model_record("v2", small_state_dict(), model_id="m" * 201),
        InvalidIdentifierError,
        "201",
    ),
    ("empty weights", "s", model_record("v2", {}), InvalidRecordError, "no weights"),
    ("weights of wrong type", "s", model_record("v2", 42), InvalidRecordError, "int"),
    ("tensor of wrong type", "s", model_record("v2", {"w": [1, 2]}), InvalidRecordError, "w"),
    (
        "object array",
        "s",
        model_record("v2", {"w": np.array([object()])}),
        UnsupportedDtypeError,
        "w",
    ),
    (
        "sparse tensor",
        "s",
        model_record("v2", {"w": torch.eye(3).to_sparse()}),
        UnsupportedDtypeError,
        "w",
    ),
    ("quantized tensor", "s", model_record("v2", {"q": _quantized()}), UnsupportedDtypeError, "q"),
    ("record not a mapping", "s", ["not", "a", "record"], InvalidRecordError, "list"),
    (
        "unknown field",
        "s",
        {**model_record("v2", small_state_dict()), "wieghts": 1},
        InvalidRecordError,
        "wieghts",
    ),
    (
        "wrong field type",
        "s",
        {**model_record("v2", small_state_dict()), "tags": "x"},
        InvalidRecordError,
        "tags",
    ),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    ("case", "swarm", "record", "error", "named"), BAD_CASES, ids=[c[0] for c in BAD_CASES]
)
def test_bad_input_raises_typed_error_and_writes_nothing(
    seeded: SwarmDatabaseManager,
    store_path: Path,
    case: str,
    swarm: str,
    record: Any,
    error: type[Exception],
    named: str,
) -> None:
    before = store_snapshot(store_path)
    with pytest.raises(error) as raised:
        seeded.store_neural_model(swarm, record)
    assert named in str(raised.value), f"{case}: message {raised.value!s} does not name {named!r}"
    assert store_snapshot(store_path) == before


def test_errors_are_builtin_types_too(seeded: SwarmDatabaseManager) -> None:
    with pytest.raises(KeyError):
        seeded.get_neural_model("s", "no-such-model")
    with pytest.raises(ModelNotFoundError) as raised:
        seeded.get_neural_model("s", "model_001", "v9")
    assert raised.value.fields == {"swarm_id": "s", "model_id": "model_001", "version": "v9"}  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        seeded.store_neural_model("s", model_record("v1", small_state_dict()))


def test_use_after_close_is_a_typed_error(store_path: Path) -> None:
    db = SwarmDatabaseManager.open(store_path)
    db.close()
    with pytest.raises(StoreClosedError):
        db.get_neural_model("s", "m")


def test_bad_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRecordError, match="compression"):
        SwarmDatabaseManager.open(tmp_path, compression="brotli")
    with pytest.raises(InvalidRecordError, match="keyframe_interval"):
        SwarmDatabaseManager.open(tmp_path, keyframe_interval=0)
