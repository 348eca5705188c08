"""Training state (optimizer, scheduler, RNG) as tensors plus a JSON skeleton.

A checkpoint stores tensors in the codec (the ``state`` group) and everything
else in the version's JSON metadata. ``flatten`` walks a nested state (an
optimizer's ``state_dict()`` with int keys and tuples, a scheduler's, numpy's
RNG tuple) and replaces each tensor or array by a reference; ``unflatten``
puts the tensors back, restoring int keys, tuples and non-finite floats, so
``load_state_dict`` gets exactly what ``state_dict`` gave.
"""

from __future__ import annotations

import ctypes
import math
import random
import sys
from collections.abc import Callable, Mapping
from typing import Any, cast

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


class _NumpyState:
    """``np.random.get_state()``, read again only when numpy's generator has moved.

    ``get_state`` copies the 624 Mersenne Twister words one Python call at a
    time (the dearest part of a snapshot's RNG capture), and most
    training loops never touch numpy's global generator between two
    checkpoints. So the raw words and position are read straight from the
    generator (2.5 KB, one copy) and compared with those of the last full read;
    equal means nothing was drawn since then. The legacy state also holds a
    pending Gaussian (``has_gauss``, ``gauss``) that no raw word shows: a draw
    can use it up without moving the words, so the last read is reused only
    when it had none pending (no draw can make one without moving the words).
    ``set_state`` can (restoring a state whose words are the same but with a
    Gaussian pending), so ``restore_rng`` drops the cached read, and so does
    reseeding through a new generator object. The raw layout is checked
    against ``get_state`` on first use; any mismatch turns the shortcut off.
    """

    _RAW = 624 * 4 + 4  # mt19937_state: uint32 key[624]; int pos

    def __init__(self) -> None:
        # (generator, raw words, state) of the last full read, replaced as one (threads)
        self._last: tuple[Any, bytes, tuple[Any, ...]] | None = None
        self._usable: bool | None = None  # None: layout not checked yet

    def get(self) -> tuple[Any, ...]:
        generator, raw = self._read_raw()
        last = self._last
        if (
            raw
            and last is not None
            and generator is last[0]
            and raw == last[1]
            and not last[2][3]  # no Gaussian was pending at the last full read
        ):
            return last[2]
        state = cast(tuple[Any, ...], np.random.get_state())  # legacy=True: the tuple
        if raw and self._usable is None:
            self._usable = self._layout_matches(raw, state)
        self._last = (generator, raw, state) if raw and self._usable else None
        return state

    def forget(self) -> None:
        self._last = None

    def _read_raw(self) -> tuple[Any, bytes]:
        if self._usable is False:
            return None, b""
        try:
            from numpy.random.mtrand import get_bit_generator  # numpy >= 1.25

            generator = get_bit_generator()
            if type(generator).__name__ != "MT19937":
                return None, b""
            return generator, ctypes.string_at(generator.ctypes.state_address, self._RAW)
        except (ImportError, AttributeError, TypeError, ValueError):  # an older numpy: no shortcut
            self._usable = False
            return None, b""

    @classmethod
    def _layout_matches(cls, raw: bytes, state: tuple[Any, ...]) -> bool:
        words = np.frombuffer(raw, dtype=np.uint32, count=624)
        position = int.from_bytes(raw[624 * 4 :], sys.byteorder, signed=True)
        return state[0] == "MT19937" and np.array_equal(words, state[1]) and position == state[2]


_numpy_state = _NumpyState()


def cuda_initialized() -> bool:
    """``torch.cuda.is_initialized()``, typed (torch leaves it unannotated)."""
    initialized: Callable[[], bool] = torch.cuda.is_initialized
    return initialized()


def capture_rng() -> dict[str, Any]:
    """Python, numpy and torch (CPU and every CUDA device) generator states."""
    state: dict[str, Any] = {
        # 625 ints: cheaper shortcuts would read CPython's private struct
        "python": random.getstate(),
        "numpy": _numpy_state.get(),
        "torch": torch.get_rng_state(),
    }
    # is_initialized first: a free check where CUDA was never used (is_available asks the driver)
    if cuda_initialized() and torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


class RngFlattener:
    """``flatten("rng", capture_rng(), tensors)``, reusing the parts that did not change.

    Python's state is 625 ints that ``flatten`` type-checks one by one, numpy's
    is an array that becomes a tensor: both stay the same between checkpoints
    of a loop that draws from neither, so their skeletons (and numpy's tensor,
    which nothing writes to) are kept while the state compares equal.
    """

    def __init__(self) -> None:
        self._python: tuple[Any, Any] | None = None
        self._numpy: tuple[Any, Any, dict[str, torch.Tensor]] | None = None

    def __call__(self, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
        skeleton: dict[str, Any] = {}
        for key, value in capture_rng().items():
            if key == "python":
                python = self._python
                if python is None or python[0] != value:
                    found: dict[str, torch.Tensor] = {}
                    python = (value, flatten("rng/python", value, found))
                    self._python = None if found else python
                    tensors.update(found)
                skeleton[key] = python[1]
            elif key == "numpy":
                numpy = self._numpy
                if numpy is None or numpy[0] is not value:  # _NumpyState hands back its last read
                    found = {}
                    numpy = self._numpy = (value, flatten("rng/numpy", value, found), found)
                skeleton[key] = numpy[1]
                tensors.update(numpy[2])
            else:
                skeleton[key] = flatten(f"rng/{key}", value, tensors)
        return skeleton


def restore_rng(state: Mapping[str, Any]) -> None:
    """Put back what ``capture_rng`` took (after ``unflatten``)."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        np.random.set_state(tuple(state["numpy"]))
        _numpy_state.forget()
    if "torch" in state:
        torch.set_rng_state(state["torch"].to(torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.to(torch.uint8) for s in state["cuda"]])
