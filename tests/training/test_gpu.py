"""On a CUDA device: background snapshots leave the GPU, CUDA RNG is restored, GPU use recorded.

Skipped where torch sees no GPU (CI); run on an accelerator machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from swarmstore import SwarmDatabaseManager

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SWARM, MODEL, EPOCHS = "swarm", "gpu-mlp", 4


def _build() -> tuple[torch.nn.Module, Any, Any, torch.Tensor, torch.Tensor]:
    torch.manual_seed(3)
    model = torch.nn.Sequential(
        torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(64, 4)
    ).cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(256, 32, generator=generator).cuda()
    y = torch.randint(0, 4, (256,), generator=generator).cuda()
    return model, optimizer, scheduler, x, y


def _epoch(model: torch.nn.Module, optimizer: Any, scheduler: Any, x: Any, y: Any) -> float:
    order = torch.randperm(len(x), device="cuda")  # CUDA generator
    loss = torch.zeros((), device="cuda")
    for i in range(0, len(x), 64):
        batch = order[i : i + 64]
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    scheduler.step()
    return loss.item()


def _train(db: SwarmDatabaseManager, stop: int | None, resume: bool) -> dict[str, torch.Tensor]:
    model, optimizer, scheduler, x, y = _build()
    integration = db.integrate_with_neural_service(SWARM, "gpu", modelId=MODEL, asyncSave=True)
    state = db.resume(SWARM, MODEL) if resume else None
    if state is not None:
        state.apply(model, optimizer, scheduler)
    integration.on_training_start(resume_from=state)
    for epoch in range(state.next_epoch if state else 0, EPOCHS):
        loss = _epoch(model, optimizer, scheduler, x, y)
        integration.on_epoch_complete(epoch, {"loss": loss}, model, optimizer, scheduler)
        if stop is not None and epoch == stop:
            integration.close()
            return {}
    summary = integration.on_training_complete(model=model)
    assert summary["resource_usage"]["gpuHours"] > 0
    assert summary["resource_usage"]["gpuMemoryPeak"] > 0
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def test_cuda_run_resumes_bit_exactly_and_records_gpu_use(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path / "ref", durability="normal") as db:
        expected = _train(db, None, False)
    with SwarmDatabaseManager.open(tmp_path / "s", durability="normal") as db:
        _train(db, 1, False)
    with SwarmDatabaseManager.open(tmp_path / "s", durability="normal") as db:
        state = db.resume(SWARM, MODEL)
        assert state.epoch == 1 and "cuda" in (state.rng_state or {})
        assert all(t.device.type == "cpu" for t in state.weights.values())
        got = _train(db, None, True)
        experiment = db.get_training_experiment(SWARM, state.experiment_id or "")
        assert experiment.resource_usage.gpu_hours is not None
    assert all(torch.equal(got[k], expected[k]) for k in expected)
