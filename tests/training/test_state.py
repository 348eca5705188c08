"""Training state survives flatten -> JSON -> unflatten exactly (optimizer, scheduler, RNG)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from swarmstore.errors import InvalidRecordError
from swarmstore.training.state import RngFlattener, capture_rng, flatten, restore_rng, unflatten


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
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
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
    state: dict[str, Any] = {
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


def _numpy_state_now() -> tuple[object, ...]:
    return np.random.get_state()  # type: ignore[return-value]


def _same_numpy_state(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return (
        a[0] == b[0]
        and np.array_equal(a[1], b[1])  # type: ignore[arg-type]
        and a[2:] == b[2:]
    )


def test_numpy_state_is_reused_only_while_the_generator_has_not_moved() -> None:
    np.random.seed(3)
    np.random.rand()
    first = capture_rng()["numpy"]
    assert _same_numpy_state(first, _numpy_state_now())
    if hasattr(np.random, "get_bit_generator"):
        assert capture_rng()["numpy"] is first  # nothing drawn: the last read, not a new one
    np.random.rand()  # a draw moves the words
    moved = capture_rng()["numpy"]
    assert not _same_numpy_state(moved, first)
    assert _same_numpy_state(moved, _numpy_state_now())
    np.random.seed(3)  # reseeding in place
    np.random.rand()
    assert _same_numpy_state(capture_rng()["numpy"], first)


def test_a_pending_gaussian_is_never_lost_or_invented() -> None:
    np.random.seed(4)
    np.random.randn()  # draws two normals, keeps one pending: has_gauss = 1
    pending = capture_rng()["numpy"]
    assert pending[3] == 1
    np.random.randn()  # uses the pending one: same words, has_gauss = 0
    used = capture_rng()["numpy"]
    assert used[3] == 0 and _same_numpy_state(used, _numpy_state_now())
    assert capture_rng()["numpy"][3] == 0
    # restoring the earlier state puts the same words back with a Gaussian pending
    tensors: dict[str, torch.Tensor] = {}
    skeleton = json.loads(json.dumps(flatten("rng", {"numpy": pending}, tensors)))
    restore_rng(unflatten(skeleton, tensors))
    again = capture_rng()["numpy"]
    assert again[3] == 1 and _same_numpy_state(again, _numpy_state_now())
    assert again[4] == pending[4]


def test_the_rng_flattener_gives_what_flatten_gives_as_the_generators_move() -> None:
    flattener = RngFlattener()
    draws: list[Callable[[], object]] = [
        lambda: None,
        random.random,
        np.random.rand,
        lambda: None,
        np.random.randn,  # a Gaussian left pending
        lambda: torch.rand(1),
        lambda: (random.gauss(0, 1), np.random.randn()),
    ]
    for draw in draws:
        draw()
        got: dict[str, torch.Tensor] = {}
        want: dict[str, torch.Tensor] = {}
        skeleton = flattener(got)
        assert json.dumps(skeleton) == json.dumps(flatten("rng", capture_rng(), want))
        assert set(got) == set(want)
        assert all(torch.equal(got[name], want[name]) for name in want)


def test_python_state_follows_the_generator_and_a_pending_gaussian() -> None:
    random.seed(5)
    random.random()
    first = capture_rng()["python"]
    assert first == random.getstate()
    random.random()
    assert capture_rng()["python"] == random.getstate() != first
    random.gauss(0.0, 1.0)  # leaves gauss_next set
    pending = capture_rng()["python"]
    assert pending == random.getstate() and pending[2] is not None
    random.gauss(0.0, 1.0)  # uses gauss_next up without moving the words
    used = capture_rng()["python"]
    assert used == random.getstate() and used[2] is None and used[1] == pending[1]
    restore_rng({"python": pending})  # the same words again, gauss_next back
    assert capture_rng()["python"] == pending == random.getstate()
    assert random.gauss(0.0, 1.0) == pending[2]  # the restored Gaussian comes out next
