"""Background snapshots: one batched copy into reused buffers, exact and detached."""

from __future__ import annotations

import numpy as np
import torch

from swarmstore.training.snapshot import copy_into, take_snapshot


class _Tied(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(8, 4)
        self.norm = torch.nn.BatchNorm1d(4)  # int64 num_batches_tracked, float running stats
        self.head = torch.nn.Linear(4, 8, bias=False)
        self.head.weight = self.embed.weight  # tied


def _trained() -> tuple[_Tied, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = _Tied()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        out = model.head(model.norm(model.embed(torch.tensor([1, 2, 3]))))
        out.sum().backward()
        optimizer.step()
    return model, optimizer


def test_a_buffered_snapshot_is_an_exact_detached_copy_that_keeps_tied_weights_shared() -> None:
    model, optimizer = _trained()
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    momentum = {k: v["momentum_buffer"].clone() for k, v in optimizer.state.items()}
    buffers: dict[str, torch.Tensor] = {}
    extra = {"array": np.arange(5, dtype=np.uint32), "blob": b"\x00\x01"}
    snap = take_snapshot(
        model, epoch=1, step=2, optimizer=optimizer, extra_state=extra, buffers=buffers
    )

    with torch.no_grad():  # the loop changes everything in place right after
        for p in model.parameters():
            p.mul_(-2.0)
        assert model.norm.num_batches_tracked is not None
        model.norm.num_batches_tracked.add_(5)
        for state in optimizer.state.values():
            state["momentum_buffer"].zero_()

    assert set(snap.weights) == set(expected)
    for name, tensor in expected.items():
        assert torch.equal(snap.weights[name], tensor), name
        assert snap.weights[name].dtype == tensor.dtype
        assert not snap.weights[name].requires_grad, name
    assert snap.weights["head.weight"] is snap.weights["embed.weight"]
    stored_momentum = [t for n, t in snap.state.items() if n.endswith("momentum_buffer")]
    assert sorted(t.sum().item() for t in stored_momentum) == sorted(
        t.sum().item() for t in momentum.values()
    )
    assert snap.state["extra/array"].dtype == torch.uint32
    assert snap.state["extra/array"].numpy().tolist() == [0, 1, 2, 3, 4]
    assert bytes(snap.state["extra/blob"].numpy()) == b"\x00\x01"


def test_buffers_are_reused_and_remade_when_a_shape_or_dtype_changes() -> None:
    buffers: dict[str, torch.Tensor] = {}
    a, b = torch.ones(3), torch.zeros(2, dtype=torch.int64)
    first = copy_into({"w/": {"a": a, "b": b}}, buffers)["w/"]
    second = copy_into({"w/": {"a": a * 2, "b": b + 1}}, buffers)["w/"]
    assert second["a"] is first["a"] and second["b"] is first["b"]  # same memory, new values
    assert torch.equal(second["a"], torch.full((3,), 2.0))
    assert torch.equal(second["b"], torch.ones(2, dtype=torch.int64))
    third = copy_into({"w/": {"a": torch.ones(4), "b": b.double()}}, buffers)["w/"]
    assert third["a"] is not first["a"] and third["a"].shape == (4,)
    assert third["b"].dtype == torch.float64
    empty = copy_into({"w/": {"a": torch.empty(0), "b": b}}, buffers)["w/"]
    assert empty["a"].numel() == 0
