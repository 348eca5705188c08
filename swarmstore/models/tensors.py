"""Tensors in and out as raw bytes: the bridge between torch/numpy and the store.

Input may be a torch ``state_dict``, a mapping of numpy arrays, or the seed's
flat buffers (bytes-like or a 1-d array). Each becomes a ``TensorSource``
that yields its bytes without copying when the tensor is contiguous on the CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from swarmstore.dtypes import DTYPES, dtype_info, from_numpy_name
from swarmstore.errors import InvalidRecordError, UnsupportedDtypeError

FLAT_NAME = "flat"


@dataclass(frozen=True, slots=True)
class TensorSource:
    """One tensor to store: its identity, layout and a byte view of its data."""

    group: str
    name: str
    dtype: str
    shape: tuple[int, ...]
    data: memoryview  # contiguous, format "B", length == byte_length
    alias_of: str | None = None

    @property
    def byte_length(self) -> int:
        return self.data.nbytes


def torch_dtype(name: str) -> torch.dtype:
    dtype_info(name)
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise UnsupportedDtypeError(f"dtype {name!r} is not available in this torch")
    return value


def _torch_bytes(name: str, tensor: torch.Tensor) -> tuple[str, memoryview]:
    if tensor.layout != torch.strided:
        raise UnsupportedDtypeError(f"tensor {name!r} has layout {tensor.layout}; store it dense")
    if tensor.is_quantized:
        raise UnsupportedDtypeError(
            f"tensor {name!r} is quantized ({tensor.dtype}); store its int_repr() and scales"
        )
    dtype = str(tensor.dtype).removeprefix("torch.")
    if dtype not in DTYPES:
        raise UnsupportedDtypeError(f"tensor {name!r} has dtype {dtype!r}, which cannot be stored")
    if tensor.device.type == "meta":
        raise InvalidRecordError(f"tensor {name!r} is on the meta device and has no data")
    flat = tensor.detach()
    if flat.is_conj():
        flat = flat.resolve_conj()
    if flat.is_neg():
        flat = flat.resolve_neg()
    flat = flat.cpu().contiguous().reshape(-1)
    raw = flat.view(torch.uint8) if flat.element_size() != 1 or flat.dtype != torch.uint8 else flat
    return dtype, raw.numpy().data.cast("B")


def _numpy_bytes(name: str, array: np.ndarray) -> tuple[str, memoryview]:
    if array.dtype.hasobject:
        raise UnsupportedDtypeError(f"array {name!r} has object dtype; store numbers, not objects")
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    info = from_numpy_name(array.dtype.name)
    contiguous = np.ascontiguousarray(array).reshape(-1)
    return info.name, contiguous.view(np.uint8).data.cast("B")


def _alias_key(tensor: torch.Tensor) -> tuple[Any, ...] | None:
    if tensor.layout != torch.strided or tensor.numel() == 0 or tensor.device.type == "meta":
        return None
    return (tensor.device, tensor.data_ptr(), tensor.dtype, tuple(tensor.shape), tensor.stride())


def tensor_sources(group: str, value: Any) -> list[TensorSource]:
    """Normalise one ``weights``/``biases`` value into sources, raising on bad input.

    Nothing is written here: every error surfaces before the store is touched.
    """
    if value is None:
        return []
    if isinstance(value, bytes | bytearray | memoryview):
        view = memoryview(value).cast("B")
        return [TensorSource(group, FLAT_NAME, "uint8", (view.nbytes,), view)]
    if isinstance(value, np.ndarray | torch.Tensor):
        value = {FLAT_NAME: value}
    if isinstance(value, list | tuple):
        try:
            array = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidRecordError(
                f"{group} must be numbers, a buffer or a mapping: {exc}"
            ) from None
        value = {FLAT_NAME: array}
    if not isinstance(value, Mapping):
        raise InvalidRecordError(
            f"{group} must be a state_dict, a mapping of arrays or a flat buffer, "
            f"not {type(value).__name__}"
        )
    sources: list[TensorSource] = []
    seen: dict[tuple[Any, ...], str] = {}
    for name, tensor in value.items():
        if not isinstance(name, str) or not name:
            raise InvalidRecordError(
                f"{group} has a tensor name that is not a non-empty string: {name!r}"
            )
        if isinstance(tensor, torch.Tensor):
            key = _alias_key(tensor)
            alias = seen.get(key) if key else None
            dtype, data = _torch_bytes(name, tensor)
            if key and alias is None:
                seen[key] = name
            sources.append(TensorSource(group, name, dtype, tuple(tensor.shape), data, alias))
        elif isinstance(tensor, np.ndarray | np.generic):
            array = np.asarray(tensor)
            dtype, data = _numpy_bytes(name, array)
            sources.append(TensorSource(group, name, dtype, tuple(array.shape), data))
        else:
            raise InvalidRecordError(
                f"{group}[{name!r}] must be a torch.Tensor or numpy array, "
                f"not {type(tensor).__name__}"
            )
    return sources


def tensor_from_bytes(
    buffer: bytearray | torch.Tensor, dtype: str, shape: tuple[int, ...]
) -> torch.Tensor:
    """A torch tensor over ``buffer`` (no copy for a bytearray)."""
    target = torch_dtype(dtype)
    if isinstance(buffer, torch.Tensor):
        raw = buffer
    elif len(buffer) == 0:
        return torch.empty(shape, dtype=target)
    else:
        raw = torch.frombuffer(buffer, dtype=torch.uint8)
    if target != torch.uint8:
        raw = raw.view(target)
    return raw.reshape(shape)
