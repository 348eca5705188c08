"""The layout of a background snapshot, kept from one checkpoint to the next.

Every background snapshot of a training run copies the same tensors: the
model's parameters and buffers and the optimizer's per-parameter state are
the same objects step after step (optimizers update them in place).
Flattening the optimizer state, working out which tensors alias and which
buffer each one is copied into costs, in Python, a quarter of what copying a
13 MB model costs in memory traffic. A ``SnapshotPlan`` remembers that work;
the next snapshot only checks that it still holds: the same names in the
same order, the same tensor objects with the same storage address, shape,
strides, dtype and device, the same plain values (ints, floats) in the
optimizer state. Anything else (a new parameter or parameter group, state
that the first ``step`` creates, a tensor replaced, resized, cast or moved)
builds a new plan. The check never reads tensor data: values are copied
afresh every time.
"""

from __future__ import annotations

import importlib
from array import array
from operator import is_
from typing import Any

import torch

from swarmstore.training.state import RngFlattener, flatten

try:  # the optional C extension (no Python source for the import graph to follow)
    copy_regions = importlib.import_module("swarmstore.training._copy").copy_regions
except ImportError:  # built without a C compiler: every copy goes through torch
    copy_regions = None

_SCALARS = frozenset({int, float, bool, str, type(None)})
# A stream copy up to this size keeps the GIL (it is short): giving it up lets a
# thread running Python (the save worker, the index worker) take it, and taking it
# back can cost up to the switch interval (``sys.getswitchinterval()``), more than
# the copy. Larger copies let other threads run (benchmarks/results/training_overhead.md).
HOLD_GIL_MAX_BYTES = 64 << 20
_Signature = tuple[int, torch.Size, tuple[int, ...], torch.dtype, torch.device]

WEIGHTS = "weights/"
STATE = "state/"
OPTIMIZER_STATE = "optimizer/state"


def signature_of(t: torch.Tensor) -> _Signature:
    """Address, shape, strides, dtype, device: equal for two tensors that view the same
    memory the same way (tied weights share one copy)."""
    return (t.data_ptr(), t.shape, t.stride(), t.dtype, t.device)


def _signature(tensors: list[torch.Tensor]) -> list[_Signature]:
    return list(map(signature_of, tensors))


def buffer_for(buffers: dict[str, torch.Tensor], slot: str, tensor: torch.Tensor) -> torch.Tensor:
    """The slot's buffer while its shape and dtype still fit ``tensor``, else a new one
    (pinned when the source is on a GPU)."""
    buffer = buffers.get(slot)
    if buffer is None or buffer.dtype != tensor.dtype or buffer.shape != tensor.shape:
        buffer = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=tensor.is_cuda)
        buffers[slot] = buffer
    return buffer


class _Unchanged:
    """Whether tensors still have the address, shape, strides, dtype and device they had.

    Reading five attributes of every tensor in Python is slow, the more so with
    the caches cold after a training step. torch's own guard for compiled
    graphs checks dtype, device, sizes and strides (and requires_grad, which
    only makes a plan rebuild) in C++, several times faster
    (benchmarks/results/training_overhead.md); the addresses are compared
    here. Where that private class is missing or refuses the tensors, every
    attribute is compared in Python.
    """

    __slots__ = ("_guard", "_pointers", "_signature")

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        self._pointers = list(map(torch.Tensor.data_ptr, tensors))
        self._signature: list[_Signature] | None = None
        self._guard: Any = None
        try:
            from torch._C._dynamo.guards import TensorGuards

            guard = TensorGuards(*tensors, dynamic_dims_sizes=None, dynamic_dims_strides=None)
            if guard.check(*tensors):
                self._guard = guard
        except Exception:  # a private API: any failure means "compare in Python"
            self._guard = None
        if self._guard is None:
            self._signature = _signature(tensors)

    def __call__(self, tensors: list[torch.Tensor]) -> bool:
        if self._guard is None:
            return _signature(tensors) == self._signature
        return list(map(torch.Tensor.data_ptr, tensors)) == self._pointers and bool(
            self._guard.check(*tensors)
        )


class SnapshotPlan:
    """Names, source tensors, aliasing and the optimizer state's skeleton of one layout.

    ``tensors[i]`` is stored under ``slots[i]`` (``weights/<name>`` or
    ``state/optimizer/state/<index>/<name>``); it is copied into the buffer
    of slot ``alias[i]``, which is ``i`` unless an earlier tensor of the same
    group shares its storage (tied weights). ``copied`` lists the slots that
    are copied (not aliases, not empty).
    """

    __slots__ = (
        "alias",
        "copied",
        "n_weights",
        "shapes",
        "signature",
        "slots",
        "state_keys",
        "state_names",
        "state_skeleton",
        "state_values",
        "storages",
        "tensors",
        "unchanged",
        "weight_names",
    )

    def __init__(
        self,
        weights: dict[str, torch.Tensor],
        state_keys: list[tuple[Any, tuple[Any, ...]]] | None,
        state_values: list[Any],
        state_tensors: dict[str, torch.Tensor],
        state_skeleton: Any,
    ) -> None:
        self.weight_names = list(weights)
        self.state_names = list(state_tensors)
        self.n_weights = len(weights)
        self.tensors = [*weights.values(), *state_tensors.values()]
        self.slots = [WEIGHTS + n for n in weights] + [STATE + n for n in state_tensors]
        self.state_keys = state_keys
        self.state_values = state_values
        self.state_skeleton = state_skeleton
        self.shapes = {name: tuple(t.shape) for name, t in weights.items()}
        self.signature = _signature(self.tensors)
        self.unchanged = _Unchanged(self.tensors)
        # the memory the stream copy reads stays allocated even if another thread swaps a
        # tensor's storage between the check and the copy (it would read the old values)
        self.storages = [t.untyped_storage() for t in self.tensors]
        first: dict[tuple[Any, ...], int] = {}
        self.alias: list[int] = []
        for i, (tensor, sig) in enumerate(zip(self.tensors, self.signature, strict=True)):
            if not tensor.numel():
                self.alias.append(i)  # nothing to copy; its own (empty) buffer
                continue
            self.alias.append(first.setdefault((i < self.n_weights, *sig), i))
        self.copied = [i for i, a in enumerate(self.alias) if a == i and self.tensors[i].numel()]

    @classmethod
    def build(
        cls, weights: dict[str, torch.Tensor], optimizer_state: Any | None
    ) -> SnapshotPlan | None:
        """A plan for these tensors, or None when the optimizer state nests deeper than
        ``{index: {name: tensor or number}}`` (then every snapshot flattens it anew)."""
        if optimizer_state is None:
            return cls(weights, None, [], {}, None)
        if type(optimizer_state) is not dict:
            return None
        keys: list[tuple[Any, tuple[Any, ...]]] = []
        values: list[Any] = []
        for index, per in optimizer_state.items():
            if type(per) is not dict:
                return None
            for value in per.values():
                if not isinstance(value, torch.Tensor) and type(value) not in _SCALARS:
                    return None
            keys.append((index, tuple(per)))
            values.extend(per.values())
        tensors: dict[str, torch.Tensor] = {}
        skeleton = flatten(OPTIMIZER_STATE, optimizer_state, tensors)
        return cls(weights, keys, values, tensors, skeleton)

    def matches(self, weights: dict[str, torch.Tensor], optimizer_state: Any | None) -> bool:
        """Whether a snapshot of these may use this plan (reads no tensor data)."""
        if len(weights) != self.n_weights or not all(map(is_, weights.values(), self.tensors)):
            return False
        if list(weights) != self.weight_names:
            return False
        if (optimizer_state is None) != (self.state_keys is None):
            return False
        if optimizer_state is not None and not self._same_state(optimizer_state):
            return False
        return self.unchanged(self.tensors)

    def _same_state(self, state: Any) -> bool:
        keys = self.state_keys
        assert keys is not None
        if type(state) is not dict or len(state) != len(keys):
            return False
        old_values = iter(self.state_values)
        for (index, per), (old_index, old_names) in zip(state.items(), keys, strict=True):
            if type(per) is not dict or len(per) != len(old_names) or index != old_index:
                return False
            for (name, value), old_name in zip(per.items(), old_names, strict=True):
                old = next(old_values)
                if name != old_name:
                    return False
                if value is old:
                    continue  # the same tensor (checked by signature) or immutable number
                if type(value) is not type(old) or type(value) not in _SCALARS or value != old:
                    return False
        return True


class SnapshotPlanner:
    """Keeps the last plan; hands it out while it matches, builds a new one when not."""

    def __init__(self) -> None:
        self._plan: SnapshotPlan | None = None
        self.builds = 0  # how many plans were built (tests, diagnostics)
        self.rng = RngFlattener()  # the RNG part of the skeleton, reused while unchanged

    def plan(
        self, weights: dict[str, torch.Tensor], optimizer_state: Any | None
    ) -> SnapshotPlan | None:
        plan = self._plan
        if plan is not None and plan.matches(weights, optimizer_state):
            return plan
        plan = SnapshotPlan.build(weights, optimizer_state)
        self._plan = plan
        if plan is not None:
            self.builds += 1
        return plan

    def clear(self) -> None:
        self._plan = None


def streamable(source: torch.Tensor, target: torch.Tensor) -> bool:
    """Whether ``copy_regions`` may copy ``source`` into ``target`` as raw bytes: plain
    dense CPU tensors of one dtype, both contiguous, no lazy conjugate or negation."""
    return (
        copy_regions is not None
        and type(source) in (torch.Tensor, torch.nn.Parameter)
        and source.layout == torch.strided
        and source.device.type == "cpu"
        and target.device.type == "cpu"
        and source.dtype == target.dtype
        and source.shape == target.shape
        and source.is_contiguous()
        and target.is_contiguous()
        and not source.is_conj()
        and not source.is_neg()
        and not source.is_quantized
    )


class BufferSet(dict[str, torch.Tensor]):
    """One set of snapshot buffers (slot name -> tensor), and how they line up with the
    plan they were last bound to: ``copies[i]`` receives ``plan.tensors[i]``.

    The copy itself: ``table`` (for ``copy_regions``: the pairs ``streamable``
    allows, as raw address triples) and ``rest`` (targets, sources) for torch.
    """

    __slots__ = ("copies", "plan", "rest", "table", "table_bytes")

    def __init__(self) -> None:
        super().__init__()
        self.plan: SnapshotPlan | None = None
        self.copies: list[torch.Tensor] = []
        self.table: bytes = b""
        self.table_bytes = 0
        self.rest: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])

    def bind(self, plan: SnapshotPlan) -> None:
        """Line the buffers up with ``plan``: reuse a slot's buffer when its shape and dtype
        still fit, make one otherwise (pinned when the source is on a GPU)."""
        if self.plan is plan:
            return
        copies: list[torch.Tensor] = []
        for i, (slot, tensor) in enumerate(zip(plan.slots, plan.tensors, strict=True)):
            first = plan.alias[i]
            if first != i:
                copies.append(copies[first])
                continue
            copies.append(buffer_for(self, slot, tensor))
        triples = array("Q")
        total = 0
        rest: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
        for i in plan.copied:
            source, target = plan.tensors[i], copies[i]
            if streamable(source, target):
                nbytes = source.numel() * source.element_size()
                triples.extend((target.data_ptr(), source.data_ptr(), nbytes))
                total += nbytes
            else:
                rest[0].append(target)
                rest[1].append(source)
        self.copies = copies
        self.table = triples.tobytes()
        self.table_bytes = total
        self.rest = rest
        self.plan = plan

    def copy_in(self, targets: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
        """Copy the bound plan's tensors and ``sources`` into ``targets`` (the few
        tensors outside the plan): streamed where ``table`` has them, by torch otherwise."""
        if self.table:
            assert copy_regions is not None
            copy_regions(self.table, self.table_bytes > HOLD_GIL_MAX_BYTES)
        copy_all([*self.rest[0], *targets], [*self.rest[1], *sources])


def copy_all(targets: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
    """``targets[i].copy_(sources[i])`` for all i, in one torch call where torch can."""
    if not targets:
        return
    with torch.no_grad():
        try:
            torch._foreach_copy_(targets, sources)
            return
        except (RuntimeError, TypeError, NotImplementedError):
            pass  # a dtype or device pair the fused copy refuses: copy one by one
        for target, source in zip(targets, sources, strict=True):
            target.copy_(source)
