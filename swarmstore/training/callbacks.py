"""The training-loop callbacks of ``NeuralServiceIntegration``.

Order of a run, and what each callback does:

* ``on_training_start`` opens an experiment run (history, datasets, lineage).
* ``on_step`` logs step metrics; checkpoints when the interval is in steps.
* ``on_epoch_complete`` appends the epoch to the history and checkpoints
  every ``checkpoint_interval`` epochs: weights, optimizer, scheduler and
  RNG state, as a delta against the previous checkpoint; then retention
  frees what the policy no longer keeps.
* ``on_model_save`` stores a version now (never pruned).
* ``on_training_complete`` stores the final model, waits for pending saves,
  writes resource usage and finishes the experiment.

Out of order: a callback before ``on_training_start``, a second start, an
epoch number that does not increase, or a step that goes back raises
``CallbackOrderError`` and writes nothing; ``on_training_complete`` twice
returns the first summary. A failed save raises ``CheckpointSaveError`` —
at once in the foreground, at the next callback (or ``flush``/``close``)
in the background — and the next checkpoint deltas against the last one
that was written.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from swarmstore.errors import CallbackOrderError, InvalidRecordError
from swarmstore.events import EPOCH_COMPLETED, TRAINING_COMPLETED, TRAINING_STARTED
from swarmstore.ids import validate_id
from swarmstore.training.announce import RunIdentity
from swarmstore.training.catalog import CheckpointKind
from swarmstore.training.checkpointing import Checkpoints
from swarmstore.training.history import final_scores, numeric
from swarmstore.training.options import IntegrationOptions
from swarmstore.training.port import TrainingPort
from swarmstore.training.resources import ResourceMonitor
from swarmstore.training.resume import ResumeState, continued_experiment
from swarmstore.training.snapshot import json_metrics

if TYPE_CHECKING:
    from swarmstore.experiments.run import ExperimentRun
    from swarmstore.records.experiment import ExperimentStatus

log = logging.getLogger(__name__)


class TrainingCallbacks:
    """The callbacks of one agent's training loop and the state they keep between calls;
    ``NeuralServiceIntegration`` adds flushing and closing."""

    def __init__(
        self,
        store: TrainingPort,
        swarm_id: str,
        agent_id: str,
        options: IntegrationOptions,
        integration_id: str | None = None,
    ) -> None:
        self._id = RunIdentity(validate_id("swarm_id", swarm_id), validate_id("agent_id", agent_id))
        self.integration_id = validate_id(
            "integration id", integration_id or f"integration_{secrets.token_hex(8)}"
        )
        self._skipped_without_model = False
        self.options = options
        self._store = store
        self._checkpoints = Checkpoints(store, self._id, options)
        if options.model_id is not None:
            validate_id("model id", options.model_id)
        self._id.model_id = options.model_id
        self._saver = self._checkpoints.saver
        self._phase = "idle"
        self._run: ExperimentRun | None = None
        self._summary: dict[str, Any] | None = None
        self._monitor: ResourceMonitor | None = None
        self.epoch = -1
        self.step = 0
        self._closed = False

    # -- what the run is --------------------------------------------------------

    @property
    def swarm_id(self) -> str:
        return self._id.swarm_id

    @property
    def agent_id(self) -> str:
        return self._id.agent_id

    @property
    def model_id(self) -> str | None:
        return self._id.model_id

    @property
    def experiment_id(self) -> str | None:
        return self._id.experiment_id

    @property
    def checkpoint_index(self) -> int:
        """Auto-checkpoints taken (a resumed run goes on counting from its checkpoint)."""
        return self._checkpoints.index

    @property
    def saved_versions(self) -> list[str]:
        return self._checkpoints.saved_versions

    @property
    def pruned_versions(self) -> list[str]:
        return self._checkpoints.pruned_versions

    @property
    def save_wait_seconds(self) -> float:
        """Callbacks' time waiting for an earlier background save."""
        return self._checkpoints.save_wait_seconds

    # -- callbacks -----------------------------------------------------------

    def on_training_start(
        self,
        *,
        model_id: str | None = None,
        experiment_id: str | None = None,
        name: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        datasets: Sequence[str] | None = None,
        tags: Sequence[str] = (),
        resume_from: ResumeState | None = None,
        base_version: str | None = None,
    ) -> str:
        """Open the experiment run; returns its id. ``resume_from`` goes on from a checkpoint.

        ``base_version``: a stored version of this model that the run starts
        from (fine-tuning: its weights were loaded into the model). The first
        checkpoint is a delta against it and names it as parent, instead of a
        full frame with no lineage. Raises ``ModelNotFoundError`` if it does
        not exist.

        Without a model id here or in the options (the seed's options name
        none), the run opens without one and the first ``on_model_save(...,
        model_id=...)`` names it; auto-checkpoints before that are skipped
        (logged once), the epochs are still recorded.
        """
        self._check_open()
        self._saver.raise_pending()
        if self._phase == "running":
            raise CallbackOrderError(
                f"training of {self.model_id!r} already started (experiment "
                f"{self.experiment_id!r}); call on_training_complete first"
            )
        model_id = model_id or (resume_from.model_id if resume_from else None) or self.model_id
        if model_id is None and base_version is not None:
            raise CallbackOrderError(
                f"on_training_start got base_version={base_version!r} but no model_id= "
                "(nor options.model_id): a base version belongs to a model"
            )
        if model_id is not None and base_version is not None:
            if resume_from is not None:
                raise InvalidRecordError(
                    f"on_training_start got resume_from={resume_from.version!r} and "
                    f"base_version={base_version!r}: a resumed run's parent is its checkpoint"
                )
            validate_id("version", base_version)
            self._store.require_model_version(self.swarm_id, model_id, base_version)
        if model_id is not None:
            self._id.model_id = validate_id("model id", model_id)
        self._skipped_without_model = False
        hp = {**self.options.hyperparameters, **dict(hyperparameters or {})}
        run_tags = [*self.options.tags, *tags]
        if resume_from is not None:
            run_tags.append(f"resumed-from:{resume_from.version}")
        resume_run = False
        if experiment_id is None and resume_from is not None:
            experiment_id, resume_run = continued_experiment(
                self._store, self.swarm_id, self.model_id, resume_from
            )
        run = self._run = self._store.start_experiment(
            self.swarm_id,
            experiment_id,
            resume=resume_run,
            name=name if name is not None else self.options.experiment_name,
            model_id=self.model_id,
            agent_id=self.agent_id,
            datasets=tuple(datasets if datasets is not None else self.options.datasets),
            hyperparameters=hp,
            tags=tuple(run_tags),
        )
        self._id.experiment_id = run.id
        self._phase = "running"
        self._summary = None
        self._monitor = ResourceMonitor() if self.options.resource_monitoring else None
        if resume_from is not None and resume_from.model_id == self.model_id:
            self.epoch, self.step = resume_from.epoch, resume_from.step
            self._checkpoints.begin(
                index=resume_from.index,
                last_version=resume_from.version,
                last_shapes={n: tuple(t.shape) for n, t in resume_from.weights.items()},
            )
        else:
            self.epoch, self.step = -1, 0
            self._checkpoints.begin(index=0, last_version=base_version, last_shapes=None)
        self._announce(
            TRAINING_STARTED,
            resumed_from=resume_from.version if resume_from else None,
            base_version=base_version,
        )
        return run.id

    def on_step(
        self,
        step: int,
        metrics: Mapping[str, Any] | None = None,
        *,
        epoch: int | None = None,
        model: Any = None,
        optimizer: Any = None,
        scheduler: Any = None,
        extra_state: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Log step metrics; checkpoint when the interval counts steps (returns the version)."""
        self._enter("on_step")
        if not isinstance(step, int) or step < self.step:
            raise CallbackOrderError(f"step {step!r} goes back (last step {self.step})")
        values = numeric(metrics)
        logged_epoch = values.pop("epoch", None)  # a framework's fractional epoch counter
        values.pop("step", None)
        if epoch is None and logged_epoch is not None and math.isfinite(logged_epoch):
            epoch = int(logged_epoch)
        record = None
        if values:
            run = self._running()

            def record() -> None:
                run.log_metrics(step, epoch=epoch, **values)

        self.step = step
        if (
            self.options.enable_auto_checkpointing
            and self.options.checkpoint_unit == "step"
            and model is not None
            and step > 0
            and step % self.options.checkpoint_interval == 0
            and self._knows_model()
        ):
            return self._checkpoint(
                "auto",
                model,
                optimizer,
                scheduler,
                epoch=self.epoch if epoch is None else epoch,
                metrics=values,
                extra_state=extra_state,
                before=record,
            )
        if record is not None:
            self._defer(record)
        return None

    def on_epoch_complete(
        self,
        epoch: int,
        metrics: Mapping[str, Any] | None,
        model: Any = None,
        optimizer: Any = None,
        scheduler: Any = None,
        *,
        step: int | None = None,
        extra_state: Mapping[str, Any] | None = None,
        log_metrics: bool = True,
    ) -> str | None:
        """Record the epoch; checkpoint per the interval. Returns the version name or None.

        ``metrics`` also go to the step metrics unless ``log_metrics`` is False
        (an adapter that already logged them through ``on_step``). Non-finite
        metrics never raise: they are stored (as 'nan'/'inf') and listed under
        ``nonFiniteMetrics`` in the checkpoint's metadata.
        """
        self._enter("on_epoch_complete")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch <= self.epoch:
            raise CallbackOrderError(
                f"epoch {epoch!r} does not follow epoch {self.epoch} of experiment "
                f"{self.experiment_id!r}; epochs must increase"
            )
        if step is not None:
            if step < self.step:
                raise CallbackOrderError(f"step {step!r} goes back (last step {self.step})")
            self.step = step
        values = numeric(metrics)
        values.pop("epoch", None)
        values.pop("step", None)
        run, step_now = self._running(), self.step

        def record() -> None:
            if values and log_metrics:
                run.log_metrics(step_now, epoch=epoch, **values)
            run.log_epoch(epoch, values)
            self._announce(
                EPOCH_COMPLETED, epoch=epoch, step=step_now, metrics=json_metrics(values)[0]
            )

        self.epoch = epoch
        if (
            self.options.enable_auto_checkpointing
            and self.options.checkpoint_unit == "epoch"
            and model is not None
            and (epoch + 1) % self.options.checkpoint_interval == 0
            and self._knows_model()
        ):
            return self._checkpoint(
                "auto",
                model,
                optimizer,
                scheduler,
                epoch=epoch,
                metrics=values,
                extra_state=extra_state,
                before=record,
            )
        self._defer(record)
        return None

    def on_model_save(
        self,
        model: Any,
        optimizer: Any = None,
        scheduler: Any = None,
        *,
        version: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        extra_state: Mapping[str, Any] | None = None,
        model_id: str | None = None,
    ) -> str:
        """Store a version now, whatever the interval; retention never frees it.

        ``model_id`` names the model when neither the options nor
        ``on_training_start`` did (the open run takes it too); it must match
        the model id once there is one.
        """
        self._check_open()
        self._saver.raise_pending()
        if model_id is not None:
            validate_id("model id", model_id)
            if self.model_id is not None and model_id != self.model_id:
                raise InvalidRecordError(
                    f"on_model_save(model_id={model_id!r}) but this integration trains "
                    f"{self.model_id!r}"
                )
        if self.model_id is None and model_id is None:
            raise CallbackOrderError(
                "on_model_save has no model id: pass model_id= (or give it to "
                "on_training_start or options.modelId)"
            )
        if version is not None:
            validate_id("version", version)
        if self.model_id is None and model_id is not None:
            self._id.model_id = model_id
            if self._run is not None and self._phase == "running":
                self._run.set_model_id(model_id)
        return self._checkpoint(
            "manual",
            model,
            optimizer,
            scheduler,
            epoch=self.epoch,
            metrics=numeric(metrics),
            extra_state=extra_state,
            version=version,
            tags=tags,
        )

    def on_training_complete(
        self,
        *,
        model: Any = None,
        optimizer: Any = None,
        scheduler: Any = None,
        final_metrics: Mapping[str, Any] | None = None,
        status: ExperimentStatus = "completed",
    ) -> dict[str, Any]:
        """Store the final model (``save_final``), wait for saves, finish the experiment.

        A second call returns the first call's summary and does nothing else.
        """
        if self._phase == "completed" and self._summary is not None:
            return self._summary
        self._check_open()
        if self._phase != "running":
            raise CallbackOrderError("on_training_complete before on_training_start")
        final_version = None
        failure: BaseException | None = None
        try:
            self._saver.raise_pending()
            if model is not None and self.options.save_final and self._knows_model():
                final_version = self._checkpoint(
                    "final",
                    model,
                    optimizer,
                    scheduler,
                    epoch=self.epoch,
                    metrics=numeric(final_metrics),
                    extra_state=None,
                )
            self._saver.flush()
        except BaseException as exc:
            failure = exc
            status = "failed"
        self._checkpoints.clear()
        run = self._running()
        if self._monitor is not None:
            run.set_resource_usage(self._monitor.usage())
        run.finish(status=status, final_metrics=final_scores(final_metrics))
        self._phase = "completed"
        self._summary = {
            "experiment_id": self.experiment_id,
            "model_id": self.model_id,
            "status": status,
            "versions": list(self.saved_versions),
            "pruned": list(self.pruned_versions),
            "final_version": final_version if failure is None else None,
            "resource_usage": self._monitor.usage() if self._monitor else None,
        }
        self._announce(
            TRAINING_COMPLETED,
            status=status,
            versions=list(self.saved_versions),
            final_version=self._summary["final_version"],
        )
        if failure is not None:
            raise failure
        return self._summary

    # -- internals -----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise CallbackOrderError("this training integration is closed")

    def _enter(self, callback: str) -> None:
        self._check_open()
        self._saver.raise_pending()
        if self._phase != "running":
            what = "after on_training_complete" if self._phase == "completed" else "before"
            raise CallbackOrderError(
                f"{callback} called {what}"
                + (" on_training_start" if self._phase == "idle" else "")
                + f" (model {self.model_id!r})"
            )

    def _knows_model(self) -> bool:
        """Whether a checkpoint can be named; logs once per run when it cannot."""
        if self.model_id is not None:
            return True
        if not self._skipped_without_model:
            self._skipped_without_model = True
            log.warning(
                "integration %s (agent %r): no model id yet, so no checkpoint is stored; "
                "give model_id to on_training_start or on_model_save",
                self.integration_id,
                self.agent_id,
            )
        return False

    def _running(self) -> ExperimentRun:
        """The open run (the phase is 'running')."""
        assert self._run is not None
        return self._run

    def _defer(self, job: Callable[[], None]) -> None:
        self._checkpoints.defer(job)

    def _announce(self, name: str, **payload: Any) -> None:
        self._id.announce(self._store, name, **payload)

    def _checkpoint(
        self,
        kind: CheckpointKind,
        model: Any,
        optimizer: Any,
        scheduler: Any,
        *,
        epoch: int,
        metrics: Mapping[str, float],
        extra_state: Mapping[str, Any] | None,
        version: str | None = None,
        tags: Sequence[str] = (),
        before: Callable[[], None] | None = None,
    ) -> str:
        """A checkpoint at the current step, recorded on the open run (if any)."""
        return self._checkpoints.save(
            kind,
            model,
            optimizer,
            scheduler,
            epoch=epoch,
            step=self.step,
            metrics=metrics,
            extra_state=extra_state,
            run=self._run if self._phase == "running" else None,
            monitor=self._monitor,
            version=version,
            tags=tags,
            before=before,
        )
