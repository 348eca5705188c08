"""A checkpoint's contents captured at one instant of the training loop.

``take_snapshot`` is the only part of a save that runs on the training
thread: it reads the model's ``state_dict``, the optimizer's and scheduler's
state and the RNG states, and (for background saves) copies every tensor to
CPU memory the loop no longer touches. Tensors that share storage (tied
weights) stay shared in the copy, so the store still records the alias.

A background snapshot makes as few torch calls as it can: every torch call
lets go of the GIL, and while the save worker runs Python (SQL, the codec's
orchestration) taking it back can cost up to ``sys.getswitchinterval()``.
So the state_dict is read with ``keep_vars`` (no ``detach`` per
tensor) and all tensors are copied by one ``torch._foreach_copy_``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from swarmstore.errors import InvalidRecordError
from swarmstore.training.plan import (
    STATE,
    BufferSet,
    SnapshotPlan,
    SnapshotPlanner,
    buffer_for,
    copy_all,
    signature_of,
)
from swarmstore.training.state import capture_rng, flatten, flattens_by_key


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
    weight_shapes: dict[str, tuple[int, ...]] | None = None  # a plan's, shared while it holds

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        if self.weight_shapes is not None:
            return self.weight_shapes
        return {name: tuple(t.shape) for name, t in self.weights.items()}

    @property
    def raw_bytes(self) -> int:
        tensors = [*self.weights.values(), *self.state.values()]
        return sum(t.numel() * t.element_size() for t in tensors)


def state_dict_of(model: Any, *, keep_vars: bool = False) -> dict[str, torch.Tensor]:
    """A module's ``state_dict()``, or a mapping of tensors given as is.

    ``keep_vars`` returns the parameters themselves (no ``detach`` call per
    tensor): for a snapshot that copies them at once under ``no_grad``.
    """
    if isinstance(model, torch.nn.Module):
        return dict(model.state_dict(keep_vars=keep_vars))
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


class SnapshotBuffers:
    """CPU buffers that background snapshots are copied into, reused save after save.

    A fresh 100 MB allocation costs more in page faults than the copy itself,
    so each snapshot borrows a set of buffers (one per tensor, kept by name)
    and gives it back once its save has finished. At most ``max_pending + 1``
    sets exist: one being filled while the others are written.
    """

    def __init__(self) -> None:
        self._free: list[BufferSet] = []
        self._lock = threading.Lock()

    def acquire(self) -> BufferSet:
        with self._lock:
            return self._free.pop() if self._free else BufferSet()

    def release(self, buffers: BufferSet) -> None:
        with self._lock:
            self._free.append(buffers)

    def clear(self) -> None:
        with self._lock:
            self._free.clear()


def copy_into(
    groups: Mapping[str, Mapping[str, torch.Tensor]], buffers: dict[str, torch.Tensor]
) -> dict[str, dict[str, torch.Tensor]]:
    """Copy each ``groups[prefix][name]`` into ``buffers[prefix + name]`` (made on first
    use or when the shape or dtype changed) with one batched copy; tensors that share
    storage within a group (tied weights) share a copy. Returns the copies, grouped as given."""
    out, targets, sources = assign_buffers(groups, buffers)
    copy_all(targets, sources)
    return out


def assign_buffers(
    groups: Mapping[str, Mapping[str, torch.Tensor]], buffers: dict[str, torch.Tensor]
) -> tuple[dict[str, dict[str, torch.Tensor]], list[torch.Tensor], list[torch.Tensor]]:
    """``copy_into`` without the copy: the copies-to-be, grouped, and the (targets,
    sources) lists a batched copy fills them from."""
    out: dict[str, dict[str, torch.Tensor]] = {}
    sources: list[torch.Tensor] = []
    targets: list[torch.Tensor] = []
    for prefix, tensors in groups.items():
        copies: dict[str, torch.Tensor] = {}
        first: dict[tuple[Any, ...], torch.Tensor] = {}
        for name, tensor in tensors.items():
            empty = not tensor.numel()
            key = signature_of(tensor)
            if not empty and key in first:
                copies[name] = first[key]
                continue
            buffer = buffer_for(buffers, prefix + name, tensor)
            if not empty:
                first[key] = buffer
                sources.append(tensor)
                targets.append(buffer)
            copies[name] = buffer
        out[prefix] = copies
    return out, targets, sources


def take_snapshot(
    model: Any,
    *,
    epoch: int,
    step: int,
    metrics: Mapping[str, Any] | None = None,
    optimizer: Any = None,
    scheduler: Any = None,
    extra_state: Mapping[str, Any] | None = None,
    buffers: dict[str, torch.Tensor] | None = None,
    planner: SnapshotPlanner | None = None,
) -> TrainingSnapshot:
    """Capture weights, optimizer/scheduler/RNG state, epoch and step.

    With ``buffers`` every tensor is copied into them (the loop may change its
    own right after); without, the snapshot aliases the live tensors and must
    be written before the loop goes on. With a ``planner`` and a ``BufferSet``
    the layout of the last snapshot is reused while it still holds (see
    ``swarmstore.training.plan``); the snapshot is the same either way.
    """
    weights = state_dict_of(model, keep_vars=buffers is not None)
    optimizer_state = optimizer.state_dict() if optimizer is not None else None
    if planner is not None and isinstance(buffers, BufferSet) and _plannable(optimizer_state):
        plan = planner.plan(weights, optimizer_state["state"] if optimizer_state else None)
        if plan is not None:
            return _planned_snapshot(
                plan,
                planner,
                buffers,
                optimizer_state,
                scheduler,
                extra_state,
                epoch,
                step,
                metrics,
            )
    state: dict[str, torch.Tensor] = {}
    skeleton: dict[str, Any] = {"rng": flatten("rng", capture_rng(), state)}
    if optimizer_state is not None:
        skeleton["optimizer"] = flatten("optimizer", optimizer_state, state)
    if scheduler is not None:
        skeleton["scheduler"] = flatten("scheduler", scheduler.state_dict(), state)
    if extra_state:
        skeleton["extra"] = flatten("extra", dict(extra_state), state)
    if buffers is not None:
        copies = copy_into({"weights/": weights, STATE: state}, buffers)
        weights, state = copies["weights/"], copies[STATE]
    else:
        weights = {name: t.detach() for name, t in weights.items()}
        state = {name: t.detach().cpu() for name, t in state.items()}
    clean, flagged = json_metrics(metrics)
    return TrainingSnapshot(weights, state, epoch, step, clean, flagged, skeleton)


def _plannable(optimizer_state: Any) -> bool:
    """An optimizer state_dict that ``flatten`` encodes key by key (str keys, no markers)
    with its per-parameter state under "state" -- or no optimizer."""
    if optimizer_state is None:
        return True
    return (
        type(optimizer_state) is dict
        and "state" in optimizer_state
        and flattens_by_key(optimizer_state)
    )


def _planned_snapshot(
    plan: SnapshotPlan,
    planner: SnapshotPlanner,
    buffers: BufferSet,
    optimizer_state: dict[str, Any] | None,
    scheduler: Any,
    extra_state: Mapping[str, Any] | None,
    epoch: int,
    step: int,
    metrics: Mapping[str, Any] | None,
) -> TrainingSnapshot:
    """``take_snapshot`` along ``plan``: the planned tensors and the few others (tensors in
    param_groups, scheduler or extra state) copied by one batched copy; RNG states are
    fresh copies already and are not copied again."""
    fresh: dict[str, torch.Tensor] = {}
    skeleton: dict[str, Any] = {"rng": planner.rng(fresh)}
    others: dict[str, torch.Tensor] = {}
    if optimizer_state is not None:
        skeleton["optimizer"] = {
            key: plan.state_skeleton if key == "state" else flatten(f"optimizer/{key}", v, others)
            for key, v in optimizer_state.items()
        }
    if scheduler is not None:
        skeleton["scheduler"] = flatten("scheduler", scheduler.state_dict(), others)
    if extra_state:
        skeleton["extra"] = flatten("extra", dict(extra_state), others)
    buffers.bind(plan)
    other_copies: dict[str, torch.Tensor] = {}
    targets: list[torch.Tensor] = []
    sources: list[torch.Tensor] = []
    if others:
        grouped, targets, sources = assign_buffers({STATE: others}, buffers)
        other_copies = grouped[STATE]
    buffers.copy_in(targets, sources)
    copies = buffers.copies
    n = plan.n_weights
    weights = dict(zip(plan.weight_names, copies[:n], strict=True))
    state = {**fresh, **dict(zip(plan.state_names, copies[n:], strict=True)), **other_copies}
    clean, flagged = json_metrics(metrics)
    return TrainingSnapshot(
        weights, state, epoch, step, clean, flagged, skeleton, weight_shapes=plan.shapes
    )
