"""SwarmLightningCallback with a real lightning.Trainer on a tiny module (CPU)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from swarmstore import SwarmDatabaseManager

L = pytest.importorskip("lightning")

SWARM, MODEL = "swarm", "tiny-lit"
EPOCHS = 3


class _Module(L.LightningModule):  # type: ignore[misc,name-defined]
    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
        )

    def training_step(self, batch: Any, _index: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, _index: int) -> None:
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(-1) == y).float().mean())

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}


def _loader(seed: int) -> torch.utils.data.DataLoader[Any]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 4, generator=generator)
    y = (x[:, 0] > 0).long()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)


class _Recorder(L.Callback):  # type: ignore[misc,name-defined]
    """What the trainer itself says was logged at each epoch end."""

    def __init__(self) -> None:
        self.seen: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: Any, _module: Any) -> None:
        self.seen.append({k: float(v) for k, v in trainer.callback_metrics.items()})


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_lightning_run_ends_with_versions_history_and_a_resumable_checkpoint(
    db: SwarmDatabaseManager,
) -> None:
    from swarmstore.integrations import SwarmLightningCallback

    torch.manual_seed(0)
    callback = SwarmLightningCallback(
        db, SWARM, MODEL, retention={"keepBest": 1, "metric": "val_loss", "mode": "min"}
    )
    recorder = _Recorder()
    trainer = L.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[recorder, callback],
    )
    module = _Module()
    trainer.fit(module, _loader(1), _loader(2))
    experiment_id = callback.integration.experiment_id
    assert experiment_id is not None

    # history equals what the trainer logged, epoch by epoch
    record = db.get_training_experiment(SWARM, experiment_id)
    rows = record.metrics.training_history
    assert [row.epoch for row in rows] == list(range(EPOCHS))
    assert [row.training_loss for row in rows] == [s["train_loss"] for s in recorder.seen]
    assert [row.validation_loss for row in rows] == [s["val_loss"] for s in recorder.seen]
    assert [row.validation_accuracy for row in rows] == [s["val_acc"] for s in recorder.seen]
    assert record.status == "completed" and record.hyperparameters.model_extra["lr"] == 0.1  # type: ignore[index]

    # versions: the best epoch by val_loss, the newest, and the final model
    best_epoch = min(range(EPOCHS), key=lambda e: recorder.seen[e]["val_loss"])
    steps = trainer.global_step // EPOCHS
    expected = sorted({best_epoch, EPOCHS - 1})
    versions = [v.version for v in db.list_model_versions(SWARM, MODEL)]
    assert versions == [f"e{e:04d}-s{(e + 1) * steps:08d}" for e in expected] + [
        f"e{EPOCHS - 1:04d}-s{EPOCHS * steps:08d}-final"
    ]

    # resumable: a fresh module, optimizer and scheduler take the checkpoint
    state = db.resume(SWARM, MODEL, "best")
    assert state.epoch == best_epoch
    latest = db.resume(SWARM, MODEL, "latest")
    fresh = _Module()
    fresh.load_state_dict(latest.weights)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in module.state_dict().items())
    optimizer = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    assert latest.optimizer_state is not None
    optimizer.load_state_dict(latest.optimizer_state)
    assert torch.equal(
        optimizer.state_dict()["state"][0]["momentum_buffer"],
        trainer.optimizers[0].state_dict()["state"][0]["momentum_buffer"],
    )
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    assert latest.scheduler_state is not None
    scheduler.load_state_dict(latest.scheduler_state)
