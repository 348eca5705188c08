"""Writing a run's checkpoints: snapshot, store, retention.

``Checkpoints.save`` is what a callback calls when a checkpoint is due:

1. the snapshot is taken on the training thread (``take_snapshot``), after
   waiting while ``max_pending`` background saves are still running;
2. the write is queued on the ``CheckpointSaver`` (or runs at once in the
   foreground): the callback's own history rows first, then one
   ``NeuralModelRecord`` stored through the port, as a delta against the
   previous checkpoint, under the next free version name;
3. after an auto-checkpoint, retention frees what the policy no longer keeps
   (a version that a registry entry or deployment holds is kept).

A failed store raises ``CheckpointSaveError`` (at once in the foreground, at
the next callback in the background); the next checkpoint deltas against
the last one that was written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from swarmstore.errors import (
    CheckpointSaveError,
    NotFoundError,
    SwarmStoreError,
    VersionExistsError,
    VersionInUseError,
)
from swarmstore.events import CHECKPOINT_SAVED, MODEL_SAVED
from swarmstore.records.model import NeuralModelMetadata, NeuralModelRecord
from swarmstore.training.announce import RunIdentity
from swarmstore.training.catalog import TRAINING_KEY, CheckpointKind
from swarmstore.training.history import headline
from swarmstore.training.naming import VersionNaming
from swarmstore.training.options import IntegrationOptions
from swarmstore.training.plan import SnapshotPlanner
from swarmstore.training.port import TrainingPort
from swarmstore.training.resources import ResourceMonitor
from swarmstore.training.retention import KeepLast, RetentionPolicy, policies_from, prune_plan
from swarmstore.training.saver import CheckpointSaver
from swarmstore.training.snapshot import SnapshotBuffers, TrainingSnapshot, take_snapshot

if TYPE_CHECKING:
    from swarmstore.experiments.run import ExperimentRun

_MAX_NAME_ATTEMPTS = 100


class Checkpoints:
    """The checkpoint writer of one integration; runs are started by its callbacks.

    ``index`` counts auto-checkpoints; ``last_version`` is the newest version
    written (the next delta's parent). ``saved_versions``, ``pruned_versions``
    and ``save_wait_seconds`` (callbacks' time waiting for an earlier
    background save) accumulate over the integration's runs.
    """

    def __init__(self, port: TrainingPort, run: RunIdentity, options: IntegrationOptions) -> None:
        self._port = port
        self._id = run
        self.options = options
        self._naming = VersionNaming(options.version_format)
        self._naming.check()
        self._policies: list[RetentionPolicy] = policies_from(options.retention)
        if not options.enable_model_versioning:
            self._policies = [KeepLast(1)]
        self.saver = CheckpointSaver(
            background=options.async_save, max_pending=options.max_pending_saves
        )
        self._lock = threading.Lock()
        self._buffers = SnapshotBuffers()
        self._planner = SnapshotPlanner()
        self.index = 0
        self.last_version: str | None = None
        self._last_shapes: dict[str, tuple[int, ...]] | None = None
        self.saved_versions: list[str] = []
        self.pruned_versions: list[str] = []
        self.save_wait_seconds = 0.0

    def begin(
        self,
        *,
        index: int,
        last_version: str | None,
        last_shapes: dict[str, tuple[int, ...]] | None,
    ) -> None:
        """A run starts: its first checkpoint follows ``last_version`` (None: a full frame)."""
        self.index = index
        self.last_version = last_version
        self._last_shapes = last_shapes

    def clear(self) -> None:
        """Drop the snapshot buffers and plan (the run is over)."""
        self._buffers.clear()
        self._planner.clear()

    def defer(self, job: Callable[[], None], *, raise_first: bool = True) -> None:
        """Store bookkeeping in order with the saves: on the worker when saving in the
        background (the loop never waits on SQL), at once otherwise."""
        self.saver.submit(job, bounded=False, raise_first=raise_first)

    def save(
        self,
        kind: CheckpointKind,
        model: Any,
        optimizer: Any,
        scheduler: Any,
        *,
        epoch: int,
        step: int,
        metrics: Mapping[str, float],
        extra_state: Mapping[str, Any] | None,
        run: ExperimentRun | None,
        monitor: ResourceMonitor | None,
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
        waited = self.saver.wait_for_room()
        self.save_wait_seconds += waited
        buffers = self._buffers.acquire() if self.options.async_save else None
        submitted = False
        try:
            try:
                snapshot = take_snapshot(
                    model,
                    epoch=epoch,
                    step=step,
                    metrics=metrics,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    extra_state=extra_state,
                    buffers=buffers,
                    planner=self._planner,
                )
            except BaseException:
                if before is not None:
                    self.defer(before, raise_first=False)  # the epoch is still recorded
                raise
            if kind == "auto":
                self.index += 1
            model_id = self._id.model_id
            assert model_id is not None
            name = version or self._naming.name(
                epoch=max(epoch, 0),
                step=step,
                index=self.index,
                experiment=self._id.experiment_id or "",
                model=model_id,
            )
            if version is None and kind != "auto":
                name = f"{name}-{kind}"  # 'e0009-s00000900-final' beside that epoch's auto save
            shapes = snapshot.shapes
            changed = _shape_changes(self._last_shapes, shapes)
            self._last_shapes = shapes
            index = self.index

            def write() -> str:
                try:
                    failure: BaseException | None = None
                    if before is not None:
                        try:
                            before()  # the callback's history rows, in order before the save
                        except BaseException as exc:
                            failure = exc  # reported like a failed save; the save still runs
                    stored = self._write(
                        snapshot, name, kind, index, changed, list(tags), run, monitor
                    )
                    if failure is not None:
                        raise failure
                    return stored
                finally:
                    if buffers is not None:
                        self._buffers.release(buffers)  # the next snapshot may reuse them

            try:
                self.saver.raise_pending()
            except BaseException:
                if before is not None:
                    self.defer(before, raise_first=False)  # the epoch is still recorded
                raise
            self.saver.submit(write)  # one job: the worker wakes once, after the copy
            submitted = True
        finally:
            if buffers is not None and not submitted:
                self._buffers.release(buffers)
        if monitor is not None:
            monitor.add_stall(time.perf_counter() - started, waited)
        return name

    def _metadata(
        self,
        snapshot: TrainingSnapshot,
        kind: CheckpointKind,
        index: int,
        changed: list[str],
        parent: str | None,
    ) -> NeuralModelMetadata:
        retention = self.options.retention
        training = {
            "kind": kind,
            "experimentId": self._id.experiment_id,
            "agentId": self._id.agent_id,
            "epoch": snapshot.epoch,
            "step": snapshot.step,
            "index": index,
            "metrics": snapshot.metrics,
            "nonFiniteMetrics": snapshot.non_finite,
            "shapeChanged": changed,
            "previousCheckpoint": self.last_version,
            "deltaParent": parent,
            "rankMetric": retention.metric,
            "rankMode": retention.mode,
            "state": snapshot.skeleton,
        }
        numbers = {k: v for k, v in snapshot.metrics.items() if isinstance(v, int | float)}
        scores = headline(numbers)
        extra: dict[str, Any] = {TRAINING_KEY: training}
        return NeuralModelMetadata(
            training_epochs=max(snapshot.epoch + 1, 0),
            accuracy=scores.get("accuracy"),
            loss=scores.get("loss"),
            **extra,
        )

    def _write(
        self,
        snapshot: TrainingSnapshot,
        base_name: str,
        kind: CheckpointKind,
        index: int,
        changed: list[str],
        tags: list[str],
        run: ExperimentRun | None,
        monitor: ResourceMonitor | None,
    ) -> str:
        """Store one snapshot (on the worker when async), then apply retention."""
        swarm_id, model_id = self._id.swarm_id, self._id.model_id
        assert model_id is not None
        started = time.perf_counter()
        with self._lock:
            parent = self.last_version if self.options.incremental else None
        metadata = self._metadata(snapshot, kind, index, changed, parent)
        name = base_name
        stored = None
        for attempt in range(1, _MAX_NAME_ATTEMPTS + 1):
            name = self._naming.retry(base_name, attempt)
            try:
                record = NeuralModelRecord(
                    id=model_id,
                    agent_id=self._id.agent_id,
                    model_name=self.options.model_name or model_id,
                    version=name,
                    architecture=self.options.architecture,
                    weights=snapshot.weights,
                    state=snapshot.state,
                    metadata=metadata,
                    parent_version=parent,
                    tags=[*self.options.tags, f"checkpoint:{kind}", *tags],
                )
                stored = self._port.store_neural_model(swarm_id, record)
                break
            except VersionExistsError:
                continue
            except Exception as exc:
                raise CheckpointSaveError(
                    f"checkpoint {name!r} of model {model_id!r} in swarm "
                    f"{swarm_id!r} was not saved: {type(exc).__name__}: {exc}",
                    swarm_id=swarm_id,
                    model_id=model_id,
                    version=name,
                ) from exc
        if stored is None:
            raise CheckpointSaveError(
                f"no free version name like {base_name!r} for model {model_id!r}",
                swarm_id=swarm_id,
                model_id=model_id,
                version=base_name,
            )
        with self._lock:
            self.last_version = name
            self.saved_versions.append(name)
        if run is not None:
            run.add_checkpoint(model_id, name)
        if monitor is not None:
            monitor.add_save(stored.metadata.stored_size or 0, time.perf_counter() - started)
        self._id.announce(
            self._port,
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
            self._retain(swarm_id, model_id)
        return name

    def _retain(self, swarm_id: str, model_id: str) -> None:
        if not self._policies:
            return
        try:
            autos = [
                c for c in self._port.training_checkpoints(swarm_id, model_id) if c.kind == "auto"
            ]
            for version in prune_plan(autos, self._policies):
                try:
                    self._port.delete_model_version(swarm_id, model_id, version)
                except (VersionInUseError, NotFoundError):
                    continue  # a registry entry or deployment holds it, or it is gone
                with self._lock:
                    self.pruned_versions.append(version)
        except SwarmStoreError as exc:
            raise CheckpointSaveError(
                f"retention of model {model_id!r} failed: {exc}",
                swarm_id=swarm_id,
                model_id=model_id,
            ) from exc


def _shape_changes(
    before: dict[str, tuple[int, ...]] | None, after: dict[str, tuple[int, ...]]
) -> list[str]:
    if before is None or before is after:  # a snapshot plan's shapes: nothing changed
        return []
    return sorted(n for n, s in after.items() if n in before and before[n] != s)
