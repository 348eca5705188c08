"""``ExperimentRun``: a training loop's handle on one experiment.

Durability: ``log_metrics`` / ``log_batch`` only append to an in-memory
buffer. The buffer is written in one SQL
transaction every ``flush_every`` points, at ``flush()``, at ``log_epoch``
and at ``finish``; a point is durable once one of those returned. A crash
loses at most the unflushed points, never a flushed one. A run writes
through a ``RunWriter`` (the ``ExperimentService`` that made it).

Non-finite values never raise here (a NaN loss must not kill training):
they are stored exactly and flagged (``MetricHistory.non_finite``); an epoch
value that its ``trainingHistory`` column cannot hold (a NaN accuracy) is
kept in that row's ``customMetrics`` instead.

Threads: any thread may log, flush or ``add_checkpoint`` (a background
checkpoint saver) at the same time; writes are serialized per run. After
``finish`` every method but ``finish`` raises ``ExperimentFinishedError``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol

from swarmstore.analytics.convergence import analyze_convergence
from swarmstore.errors import ExperimentFinishedError, InvalidRecordError
from swarmstore.experiments.points import Point
from swarmstore.meta.tables import ID_LENGTH
from swarmstore.records.base import utc_now
from swarmstore.records.dataset import InvalidFieldError
from swarmstore.records.experiment import (
    EpochMetrics,
    ExperimentStatus,
    FinalMetrics,
    ResourceUsage,
    TrainingExperiment,
)

# trainingHistory columns by the names loops give them (snake_case, camelCase, short)
_ALIASES: dict[str, tuple[str, ...]] = {
    "training_loss": ("trainingLoss", "train_loss", "loss"),
    "validation_loss": ("validationLoss", "val_loss", "eval_loss"),
    "training_accuracy": ("trainingAccuracy", "train_accuracy", "train_acc", "accuracy", "acc"),
    "validation_accuracy": ("validationAccuracy", "val_accuracy", "val_acc", "eval_accuracy"),
    "learning_rate": ("learningRate", "lr"),
}
_COLUMNS = {alias: name for name, aliases in _ALIASES.items() for alias in (name, *aliases)}
_FINISHED: tuple[ExperimentStatus, ...] = ("completed", "failed", "paused")
# what the step (BIGINT) and epoch (INTEGER) columns hold; checked when logged,
# so a bad value raises at the call instead of failing every later flush
_MAX_STEP, _MAX_EPOCH = 2**63 - 1, 2**31 - 1


def _number(key: object, value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidRecordError(f"metric {key!r} is a bool, not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidRecordError(
            f"metric {key!r} must be a number, got {type(value).__name__}"
        ) from None


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not key or len(key) > ID_LENGTH:
        raise InvalidRecordError(f"metric key must be a string of 1..{ID_LENGTH} chars: {key!r}")
    return key


def _fits(column: str, value: float) -> bool:
    if column in ("training_loss", "validation_loss"):
        return value != -math.inf
    if not math.isfinite(value) or value < 0:
        return False
    return column == "learning_rate" or value <= 1.0


class RunWriter(Protocol):
    """The writes a run makes (``ExperimentService`` implements them; it makes the runs)."""

    def write_progress(
        self, pk: int, points: Sequence[Point], record: TrainingExperiment | None
    ) -> None: ...

    def add_checkpoint(
        self, swarm_id: str, pk: int, run_model_id: str, model_id: str, version: str, position: int
    ) -> str | None: ...

    def finish(
        self, pk: int, swarm_id: str, points: Sequence[Point], record: TrainingExperiment
    ) -> TrainingExperiment: ...


def epoch_row(epoch: int, metrics: Mapping[str, Any], timestamp: float) -> EpochMetrics:
    """A ``trainingHistory`` row; values a column cannot hold go to ``customMetrics``."""
    columns: dict[str, float] = {}
    custom: dict[str, float] = {}
    for key, raw in metrics.items():
        value = _number(key, raw)
        column = _COLUMNS.get(key)
        if column is not None and column not in columns and _fits(column, value):
            columns[column] = value
        else:
            custom[str(key)] = value
    return EpochMetrics(
        epoch=epoch,
        timestamp=datetime.fromtimestamp(timestamp, UTC),
        custom_metrics=custom,
        **columns,
    )


class ExperimentRun:
    """Made by ``db.start_experiment``; see the module docstring."""

    def __init__(
        self,
        writer: RunWriter,
        swarm_id: str,
        experiment_id: str,
        *,
        pk: int,
        record: TrainingExperiment,
        checkpoint_count: int,
        flush_every: int,
    ) -> None:
        self._writer = writer
        self.swarm_id = swarm_id
        self.id = experiment_id
        self._pk = pk
        self._record = record
        self._history = list(record.metrics.training_history)
        self._history_dirty = False
        self._checkpoints = checkpoint_count
        self._usage: ResourceUsage | None = None
        self._flush_every = flush_every
        self._buffer: list[Point] = []
        self._last_step = 0
        self._lock = threading.Lock()  # buffer and in-memory state
        self._io = threading.RLock()  # one write at a time; finish vs. everything
        self._status: ExperimentStatus | None = None  # set when finished
        self._result: TrainingExperiment | None = None

    # -- logging ---------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._status is not None

    def _live(self) -> None:
        if self._status is not None:
            raise ExperimentFinishedError(self.swarm_id, self.id, self._status)

    def log_metrics(self, step: int, *, epoch: int | None = None, **values: float) -> None:
        """Buffer one value per keyword at ``step`` (see the module docstring)."""
        self._live()
        if type(step) is not int or not 0 <= step <= _MAX_STEP:
            step = self._integer("step", step)
        if epoch is not None and (type(epoch) is not int or not 0 <= epoch <= _MAX_EPOCH):
            epoch = self._integer("epoch", epoch, _MAX_EPOCH)
        now = time.time()
        points = []
        for key, value in values.items():
            if len(key) > ID_LENGTH:
                _check_key(key)
            points.append(
                (key, step, epoch, value if type(value) is float else _number(key, value), now)
            )
        with self._lock:
            self._buffer.extend(points)
            self._last_step = step
            full = len(self._buffer) >= self._flush_every
        if full:
            self.flush()

    def log_batch(self, points: Iterable[tuple[str, int, float]]) -> None:
        """Buffer ``(key, step, value)`` triples (validated first: all or nothing)."""
        self._live()
        now = time.time()
        batch: list[Point] = []
        for entry in points:
            try:
                key, step, value = entry
            except (TypeError, ValueError):
                raise InvalidRecordError(
                    f"a point must be (key, step, value), got {entry!r}"
                ) from None
            if type(step) is not int or not 0 <= step <= _MAX_STEP:
                step = self._integer("step", step)
            batch.append(
                (
                    _check_key(key),
                    step,
                    None,
                    value if type(value) is float else _number(key, value),
                    now,
                )
            )
        if not batch:
            return
        with self._lock:
            self._buffer.extend(batch)
            self._last_step = batch[-1][1]
            full = len(self._buffer) >= self._flush_every
        if full:
            self.flush()

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Append a ``trainingHistory`` row and flush (the epoch is durable on return).

        Epochs must increase (``InvalidFieldError`` otherwise, nothing logged)."""
        self._live()
        epoch = self._integer("epoch", epoch, _MAX_EPOCH)
        if not isinstance(metrics, Mapping):
            raise InvalidRecordError(
                f"epoch metrics must be a mapping, not {type(metrics).__name__}"
            )
        row = epoch_row(epoch, metrics, time.time())
        with self._lock:
            if self._history and self._history[-1].epoch >= epoch:
                raise InvalidFieldError(
                    f"epoch {epoch} does not follow epoch {self._history[-1].epoch}; "
                    "epochs must increase",
                    field="epoch",
                )
            self._history.append(row)
            self._history_dirty = True
        self.flush()

    def add_checkpoint(self, model_id: str, version: str) -> None:
        """Record that this run produced a stored model version (checked: an unknown
        one raises ``ModelNotFoundError``). Safe from a saver thread; idempotent."""
        with self._io:
            self._live()
            ref = self._writer.add_checkpoint(
                self.swarm_id, self._pk, self._record.model_id, model_id, version, self._checkpoints
            )
            if ref is not None:
                self._checkpoints += 1

    def set_model_id(self, model_id: str) -> None:
        """Name the run's model when it opened without one (written at ``finish``);
        a run that has a model id keeps it."""
        with self._io, self._lock:
            self._live()
            if not self._record.model_id:
                self._record = self._record.model_copy(update={"model_id": model_id})

    def set_resource_usage(self, usage: Mapping[str, Any]) -> None:
        """Totals written at ``finish`` (cpuHours, gpuHours, memoryPeak, storageUsed, ...)."""
        self._live()
        parsed = (
            usage if isinstance(usage, ResourceUsage) else ResourceUsage.model_validate(dict(usage))
        )
        with self._lock:
            self._usage = parsed

    # -- writing -----------------------------------------------------------------

    def _take(self) -> tuple[list[Point], TrainingExperiment | None]:
        with self._lock:
            points, self._buffer = self._buffer, []
            record = self._snapshot() if self._history_dirty else None
            self._history_dirty = False
        return points, record

    def _snapshot(self, **update: Any) -> TrainingExperiment:
        metrics = self._record.metrics.model_copy(update={"training_history": list(self._history)})
        fields: dict[str, Any] = {"metrics": metrics, **update}
        if self._usage is not None:
            fields["resource_usage"] = self._usage
        return self._record.model_copy(update=fields)

    def flush(self) -> None:
        """Write buffered points (and a new epoch) in one transaction; durable on return."""
        with self._io:
            self._live()
            points, record = self._take()
            try:
                self._writer.write_progress(self._pk, points, record)
            except BaseException:
                with self._lock:  # keep them for the next try
                    self._buffer[:0] = points
                    self._history_dirty = self._history_dirty or record is not None
                raise

    def finish(
        self, status: ExperimentStatus = "completed", final_metrics: Mapping[str, Any] | None = None
    ) -> TrainingExperiment:
        """Flush, compute the convergence analysis, store the final record; fires
        ``experiment_finished`` and ``training_experiment_stored``. A second call
        returns the first result. Non-finite final metrics are left out of
        ``finalMetrics`` and kept as flagged points ``finalMetrics.<name>``."""
        with self._io:
            if self._result is not None:
                return self._result
            if status not in _FINISHED:
                raise InvalidRecordError(
                    f"finish status must be one of {_FINISHED}, not {status!r}"
                )
            final, flagged = self._final_metrics(final_metrics)
            points, _ = self._take()
            now = time.time()
            points += [(f"finalMetrics.{k}", self._last_step, None, v, now) for k, v in flagged]
            with self._lock:
                history = list(self._history)
            metrics = self._record.metrics.model_copy(
                update={
                    "training_history": history,
                    "final_metrics": final
                    if final is not None
                    else self._record.metrics.final_metrics,
                    "convergence_analysis": analyze_convergence(history),
                }
            )
            update: dict[str, Any] = {"metrics": metrics, "status": status}
            if status != "paused":
                update["completed_at"] = utc_now()
            if self._usage is not None:
                update["resource_usage"] = self._usage
            record = self._record.model_copy(update=update)
            try:
                result = self._writer.finish(self._pk, self.swarm_id, points, record)
            except BaseException:
                with self._lock:
                    self._buffer[:0] = [p for p in points if not p[0].startswith("finalMetrics.")]
                raise
            self._status, self._result = status, result
            return result

    def close(self) -> None:
        """Finish as ``completed`` unless already finished."""
        if self._result is None:
            self.finish("completed")

    def __enter__(self) -> ExperimentRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._result is None:
            self.finish("failed" if exc_type is not None else "completed")

    # -- helpers -----------------------------------------------------------------

    @staticmethod
    def _integer(name: str, value: Any, most: int = _MAX_STEP) -> int:
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise InvalidRecordError(f"{name} must be an int, got {value!r}")
        number = int(value.__index__())
        if not 0 <= number <= most:
            raise InvalidRecordError(f"{name} must be in 0..{most}, got {number}")
        return number

    @staticmethod
    def _final_metrics(
        metrics: Mapping[str, Any] | None,
    ) -> tuple[FinalMetrics | None, list[tuple[str, float]]]:
        if metrics is None:
            return None, []
        if isinstance(metrics, FinalMetrics):
            metrics = metrics.model_dump(exclude_none=True)
        if not isinstance(metrics, Mapping):
            raise InvalidRecordError(
                f"final_metrics must be a mapping, not {type(metrics).__name__}"
            )
        kept: dict[str, Any] = {}
        flagged: list[tuple[str, float]] = []
        for key, value in metrics.items():
            if key in ("custom_metrics", "customMetrics") and isinstance(value, Mapping):
                custom = {}
                for name, raw in value.items():
                    number = _number(name, raw)
                    if math.isfinite(number):
                        custom[name] = number
                    else:
                        flagged.append((str(name), number))
                kept[key] = custom
            elif (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and not math.isfinite(value)
            ):
                flagged.append((str(key), float(value)))
            else:
                kept[key] = value
        return FinalMetrics.model_validate(kept), flagged
