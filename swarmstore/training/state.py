"""Training state (optimizer, scheduler, RNG) as tensors plus a JSON skeleton.

A checkpoint stores tensors in the codec (the ``state`` group) and everything
else in the version's JSON metadata. ``flatten`` walks a nested state (an
optimizer's ``state_dict()`` with int keys and tuples, a scheduler's, numpy's
RNG tuple) and replaces each tensor or array by a reference; ``unflatten``
puts the tensors back, restoring int keys, tuples and non-finite floats, so
``load_state_dict`` gets exactly what ``state_dict`` gave.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from swarmstore.errors import InvalidRecordError

_TENSOR = "__tensor__"
_NDARRAY = "__ndarray__"
_TUPLE = "__tuple__"
_DICT = "__dict__"
_FLOAT = "__float__"
_BYTES = "__bytes__"
_MARKERS = frozenset({_TENSOR, _NDARRAY, _TUPLE, _DICT, _FLOAT, _BYTES})
_PLAIN = frozenset({int, bool, str})
_INT = {int}


def flattens_by_key(value: Any) -> bool:
    """Whether ``flatten`` encodes this value as a dict of its keys' values (the keys are
    strings, none a marker): what a cached part of a skeleton relies on."""
    return type(value) is dict and all(type(k) is str for k in value) and _MARKERS.isdisjoint(value)


def flatten(prefix: str, value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able skeleton of ``value``; its tensors go into ``tensors`` under ``prefix/...``.

    Raises ``InvalidRecordError`` naming the path of a leaf that cannot be
    stored (a function, an arbitrary object).
    """
    kind = type(value)
    if kind in _PLAIN or value is None:  # exact types first: this runs on the training thread
        return value
    if kind is float:
        return value if math.isfinite(value) else {_FLOAT: repr(value)}
    if flattens_by_key(value):
        return {k: flatten(f"{prefix}/{k}", v, tensors) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        tensors[prefix] = value  # detached (or copied) by the caller: one torch call per save
        return {_TENSOR: prefix}
    if isinstance(value, np.ndarray):
        tensors[prefix] = torch.from_numpy(np.ascontiguousarray(value))
        return {_NDARRAY: prefix}
    if isinstance(value, bytes | bytearray):
        tensors[prefix] = torch.frombuffer(bytearray(value), dtype=torch.uint8)
        return {_BYTES: prefix}
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        return flatten(prefix, value.item(), tensors)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {_FLOAT: repr(value)}
    if isinstance(value, tuple | list):
        if not value or set(map(type, value)) == _INT:  # fast: Python's RNG state, shapes
            items: list[Any] = list(value)
        else:
            items = [flatten(f"{prefix}/{i}", v, tensors) for i, v in enumerate(value)]
        return {_TUPLE: items} if isinstance(value, tuple) else items
    if isinstance(value, Mapping):
        keys = list(value.keys())
        if all(isinstance(k, str) for k in keys) and not _MARKERS.intersection(keys):
            return {k: flatten(f"{prefix}/{k}", v, tensors) for k, v in value.items()}
        if all(isinstance(k, str | int | float | bool | tuple) for k in keys):
            return {
                _DICT: [
                    [flatten(f"{prefix}/key{i}", k, tensors), flatten(f"{prefix}/{k}", v, tensors)]
                    for i, (k, v) in enumerate(value.items())
                ]
            }
    raise InvalidRecordError(
        f"training state at {prefix!r} is a {type(value).__name__}, which cannot be checkpointed; "
        "state must be tensors, arrays, numbers, strings and containers of them"
    )


def unflatten(skeleton: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of ``flatten``."""
    if isinstance(skeleton, list):
        return [unflatten(v, tensors) for v in skeleton]
    if not isinstance(skeleton, dict):
        return skeleton
    if len(skeleton) == 1:
        ((key, inner),) = skeleton.items()
        if key == _TENSOR:
            return tensors[inner]
        if key == _NDARRAY:
            return tensors[inner].numpy()
        if key == _BYTES:
            return tensors[inner].numpy().tobytes()
        if key == _FLOAT:
            return float(inner)
        if key == _TUPLE:
            return tuple(unflatten(v, tensors) for v in inner)
        if key == _DICT:
            return {unflatten(k, tensors): unflatten(v, tensors) for k, v in inner}
    return {k: unflatten(v, tensors) for k, v in skeleton.items()}


def capture_rng() -> dict[str, Any]:
    """Python, numpy and torch (CPU and every CUDA device) generator states."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Mapping[str, Any]) -> None:
    """Put back what ``capture_rng`` took (after ``unflatten``)."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        np.random.set_state(tuple(state["numpy"]))
    if "torch" in state:
        torch.set_rng_state(state["torch"].to(torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.to(torch.uint8) for s in state["cuda"]])
