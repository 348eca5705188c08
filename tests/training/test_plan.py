"""A background snapshot's cached layout: reused while it holds, rebuilt when anything changed.

Every planned snapshot is checked against the unplanned one (same names,
bytes, dtypes, aliasing and JSON skeleton), so a plan that went stale would
fail here rather than store an old layout.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import torch

from swarmstore.training.plan import BufferSet, SnapshotPlanner, streamable
from swarmstore.training.snapshot import TrainingSnapshot, take_snapshot


def _model() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.Linear(16, 4)
    )


def _linear(model: torch.nn.Sequential, index: int) -> torch.nn.Linear:
    """``model[index]``, checked to be one of ``_model()``'s Linear layers."""
    layer = model[index]
    assert isinstance(layer, torch.nn.Linear)
    return layer


def _step(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    loss = model(torch.randn(6, 8)).square().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


class _Snapshots:
    """Planned snapshots through one planner and buffer set, each compared to the reference."""

    def __init__(self) -> None:
        self.planner = SnapshotPlanner()
        self.buffers = BufferSet()

    def take(self, model: object, optimizer: object = None, **kwargs: object) -> TrainingSnapshot:
        planned = take_snapshot(
            model,
            epoch=0,
            step=0,
            optimizer=optimizer,
            buffers=self.buffers,
            planner=self.planner,
            **kwargs,  # type: ignore[arg-type]
        )
        reference = take_snapshot(model, epoch=0, step=0, optimizer=optimizer, buffers={}, **kwargs)  # type: ignore[arg-type]
        _assert_same(planned, reference)
        return planned


def _assert_same(planned: TrainingSnapshot, reference: TrainingSnapshot) -> None:
    assert list(planned.weights) == list(reference.weights)
    assert set(planned.state) == set(reference.state)
    for group, expected in (("weights", reference.weights), ("state", reference.state)):
        got = getattr(planned, group)
        for name, tensor in expected.items():
            assert got[name].dtype == tensor.dtype and got[name].shape == tensor.shape, name
            assert torch.equal(got[name], tensor), name
    names = list(reference.weights)
    for a in names:  # tied weights share a copy in both, and only those
        for b in names:
            assert (planned.weights[a] is planned.weights[b]) == (
                reference.weights[a] is reference.weights[b]
            ), (a, b)
    assert json.dumps(planned.skeleton) == json.dumps(reference.skeleton)
    assert planned.shapes == reference.shapes


def test_the_plan_is_reused_across_steps_and_the_copies_follow_the_live_values() -> None:
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    snaps = _Snapshots()
    _step(model, optimizer)
    first = snaps.take(model, optimizer, scheduler=scheduler)
    first_weight = first.weights["0.weight"].clone()
    for _ in range(3):
        _step(model, optimizer)
        scheduler.step()  # param_groups' lr changes: not part of the plan, read each time
        snap = snaps.take(model, optimizer, scheduler=scheduler)
    assert snaps.planner.builds == 1
    assert snap.weights["0.weight"] is first.weights["0.weight"]  # the same buffer, refilled
    assert not torch.equal(snap.weights["0.weight"], first_weight)
    assert snap.skeleton["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-2 / 8)


def test_state_that_the_first_step_creates_builds_a_new_plan() -> None:
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    snaps = _Snapshots()
    before = snaps.take(model, optimizer)  # no Adam state yet
    assert not [n for n in before.state if n.startswith("optimizer/state/")]
    _step(model, optimizer)
    after = snaps.take(model, optimizer)
    assert snaps.planner.builds == 2
    assert "optimizer/state/0/exp_avg" in after.state


def test_a_new_param_group_builds_a_new_plan() -> None:
    model = _model()
    optimizer = torch.optim.Adam(model[0].parameters(), lr=1e-2)
    snaps = _Snapshots()
    _step(model, optimizer)
    snaps.take(model, optimizer)
    optimizer.add_param_group({"params": list(model[2].parameters()), "lr": 1e-3})
    _step(model, optimizer)
    snap = snaps.take(model, optimizer)
    assert snaps.planner.builds == 2
    assert len(snap.skeleton["optimizer"]["param_groups"]) == 2


def test_a_parameter_replaced_resized_or_cast_builds_a_new_plan() -> None:
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    snaps = _Snapshots()
    _step(model, optimizer)
    snaps.take(model, optimizer)
    weight = _linear(model, 0).weight
    with torch.no_grad():
        weight.data = torch.ones(16, 4)  # same Parameter object, new storage and shape
    snap = snaps.take(model, optimizer)
    assert snaps.planner.builds == 2
    assert snap.weights["0.weight"].shape == (16, 4)
    model.double()  # every parameter cast in place: same objects, new dtype
    snap = snaps.take(model, optimizer)
    assert snaps.planner.builds == 3
    assert snap.weights["2.weight"].dtype == torch.float64
    last = _linear(model, 2)
    with torch.no_grad():
        last.weight.data = last.weight.data.t().contiguous().t()  # same shape, new storage
    snaps.take(model, optimizer)
    assert snaps.planner.builds == 4


def test_a_state_tensor_or_number_replaced_builds_a_new_plan() -> None:
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    snaps = _Snapshots()
    _step(model, optimizer)
    snaps.take(model, optimizer)
    state = optimizer.state[_linear(model, 0).weight]
    state["exp_avg"] = torch.full_like(state["exp_avg"], 7.0)  # a new object, same shape
    snap = snaps.take(model, optimizer)
    assert snaps.planner.builds == 2
    assert torch.equal(snap.state["optimizer/state/0/exp_avg"], torch.full((16, 8), 7.0))
    state["count"] = 1  # a plain number in the per-parameter state
    snaps.take(model, optimizer)
    state["count"] = 2
    snap = snaps.take(model, optimizer)
    assert snaps.planner.builds == 4
    assert snap.skeleton["optimizer"]["state"]["__dict__"][0][1]["count"] == 2


def test_tying_and_untying_weights_changes_what_shares_a_copy() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(8, 4), torch.nn.Linear(4, 8, bias=False))
    snaps = _Snapshots()
    snap = snaps.take(model)
    assert snap.weights["0.weight"] is not snap.weights["1.weight"]
    model[1].weight = model[0].weight  # tied: both names now one tensor
    snap = snaps.take(model)
    assert snap.weights["0.weight"] is snap.weights["1.weight"]
    model[1].weight = torch.nn.Parameter(torch.zeros(8, 4))
    snap = snaps.take(model)
    assert snap.weights["0.weight"] is not snap.weights["1.weight"]
    assert snaps.planner.builds == 3


def test_an_optimizer_state_that_nests_deeper_is_flattened_every_time() -> None:
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.state[_linear(model, 0).weight]["history"] = [torch.ones(2), 3]  # a list: not planned
    snaps = _Snapshots()
    snaps.take(model, optimizer)
    optimizer.state[_linear(model, 0).weight]["history"][1] = 4  # changed inside, same list object
    snap = snaps.take(model, optimizer)
    assert snaps.planner.builds == 0
    assert '"history": [{"__tensor__"' in json.dumps(snap.skeleton) and ", 4]" in json.dumps(
        snap.skeleton
    )


def test_tensors_the_stream_copy_cannot_take_are_copied_by_torch() -> None:
    source = torch.arange(12.0).reshape(3, 4)
    assert not streamable(source.t(), torch.empty(4, 3))  # not contiguous
    assert not streamable(
        source.to(torch.complex64).conj(), torch.empty(3, 4, dtype=torch.complex64)
    )
    model = _model()
    with torch.no_grad():  # a transposed (non-contiguous) parameter and a conjugated buffer
        _linear(model, 2).weight.data = torch.randn(16, 4).t()
    model.register_buffer("phase", torch.randn(5, dtype=torch.complex64).conj())
    snaps = _Snapshots()
    snap = snaps.take(model)
    with torch.no_grad():
        _linear(model, 2).weight.mul_(2)
    snap = snaps.take(model)
    assert torch.equal(snap.weights["2.weight"], _linear(model, 2).weight)
    assert isinstance(model.phase, torch.Tensor)
    assert torch.equal(snap.weights["phase"], model.phase.resolve_conj())


@pytest.mark.parametrize("size", [0, 1, 15, 17, 4096, (1 << 16) - 1, (1 << 16) + 3, 1 << 20])
@pytest.mark.parametrize("offset", [0, 1, 7])
def test_copy_regions_copies_every_byte_at_any_alignment(size: int, offset: int) -> None:
    _copy = pytest.importorskip("swarmstore.training._copy")
    generator = torch.Generator().manual_seed(size + offset)
    source = torch.randint(0, 256, (size + 16,), dtype=torch.uint8, generator=generator)
    target = torch.zeros(size + 16, dtype=torch.uint8)
    regions = torch.tensor(
        [target.data_ptr() + offset, source.data_ptr() + 16 - offset, size], dtype=torch.int64
    )
    _copy.copy_regions(regions.numpy().tobytes(), offset % 2 == 0)  # GIL released or held
    assert torch.equal(target[offset : offset + size], source[16 - offset : 16 - offset + size])
    assert not target[:offset].any() and not target[offset + size :].any()
    with pytest.raises(ValueError, match="triples"):
        _copy.copy_regions(b"\x00" * 8)


@pytest.mark.parametrize("in_cxx", [True, False], ids=["torch-guard", "python"])
def test_a_change_of_shape_strides_or_dtype_at_the_same_address_is_seen(in_cxx: bool) -> None:
    from swarmstore.training.plan import _signature, _Unchanged

    def unchanged_for(tensors: list[torch.Tensor]) -> _Unchanged:
        check = _Unchanged(tensors)
        if not in_cxx:
            check._guard, check._signature = None, _signature(tensors)
        return check

    changes: dict[str, Callable[[torch.Tensor], object]] = {
        "reshaped view": lambda p: setattr(p, "data", p.data.view(2, 12)),
        "transposed view": lambda p: setattr(p, "data", p.data.t()),
        "dtype view": lambda p: setattr(p, "data", p.data.view(torch.int32)),
        "resized smaller": lambda p: p.resize_(4, 5),
        "as_strided": lambda p: p.as_strided_((4, 6), (1, 4)),
        "new storage": lambda p: setattr(p, "data", torch.zeros(4, 6)),
    }
    for what, change in changes.items():
        params = [torch.randn(4, 6), torch.randn(3)]  # buffers: a dtype view is allowed
        check = unchanged_for(params)
        assert check(params), what
        with torch.no_grad():
            change(params[0])
        assert not check(params), what
    model = _model()  # and through a whole planned snapshot: the new shape is stored
    snaps = _Snapshots()
    snaps.take(model)
    with torch.no_grad():
        _linear(model, 0).weight.data = _linear(model, 0).weight.data.view(8, 16)
    snap = snaps.take(model)
    assert snap.weights["0.weight"].shape == (8, 16)
