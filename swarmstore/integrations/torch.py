"""``SwarmCheckpointer``: the integration for a hand-written PyTorch loop.

    ckpt = SwarmCheckpointer(db, "swarm", "mlp", model, optimizer, scheduler,
                             retention={"keepLast": 3})
    for epoch in range(ckpt.start(resume=True), epochs):   # 0, or after the latest
        ...
        ckpt.log_step(step, loss=loss.item())
        ckpt.epoch_end(epoch, {"loss": train_loss, "val_loss": val_loss}, step=step)
    ckpt.finish()

It holds the model, optimizer and scheduler, so each call names only what
changes; everything else is ``NeuralServiceIntegration``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import torch

from swarmstore.errors import ModelNotFoundError
from swarmstore.training.integration import NeuralServiceIntegration
from swarmstore.training.resume import ResumeState

if TYPE_CHECKING:
    from swarmstore.integrations.store import TrainingStore
    from swarmstore.records.experiment import ExperimentStatus


class SwarmCheckpointer:
    """Checkpoint a plain PyTorch loop into a store; resume it bit-exactly.

    ``options`` are those of ``integrate_with_neural_service`` (keyword
    overrides too); ``model_id`` is fixed here.
    """

    def __init__(
        self,
        db: TrainingStore,
        swarm_id: str,
        model_id: str,
        model: torch.nn.Module,
        optimizer: Any = None,
        scheduler: Any = None,
        *,
        agent_id: str = "torch",
        options: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        self.db = db
        self.swarm_id = swarm_id
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        merged = {**dict(options or {}), **overrides, "model_id": model_id}
        merged.pop("modelId", None)
        self.integration: NeuralServiceIntegration = db.integrate_with_neural_service(
            swarm_id, agent_id, merged
        )
        self.model_id = model_id
        self.resumed: ResumeState | None = None

    def start(
        self,
        *,
        resume: bool | str = False,
        experiment_id: str | None = None,
        datasets: Sequence[str] | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        name: str | None = None,
        base_version: str | None = None,
    ) -> int:
        """Open the experiment; with ``resume`` ('latest', 'best', a version or True for
        'latest') load that checkpoint first when there is one. Returns the epoch to run next.

        ``base_version`` fine-tunes a stored version of this model: unless a
        checkpoint was resumed, its weights are loaded into the model (the
        optimizer starts fresh) and the first checkpoint is a delta against it.
        """
        which = "latest" if resume is True else resume
        if which:
            try:
                self.resumed = self.db.resume(self.swarm_id, self.model_id, str(which))
            except ModelNotFoundError:
                self.resumed = None
            if self.resumed is not None:
                self.resumed.apply(
                    self.model,
                    self.optimizer if self.resumed.optimizer_state is not None else None,
                    self.scheduler if self.resumed.scheduler_state is not None else None,
                )
        if self.resumed is not None:
            base_version = None  # the resumed checkpoint already descends from it
        elif base_version is not None:
            base = self.db.get_neural_model(self.swarm_id, self.model_id, base_version)
            self.model.load_state_dict(base.weights)
        self.integration.on_training_start(
            experiment_id=experiment_id,
            datasets=datasets,
            hyperparameters=hyperparameters,
            name=name,
            resume_from=self.resumed,
            base_version=base_version,
        )
        return self.resumed.next_epoch if self.resumed is not None else 0

    def log_step(self, step: int, epoch: int | None = None, **metrics: Any) -> str | None:
        return self.integration.on_step(
            step,
            metrics,
            epoch=epoch,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
        )

    def epoch_end(
        self, epoch: int, metrics: Mapping[str, Any] | None = None, *, step: int | None = None
    ) -> str | None:
        """Record the epoch; returns the checkpoint version when one was taken."""
        return self.integration.on_epoch_complete(
            epoch, metrics, self.model, self.optimizer, self.scheduler, step=step
        )

    def save(self, version: str | None = None, metrics: Mapping[str, Any] | None = None) -> str:
        return self.integration.on_model_save(
            self.model, self.optimizer, self.scheduler, version=version, metrics=metrics
        )

    def finish(
        self,
        final_metrics: Mapping[str, Any] | None = None,
        *,
        status: ExperimentStatus = "completed",
    ) -> dict[str, Any]:
        return self.integration.on_training_complete(
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            final_metrics=final_metrics,
            status=status,
        )

    def flush(self) -> None:
        self.integration.flush()

    def close(self) -> None:
        self.integration.close()

    def __enter__(self) -> SwarmCheckpointer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
