"""A checkpoint's contents captured at one instant of the training loop.

``take_snapshot`` is the only part of a save that runs on the training
thread: it reads the model's ``state_dict``, the optimizer's and scheduler's
state and the RNG states, and (for background saves) copies every tensor to
CPU memory the loop no longer touches. Tensors that share storage (tied
weights) stay shared in the copy, so the store still records the alias.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from swarmstore.errors import InvalidRecordError
from swarmstore.training.state import capture_rng, flatten


@dataclass(slots=True)
class TrainingSnapshot:
    """What one save writes: tensors plus the JSON that describes the training state."""

    weights: dict[str, torch.Tensor]
    state: dict[str, torch.Tensor]
    epoch: int
    step: int
    metrics: dict[str, Any]
    non_finite: list[str]
    skeleton: dict[str, Any] = field(default_factory=dict)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(t.shape) for name, t in self.weights.items()}

    @property
    def raw_bytes(self) -> int:
        tensors = [*self.weights.values(), *self.state.values()]
        return sum(t.numel() * t.element_size() for t in tensors)


def state_dict_of(model: Any) -> dict[str, torch.Tensor]:
    """A module's ``state_dict()``, or a mapping of tensors given as is."""
    if isinstance(model, torch.nn.Module):
        return dict(model.state_dict())
    if not isinstance(model, Mapping):
        raise InvalidRecordError(
            f"model must be a torch.nn.Module or a state_dict mapping, not {type(model).__name__}"
        )
    tensors: dict[str, torch.Tensor] = {}
    for name, value in model.items():
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise InvalidRecordError(
                f"state_dict entry {name!r} must be a tensor named by a string, "
                f"not {type(value).__name__}"
            )
        tensors[name] = value
    return tensors


def json_metrics(metrics: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """Numbers kept JSON-safe: non-finite ones become 'nan'/'inf'/'-inf' and are listed."""
    clean: dict[str, Any] = {}
    flagged: list[str] = []
    for name, value in (metrics or {}).items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if hasattr(value, "item") and not isinstance(value, int | float | bool | str):
            try:
                value = value.item()
            except (TypeError, ValueError):
                continue
        if isinstance(value, bool | int):
            clean[str(name)] = value
        elif isinstance(value, float):
            if math.isfinite(value):
                clean[str(name)] = value
            else:
                clean[str(name)] = repr(value)  # 'nan', 'inf', '-inf'
                flagged.append(str(name))
        elif isinstance(value, str):
            clean[str(name)] = value
    return clean, flagged


def _copy_shared(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached CPU copies; tensors that were one storage stay one copy."""
    copies: dict[tuple[Any, ...], torch.Tensor] = {}
    out: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        tensor = tensor.detach()
        key = (tensor.device, tensor.data_ptr(), tensor.dtype, tuple(tensor.shape), tensor.stride())
        if tensor.numel() and key in copies:
            out[name] = copies[key]
            continue
        copy = tensor.to("cpu", copy=True)
        if tensor.numel():
            copies[key] = copy
        out[name] = copy
    return out


def take_snapshot(
    model: Any,
    *,
    epoch: int,
    step: int,
    metrics: Mapping[str, Any] | None = None,
    optimizer: Any = None,
    scheduler: Any = None,
    extra_state: Mapping[str, Any] | None = None,
    copy: bool,
) -> TrainingSnapshot:
    """Capture weights, optimizer/scheduler/RNG state, epoch and step.

    With ``copy`` every tensor is cloned (the loop may change its own right
    after); without it the snapshot aliases the live tensors and must be
    written before the loop goes on.
    """
    weights = state_dict_of(model)
    state: dict[str, torch.Tensor] = {}
    skeleton: dict[str, Any] = {"rng": flatten("rng", capture_rng(), state)}
    if optimizer is not None:
        skeleton["optimizer"] = flatten("optimizer", optimizer.state_dict(), state)
    if scheduler is not None:
        skeleton["scheduler"] = flatten("scheduler", scheduler.state_dict(), state)
    if extra_state:
        skeleton["extra"] = flatten("extra", dict(extra_state), state)
    if copy:
        weights = _copy_shared(weights)
        state = _copy_shared(state)
    else:
        state = {name: t.detach().cpu() for name, t in state.items()}
    clean, flagged = json_metrics(metrics)
    return TrainingSnapshot(weights, state, epoch, step, clean, flagged, skeleton)
