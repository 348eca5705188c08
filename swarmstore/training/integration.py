"""The object ``integrate_with_neural_service`` returns: training-loop callbacks.

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

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from swarmstore.errors import (
    CallbackOrderError,
    CheckpointSaveError,
    InvalidRecordError,
    NotFoundError,
    SwarmStoreError,
    VersionExistsError,
    VersionInUseError,
)
from swarmstore.events import (
    CHECKPOINT_SAVED,
    EPOCH_COMPLETED,
    MODEL_SAVED,
    TRAINING_COMPLETED,
    TRAINING_STARTED,
)
from swarmstore.ids import validate_id
from swarmstore.training.announce import announce
from swarmstore.training.catalog import TRAINING_KEY, CheckpointKind, training_versions
from swarmstore.training.history import headline, numeric
from swarmstore.training.naming import VersionNaming
from swarmstore.training.options import IntegrationOptions
from swarmstore.training.plan import SnapshotPlanner
from swarmstore.training.resources import ResourceMonitor
from swarmstore.training.resume import ResumeState
from swarmstore.training.retention import KeepLast, RetentionPolicy, policies_from, prune_plan
from swarmstore.training.saver import CheckpointSaver
from swarmstore.training.snapshot import (
    SnapshotBuffers,
    TrainingSnapshot,
    json_metrics,
    take_snapshot,
)

if TYPE_CHECKING:
    from swarmstore.manager import SwarmDatabaseManager

_MAX_NAME_ATTEMPTS = 100


class NeuralServiceIntegration:
    """Callbacks for one agent's training loop; one run at a time.

    Not thread-safe: call it from the training thread. Background saves run
    on its own worker and report back through the next callback.
    """

    def __init__(
        self,
        db: SwarmDatabaseManager,
        swarm_id: str,
        agent_id: str,
        options: IntegrationOptions,
    ) -> None:
        self.swarm_id = validate_id("swarm_id", swarm_id)
        self.agent_id = validate_id("agent_id", agent_id)
        self.options = options
        self._db = db
        self._naming = VersionNaming(options.version_format)
        self._naming.check()
        if options.model_id is not None:
            validate_id("model id", options.model_id)
        self._policies: list[RetentionPolicy] = policies_from(options.retention)
        if not options.enable_model_versioning:
            self._policies = [KeepLast(1)]
        self._saver = CheckpointSaver(
            background=options.async_save, max_pending=options.max_pending_saves
        )
        self._lock = threading.Lock()
        self._buffers = SnapshotBuffers()
        self._planner = SnapshotPlanner()
        self._phase = "idle"
        self._run: Any = None
        self._summary: dict[str, Any] | None = None
        self._monitor: ResourceMonitor | None = None
        self.model_id: str | None = options.model_id
        self.experiment_id: str | None = None
        self.epoch = -1
        self.step = 0
        self.checkpoint_index = 0
        self._last_version: str | None = None
        self._last_shapes: dict[str, tuple[int, ...]] | None = None
        self.saved_versions: list[str] = []
        self.save_wait_seconds = 0.0  # callbacks' time waiting for an earlier background save
        self.pruned_versions: list[str] = []
        self._closed = False

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
        """
        self._check_open()
        self._saver.raise_pending()
        if self._phase == "running":
            raise CallbackOrderError(
                f"training of {self.model_id!r} already started (experiment "
                f"{self.experiment_id!r}); call on_training_complete first"
            )
        model_id = model_id or (resume_from.model_id if resume_from else None) or self.model_id
        if model_id is None:
            raise CallbackOrderError(
                "on_training_start needs model_id= (or options.model_id) to know what it trains"
            )
        if base_version is not None:
            if resume_from is not None:
                raise InvalidRecordError(
                    f"on_training_start got resume_from={resume_from.version!r} and "
                    f"base_version={base_version!r}: a resumed run's parent is its checkpoint"
                )
            validate_id("version", base_version)
            self._db._models.locate(self.swarm_id, model_id, base_version)  # raises if missing
        self.model_id = validate_id("model id", model_id)
        hp = {**self.options.hyperparameters, **dict(hyperparameters or {})}
        run_tags = [*self.options.tags, *tags]
        if resume_from is not None:
            run_tags.append(f"resumed-from:{resume_from.version}")
        resume_run = False
        if experiment_id is None and resume_from is not None:
            experiment_id, resume_run = self._continued_experiment(resume_from)
        self._run = self._db.start_experiment(
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
        self.experiment_id = self._run.id
        self._phase = "running"
        self._summary = None
        self._monitor = ResourceMonitor() if self.options.resource_monitoring else None
        if resume_from is not None and resume_from.model_id == self.model_id:
            self.epoch, self.step = resume_from.epoch, resume_from.step
            self.checkpoint_index = resume_from.index
            self._last_version = resume_from.version
            self._last_shapes = {n: tuple(t.shape) for n, t in resume_from.weights.items()}
        else:
            self.epoch, self.step, self.checkpoint_index = -1, 0, 0
            self._last_version, self._last_shapes = base_version, None
        self._announce(
            TRAINING_STARTED,
            resumed_from=resume_from.version if resume_from else None,
            base_version=base_version,
        )
        return self.experiment_id

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
            run = self._run

            def record() -> None:
                run.log_metrics(step, epoch=epoch, **values)

        self.step = step
        if (
            self.options.enable_auto_checkpointing
            and self.options.checkpoint_unit == "step"
            and model is not None
            and step > 0
            and step % self.options.checkpoint_interval == 0
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
        run, step_now = self._run, self.step

        def record() -> None:
            if values and log_metrics:
                run.log_metrics(step_now, epoch=epoch, **values)
            run.log_epoch(epoch, values)
            self._announce(EPOCH_COMPLETED, epoch=epoch, step=step_now, metrics=_json_safe(values))

        self.epoch = epoch
        if (
            self.options.enable_auto_checkpointing
            and self.options.checkpoint_unit == "epoch"
            and model is not None
            and (epoch + 1) % self.options.checkpoint_interval == 0
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
    ) -> str:
        """Store a version now, whatever the interval; retention never frees it."""
        self._check_open()
        self._saver.raise_pending()
        if self.model_id is None:
            raise CallbackOrderError("on_model_save before on_training_start: no model id yet")
        if version is not None:
            validate_id("version", version)
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
        status: str = "completed",
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
            if model is not None and self.options.save_final:
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
        self._buffers.clear()
        self._planner.clear()
        if self._monitor is not None:
            self._run.set_resource_usage(self._monitor.usage())
        self._run.finish(status=status, final_metrics=_final_metrics(final_metrics))
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

    # -- control -------------------------------------------------------------

    def flush(self) -> None:
        """Wait for background saves and write buffered metrics; raise a failed save's error."""
        try:
            self._saver.flush()
        finally:
            if self._run is not None and self._phase == "running":
                self._run.flush()

    def close(self) -> None:
        """Flush and stop the save worker; an unfinished run is finished as 'paused'."""
        if self._closed:
            return
        try:
            self._saver.close()
        finally:
            self._closed = True
            self._buffers.clear()
            self._planner.clear()
            if self._run is not None and self._phase == "running":
                if self._monitor is not None:
                    self._run.set_resource_usage(self._monitor.usage())
                self._run.finish(status="paused")
                self._phase = "completed"

    @property
    def running(self) -> bool:
        """Between ``on_training_start`` and ``on_training_complete``."""
        return self._phase == "running"

    @property
    def pending_saves(self) -> int:
        return self._saver.in_flight

    def __enter__(self) -> NeuralServiceIntegration:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

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

    def _continued_experiment(self, state: ResumeState) -> tuple[str | None, bool]:
        """Go on with the checkpoint's experiment when its history ends at the checkpoint;
        a run that logged epochs past it (killed before saving them) gets a new one."""
        if state.experiment_id is None or state.model_id != self.model_id:
            return None, False
        try:
            record = self._db.get_training_experiment(self.swarm_id, state.experiment_id)
        except NotFoundError:
            return None, False
        history = record.metrics.training_history
        if history and history[-1].epoch > state.epoch:
            return None, False
        return state.experiment_id, True

    def _defer(self, job: Callable[[], None], *, raise_first: bool = True) -> None:
        """Store bookkeeping in order with the saves: on the worker when saving in the
        background (the loop never waits on SQL), at once otherwise."""
        self._saver.submit(job, bounded=False, raise_first=raise_first)

    def _announce(self, name: str, **payload: Any) -> None:
        announce(
            self._db._meta,
            self._db._events,
            name,
            self.swarm_id,
            {
                "agent_id": self.agent_id,
                "model_id": self.model_id,
                "experiment_id": self.experiment_id,
                **payload,
            },
        )

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
        """Snapshot now, then queue ``before`` (the callback's history rows) and the write.

        With background saves the callback first waits while ``max_pending``
        saves are still running (a real stall, counted in ``save_wait_seconds``),
        then copies with the worker idle; ``before`` and the write are queued
        last, so the worker's SQL never competes with the copy for the GIL.
        """
        started = time.perf_counter()
        waited = self._saver.wait_for_room()
        self.save_wait_seconds += waited
        buffers = self._buffers.acquire() if self.options.async_save else None
        submitted = False
        try:
            try:
                snapshot = take_snapshot(
                    model,
                    epoch=epoch,
                    step=self.step,
                    metrics=metrics,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    extra_state=extra_state,
                    buffers=buffers,
                    planner=self._planner,
                )
            except BaseException:
                if before is not None:
                    self._defer(before, raise_first=False)  # the epoch is still recorded
                raise
            if kind == "auto":
                self.checkpoint_index += 1
            assert self.model_id is not None
            name = version or self._naming.name(
                epoch=max(epoch, 0),
                step=self.step,
                index=self.checkpoint_index,
                experiment=self.experiment_id or "",
                model=self.model_id,
            )
            if version is None and kind != "auto":
                name = f"{name}-{kind}"  # 'e0009-s00000900-final' beside that epoch's auto save
            shapes = snapshot.shapes
            changed = _shape_changes(self._last_shapes, shapes)
            self._last_shapes = shapes
            index = self.checkpoint_index
            run = self._run if self._phase == "running" else None

            def write() -> str:
                try:
                    failure: BaseException | None = None
                    if before is not None:
                        try:
                            before()  # the callback's history rows, in order before the save
                        except BaseException as exc:
                            failure = exc  # reported like a failed save; the save still runs
                    stored = self._write(snapshot, name, kind, index, changed, list(tags), run)
                    if failure is not None:
                        raise failure
                    return stored
                finally:
                    if buffers is not None:
                        self._buffers.release(buffers)  # the next snapshot may reuse them

            try:
                self._saver.raise_pending()
            except BaseException:
                if before is not None:
                    self._defer(before, raise_first=False)  # the epoch is still recorded
                raise
            self._saver.submit(write)  # one job: the worker wakes once, after the copy
            submitted = True
        finally:
            if buffers is not None and not submitted:
                self._buffers.release(buffers)
        if self._monitor is not None:
            self._monitor.add_stall(time.perf_counter() - started, waited)
        return name

    def _metadata(
        self,
        snapshot: TrainingSnapshot,
        kind: CheckpointKind,
        index: int,
        changed: list[str],
        parent: str | None,
    ) -> dict[str, Any]:
        retention = self.options.retention
        training = {
            "kind": kind,
            "experimentId": self.experiment_id,
            "agentId": self.agent_id,
            "epoch": snapshot.epoch,
            "step": snapshot.step,
            "index": index,
            "metrics": snapshot.metrics,
            "nonFiniteMetrics": snapshot.non_finite,
            "shapeChanged": changed,
            "previousCheckpoint": self._last_version,
            "deltaParent": parent,
            "rankMetric": retention.metric,
            "rankMode": retention.mode,
            "state": snapshot.skeleton,
        }
        numbers = {k: v for k, v in snapshot.metrics.items() if isinstance(v, int | float)}
        return {
            "trainingEpochs": max(snapshot.epoch + 1, 0),
            **headline(numbers),
            TRAINING_KEY: training,
        }

    def _write(
        self,
        snapshot: TrainingSnapshot,
        base_name: str,
        kind: CheckpointKind,
        index: int,
        changed: list[str],
        tags: list[str],
        run: Any,
    ) -> str:
        """Store one snapshot (on the worker when async), then apply retention."""
        assert self.model_id is not None
        started = time.perf_counter()
        with self._lock:
            parent = self._last_version if self.options.incremental else None
        record: dict[str, Any] = {
            "id": self.model_id,
            "agentId": self.agent_id,
            "modelName": self.options.model_name or self.model_id,
            "architecture": self.options.architecture,
            "weights": snapshot.weights,
            "state": snapshot.state,
            "metadata": self._metadata(snapshot, kind, index, changed, parent),
            "parentVersion": parent,
            "tags": [*self.options.tags, f"checkpoint:{kind}", *tags],
        }
        name = base_name
        stored = None
        for attempt in range(1, _MAX_NAME_ATTEMPTS + 1):
            name = self._naming.retry(base_name, attempt)
            try:
                stored = self._db.store_neural_model(self.swarm_id, {**record, "version": name})
                break
            except VersionExistsError:
                continue
            except Exception as exc:
                raise CheckpointSaveError(
                    f"checkpoint {name!r} of model {self.model_id!r} in swarm "
                    f"{self.swarm_id!r} was not saved: {type(exc).__name__}: {exc}",
                    swarm_id=self.swarm_id,
                    model_id=self.model_id,
                    version=name,
                ) from exc
        if stored is None:
            raise CheckpointSaveError(
                f"no free version name like {base_name!r} for model {self.model_id!r}",
                swarm_id=self.swarm_id,
                model_id=self.model_id,
                version=base_name,
            )
        with self._lock:
            self._last_version = name
            self.saved_versions.append(name)
        if run is not None:
            run.add_checkpoint(self.model_id, name)
        if self._monitor is not None:
            self._monitor.add_save(stored.metadata.stored_size or 0, time.perf_counter() - started)
        self._announce(
            CHECKPOINT_SAVED if kind == "auto" else MODEL_SAVED,
            version=name,
            kind=kind,
            epoch=snapshot.epoch,
            step=snapshot.step,
            parent_version=parent,
            checkpoint_type=stored.metadata.checkpoint_type,
            stored_size=stored.metadata.stored_size,
            shape_changed=changed,
        )
        if kind == "auto":
            self._retain()
        return name

    def _retain(self) -> None:
        if not self._policies:
            return
        assert self.model_id is not None
        try:
            autos = [
                c
                for c in training_versions(self._db._meta, self.swarm_id, self.model_id)
                if c.kind == "auto"
            ]
            for version in prune_plan(autos, self._policies):
                try:
                    self._db.delete_model_version(self.swarm_id, self.model_id, version)
                except (VersionInUseError, NotFoundError):
                    continue  # a registry entry or deployment holds it, or it is gone
                with self._lock:
                    self.pruned_versions.append(version)
        except SwarmStoreError as exc:
            raise CheckpointSaveError(
                f"retention of model {self.model_id!r} failed: {exc}",
                swarm_id=self.swarm_id,
                model_id=self.model_id,
            ) from exc


def _shape_changes(
    before: dict[str, tuple[int, ...]] | None, after: dict[str, tuple[int, ...]]
) -> list[str]:
    if before is None or before is after:  # a snapshot plan's shapes: nothing changed
        return []
    return sorted(n for n, s in after.items() if n in before and before[n] != s)


def _json_safe(values: Mapping[str, float]) -> dict[str, Any]:
    return json_metrics(values)[0]


def _final_metrics(metrics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The finished model's scores: named fractions kept, the rest as custom metrics."""
    values = numeric(metrics)
    if not values:
        return None
    named = ("accuracy", "precision", "recall", "f1_score", "auc")
    out: dict[str, Any] = {}
    custom: dict[str, float] = {}
    for key, value in values.items():
        if not math.isfinite(value):
            continue
        if key in named and 0.0 <= value <= 1.0:
            out[key] = value
        else:
            custom[key] = value
    if custom:
        out["custom_metrics"] = custom
    return out
