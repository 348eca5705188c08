"""A tiny deterministic CPU training loop, run in-process or as a child that is SIGKILLed.

Every source of randomness a real loop has is used: weight init and dropout
(torch), DataLoader shuffling (torch), a Python ``random`` augmentation and
a numpy one, an Adam optimizer and a StepLR scheduler — so a resumed run
matches an uninterrupted one only if all of them were restored.

As a script: ``loop.py STORE EPOCHS KILL_AFTER ASYNC`` trains (resuming the
latest checkpoint when there is one) and SIGKILLs itself right after the
callback of epoch ``KILL_AFTER`` returned (-1: never; then it saves the final
weights as ``final_weights.pt`` in STORE).
"""

from __future__ import annotations

import os
import random
import signal
import sys
from typing import Any

import numpy as np
import torch

from swarmstore import SwarmDatabaseManager
from swarmstore.errors import ModelNotFoundError

SWARM, AGENT, MODEL = "swarm", "agent", "mlp"


def seed_everything(seed: int = 1234) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build() -> tuple[
    torch.nn.Sequential, torch.optim.Optimizer, Any, torch.utils.data.DataLoader[Any]
]:
    seed_everything()
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.25), torch.nn.Linear(16, 3)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    data = torch.Generator().manual_seed(7)
    x = torch.randn(48, 6, generator=data)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=12, shuffle=True
    )
    return model, optimizer, scheduler, loader


def train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    loader: torch.utils.data.DataLoader[Any],
) -> dict[str, float]:
    model.train()
    total = 0.0
    for x, y in loader:
        jitter = random.random() * 1e-3 + float(np.random.rand()) * 1e-3
        loss = torch.nn.functional.cross_entropy(model(x + jitter), y)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        total += loss.item()
    scheduler.step()
    return {"loss": total / len(loader), "lr": scheduler.get_last_lr()[0]}


def train(
    db: SwarmDatabaseManager,
    epochs: int,
    *,
    kill_after: int = -1,
    resume: bool = False,
    options: dict[str, Any] | None = None,
) -> dict[str, torch.Tensor]:
    """Train to ``epochs`` (resuming the latest checkpoint if asked); the final weights."""
    model, optimizer, scheduler, loader = build()
    integration = db.integrate_with_neural_service(
        SWARM, AGENT, {"modelId": MODEL, **(options or {})}
    )
    start, state = 0, None
    if resume:
        try:
            state = db.resume(SWARM, MODEL, "latest")
        except ModelNotFoundError:
            state = None
        if state is not None:
            state.apply(model, optimizer, scheduler)
            start = state.next_epoch
    integration.on_training_start(resume_from=state)
    step = state.step if state else 0
    for epoch in range(start, epochs):
        metrics = train_epoch(model, optimizer, scheduler, loader)
        step += len(loader)
        integration.on_epoch_complete(epoch, metrics, model, optimizer, scheduler, step=step)
        if epoch == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    integration.on_training_complete(model=model)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


if __name__ == "__main__":
    root, total, kill, background = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    store = SwarmDatabaseManager.open(root, durability="normal")  # SIGKILL keeps the page cache
    weights = train(
        store, total, kill_after=kill, resume=True, options={"asyncSave": background == "1"}
    )
    store.close()
    torch.save(weights, os.path.join(root, "final_weights.pt"))
