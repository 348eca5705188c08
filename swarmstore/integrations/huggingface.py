"""``SwarmTrainerCallback``: a ``transformers.TrainerCallback`` that checkpoints into a store.

    trainer = Trainer(model, args, train_dataset=..., callbacks=[
        SwarmTrainerCallback(db, "swarm", "bert-tiny", retention={"keepLast": 2})])

Every ``on_log`` record (what ``trainer.state.log_history`` holds) becomes
step metrics of the experiment. An epoch is recorded, and checkpointed, when
the next epoch begins or training ends: Trainer evaluates *after*
``on_epoch_end``, and waiting lets the epoch's eval metrics join its history
row and its checkpoint (and the RNG state saved is the one the next epoch
starts from). Needs the ``hf`` extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from swarmstore.training.history import numeric

if TYPE_CHECKING:
    from swarmstore.integrations.store import TrainingStore

_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "total_flos")


class SwarmTrainerCallback(TrainerCallback):
    def __init__(
        self,
        db: TrainingStore,
        swarm_id: str,
        model_id: str,
        *,
        agent_id: str = "hf-trainer",
        datasets: tuple[str, ...] = (),
        options: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        merged = {**dict(options or {}), **overrides, "model_id": model_id}
        merged.pop("modelId", None)
        self.integration = db.integrate_with_neural_service(swarm_id, agent_id, merged)
        self.datasets = datasets
        self._epoch_metrics: dict[str, float] = {}
        self._pending_epoch: int | None = None

    # -- run ------------------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        hyperparameters = {
            "learning_rate": args.learning_rate,
            "batch_size": args.per_device_train_batch_size,
            "epochs": int(args.num_train_epochs),
            "optimizer": str(args.optim),
            "seed": args.seed,
            "weight_decay": args.weight_decay,
            "lr_scheduler_type": str(args.lr_scheduler_type),
        }
        self.integration.on_training_start(
            hyperparameters=hyperparameters, datasets=self.datasets or None
        )

    def on_log(
        self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **_: Any
    ) -> None:
        values = numeric(logs)
        self.integration.on_step(state.global_step, values, epoch=_epoch_index(state))
        if not any(key in values for key in _SUMMARY_KEYS):
            self._epoch_metrics.update(values)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.integration.options.checkpoint_unit == "step":
            self.integration.on_step(
                state.global_step,
                None,
                epoch=_epoch_index(state),
                model=kwargs.get("model"),
                optimizer=kwargs.get("optimizer"),
                scheduler=kwargs.get("lr_scheduler"),
            )

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._pending_epoch = max(round(state.epoch or 0) - 1, 0)

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._record_epoch(state, kwargs)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._record_epoch(state, kwargs)
        final = {
            k: v for k, v in numeric(state.log_history[-1] if state.log_history else {}).items()
        }
        self.integration.on_training_complete(
            model=kwargs.get("model"),
            optimizer=kwargs.get("optimizer"),
            scheduler=kwargs.get("lr_scheduler"),
            final_metrics=final,
        )

    def _record_epoch(self, state: Any, kwargs: Mapping[str, Any]) -> None:
        if self._pending_epoch is None:
            return
        epoch, metrics = self._pending_epoch, self._epoch_metrics
        self._pending_epoch, self._epoch_metrics = None, {}
        metrics.pop("epoch", None)
        self.integration.on_epoch_complete(
            epoch,
            metrics,
            kwargs.get("model"),
            kwargs.get("optimizer"),
            kwargs.get("lr_scheduler"),
            step=state.global_step,
            log_metrics=False,  # on_log already logged each of them
        )


def _epoch_index(state: Any) -> int | None:
    return None if state.epoch is None else int(state.epoch)
