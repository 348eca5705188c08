"""``SwarmLightningCallback``: a PyTorch Lightning ``Callback`` that checkpoints into a store.

    trainer = L.Trainer(max_epochs=10, callbacks=[
        SwarmLightningCallback(db, "swarm", "resnet", retention={"keepBest": 2,
                               "metric": "val_loss", "mode": "min"})])

At each ``on_train_epoch_end`` the epoch's ``trainer.callback_metrics``
(what the module logged with ``self.log``, validation included) become the
history row and step metrics, and a checkpoint holds the module's weights,
the first optimizer and LR scheduler and the RNG states. Needs the
``lightning`` extra (``import lightning``; ``pytorch_lightning`` also works).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the standalone package name
    from pytorch_lightning.callbacks import Callback  # type: ignore[assignment]

from swarmstore.training.history import numeric

if TYPE_CHECKING:
    from swarmstore.integrations.store import TrainingStore


class SwarmLightningCallback(Callback):
    def __init__(
        self,
        db: TrainingStore,
        swarm_id: str,
        model_id: str,
        *,
        agent_id: str = "lightning",
        datasets: tuple[str, ...] = (),
        options: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__()
        merged = {**dict(options or {}), **overrides, "model_id": model_id}
        merged.pop("modelId", None)
        self.integration = db.integrate_with_neural_service(swarm_id, agent_id, merged)
        self.datasets = datasets
        self.logged: list[dict[str, float]] = []  # what each epoch handed the store

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        hparams = {k: v for k, v in dict(pl_module.hparams).items() if _plain(v)}
        self.integration.on_training_start(
            hyperparameters={"epochs": trainer.max_epochs, **hparams},
            datasets=self.datasets or None,
        )

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.integration.options.checkpoint_unit == "step":
            optimizer, scheduler = _optimizer_and_scheduler(trainer)
            self.integration.on_step(
                trainer.global_step,
                None,
                epoch=trainer.current_epoch,
                model=pl_module,
                optimizer=optimizer,
                scheduler=scheduler,
            )

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        metrics = numeric(trainer.callback_metrics)
        self.logged.append(dict(metrics))
        optimizer, scheduler = _optimizer_and_scheduler(trainer)
        self.integration.on_epoch_complete(
            trainer.current_epoch,
            metrics,
            pl_module,
            optimizer,
            scheduler,
            step=trainer.global_step,
        )

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        optimizer, scheduler = _optimizer_and_scheduler(trainer)
        self.integration.on_training_complete(
            model=pl_module,
            optimizer=optimizer,
            scheduler=scheduler,
            final_metrics=numeric(trainer.callback_metrics),
        )

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.integration.running:
            self.integration.on_training_complete(status="failed")


def _optimizer_and_scheduler(trainer: Any) -> tuple[Any, Any]:
    optimizer = trainer.optimizers[0] if trainer.optimizers else None
    configs = trainer.lr_scheduler_configs
    return optimizer, (configs[0].scheduler if configs else None)


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None
