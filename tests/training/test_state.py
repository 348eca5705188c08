"""Training state survives flatten -> JSON -> unflatten exactly (optimizer, scheduler, RNG)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from swarmstore.errors import InvalidRecordError
from swarmstore.training.state import capture_rng, flatten, restore_rng, unflatten


def _trained_optimizer(kind: str) -> tuple[torch.nn.Module, torch.optim.Optimizer, object]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    if kind == "adam":
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    for _ in range(3):
        model(torch.randn(2, 4)).sum().backward()
        optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler


def _equal(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))  # type: ignore[arg-type]
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_optimizer_and_scheduler_state_round_trip_through_json(kind: str) -> None:
    _model, optimizer, scheduler = _trained_optimizer(kind)
    states = (optimizer.state_dict(), scheduler.state_dict())  # type: ignore[attr-defined]
    for position, state in enumerate(states):
        tensors: dict[str, torch.Tensor] = {}
        skeleton = json.loads(json.dumps(flatten("s", state, tensors), allow_nan=False))
        assert bool(tensors) == (position == 0), "optimizer tensors leave the skeleton"
        assert _equal(state, unflatten(skeleton, tensors))


def test_int_keys_tuples_nonfinite_and_bytes_are_restored() -> None:
    state = {
        "state": {0: {"step": torch.tensor(3.0)}, 7: {}},
        "betas": (0.9, 0.999),
        "bad": float("nan"),
        "big": float("-inf"),
        "blob": b"\x00\x01\xff",
        "np": np.arange(5, dtype=np.uint32),
        "scalar": np.float64(1.5),
        "__tuple__": 1,
    }
    tensors: dict[str, torch.Tensor] = {}
    back = unflatten(json.loads(json.dumps(flatten("x", state, tensors))), tensors)
    assert list(back["state"]) == [0, 7]
    assert back["betas"] == (0.9, 0.999)
    assert np.isnan(back["bad"]) and back["big"] == float("-inf")
    assert back["blob"] == b"\x00\x01\xff"
    assert np.array_equal(back["np"], state["np"]) and back["np"].dtype == np.uint32
    assert back["scalar"] == 1.5 and back["__tuple__"] == 1


def test_a_leaf_that_cannot_be_stored_is_named() -> None:
    with pytest.raises(InvalidRecordError, match=r"optimizer/param_groups/0/fn"):
        flatten("optimizer", {"param_groups": [{"fn": lambda x: x}]}, {})


def test_rng_state_restores_python_numpy_and_torch_streams() -> None:
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    random.random(), np.random.rand(), torch.rand(1)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = json.loads(json.dumps(flatten("rng", capture_rng(), tensors)))
    expected = (random.random(), float(np.random.rand()), torch.rand(3))
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    restore_rng(unflatten(skeleton, tensors))
    got = (random.random(), float(np.random.rand()), torch.rand(3))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])
