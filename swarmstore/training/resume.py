"""Resume: a checkpoint's weights and training state, ready to load into a loop.

``ResumeState.apply`` loads the model, optimizer and scheduler and puts the
RNG states back, so the next epoch draws the same random numbers (dropout,
shuffling) as it would have in a run that never stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from swarmstore.errors import InvalidRecordError, ModelNotFoundError, NotFoundError
from swarmstore.records.model import NeuralModelRecord
from swarmstore.training.catalog import TRAINING_KEY, CheckpointInfo
from swarmstore.training.port import TrainingPort
from swarmstore.training.state import restore_rng, unflatten

if TYPE_CHECKING:
    from swarmstore.records.experiment import TrainingExperiment


@dataclass(slots=True)
class ResumeState:
    """Everything a loop needs to go on from a checkpoint.

    ``epoch`` and ``step`` are the counters when the checkpoint was taken
    (the epoch that had just completed); the loop goes on at ``next_epoch``.
    """

    swarm_id: str
    model_id: str
    version: str
    experiment_id: str | None
    weights: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None = None
    scheduler_state: dict[str, Any] | None = None
    rng_state: dict[str, Any] | None = None
    extra_state: dict[str, Any] | None = None
    epoch: int = -1
    step: int = 0
    index: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def next_epoch(self) -> int:
        return self.epoch + 1

    def apply(
        self,
        model: torch.nn.Module | None = None,
        optimizer: Any = None,
        scheduler: Any = None,
        *,
        rng: bool = True,
        strict: bool = True,
    ) -> None:
        """Load weights, optimizer and scheduler state, then restore the RNGs (last)."""
        if model is not None:
            model.load_state_dict(self.weights, strict=strict)
        if optimizer is not None:
            if self.optimizer_state is None:
                raise InvalidRecordError(
                    f"checkpoint {self.model_id}/{self.version} has no optimizer state"
                )
            optimizer.load_state_dict(self.optimizer_state)
        if scheduler is not None:
            if self.scheduler_state is None:
                raise InvalidRecordError(
                    f"checkpoint {self.model_id}/{self.version} has no scheduler state"
                )
            scheduler.load_state_dict(self.scheduler_state)
        if rng:
            self.restore_rng()

    def restore_rng(self) -> None:
        if self.rng_state is not None:
            restore_rng(self.rng_state)


def _pick(
    candidates: Sequence[CheckpointInfo], which: str, metric: str | None, mode: str | None
) -> CheckpointInfo | None:
    if not candidates:
        return None
    if which == "latest":
        return candidates[-1]
    if which != "best":
        return next((c for c in candidates if c.version == which), None)
    # by default, the metric and direction the run ranked its checkpoints by
    metric = metric or candidates[-1].rank_metric
    mode = mode or candidates[-1].rank_mode
    if not metric:
        raise InvalidRecordError(
            "resume(which='best') needs metric= (the run recorded no ranking metric)"
        )
    if mode not in ("min", "max"):
        raise InvalidRecordError(f"mode must be 'min' or 'max', not {mode!r}")
    ranked = [(score, c.seq, c) for c in candidates if (score := c.score(metric, mode)) is not None]
    if not ranked:
        raise InvalidRecordError(f"no checkpoint recorded metric {metric!r}")
    ranked.sort(key=lambda item: (item[0], item[1]))
    return ranked[0][2]


def _resolve(
    store: TrainingPort, swarm_id: str, target: str, experiment: TrainingExperiment | None
) -> tuple[str, list[CheckpointInfo]]:
    """(model id, candidate checkpoints) for a model id or an experiment id."""
    versions = store.training_checkpoints(swarm_id, target)
    if versions or experiment is None:
        return target, versions
    model_id = experiment.model_id
    named = set(experiment.checkpoints)
    candidates = [
        c
        for c in store.training_checkpoints(swarm_id, model_id)
        if c.experiment_id == target or c.version in named
    ]
    return model_id, candidates


def load_resume_state(
    store: TrainingPort,
    swarm_id: str,
    target: str,
    which: str = "latest",
    *,
    metric: str | None = None,
    mode: str | None = None,
    experiment: TrainingExperiment | None = None,
) -> ResumeState:
    """Find the checkpoint ``which`` ('latest', 'best' or a version) of a model or experiment."""
    model_id, candidates = _resolve(store, swarm_id, target, experiment)
    chosen = _pick(candidates, which, metric, mode)
    if which == "best" and chosen is None:
        raise ModelNotFoundError(
            f"no training checkpoint of {target!r} in swarm {swarm_id!r} to pick the best from",
            swarm_id=swarm_id,
            model_id=model_id,
        )
    version = chosen.version if chosen else (None if which == "latest" else which)
    try:
        record = store.get_neural_model(swarm_id, model_id, version)
    except NotFoundError:
        raise ModelNotFoundError(
            f"no checkpoint {which!r} of {target!r} in swarm {swarm_id!r}",
            swarm_id=swarm_id,
            model_id=model_id,
            version=version,
        ) from None
    return state_from_record(swarm_id, record)


def state_from_record(swarm_id: str, record: NeuralModelRecord) -> ResumeState:
    training = (record.metadata.model_extra or {}).get(TRAINING_KEY) or {}
    skeleton = training.get("state") or {}
    tensors = dict(record.state)

    def part(name: str) -> Any:
        return unflatten(skeleton[name], tensors) if name in skeleton else None

    return ResumeState(
        swarm_id=swarm_id,
        model_id=record.id,
        version=record.version,
        experiment_id=training.get("experimentId"),
        weights=dict(record.weights),
        optimizer_state=part("optimizer"),
        scheduler_state=part("scheduler"),
        rng_state=part("rng"),
        extra_state=part("extra"),
        epoch=int(training.get("epoch", -1)),
        step=int(training.get("step", 0)),
        index=int(training.get("index", 0)),
        metrics=dict(training.get("metrics") or {}),
    )


def continued_experiment(
    store: TrainingPort, swarm_id: str, model_id: str | None, state: ResumeState
) -> tuple[str | None, bool]:
    """(experiment id, resume it?) for a run that goes on from ``state``.

    The checkpoint's experiment goes on when its history ends at the
    checkpoint; a run that logged epochs past it (killed before saving them)
    gets a new one, as does a checkpoint of another model.
    """
    if state.experiment_id is None or state.model_id != model_id:
        return None, False
    try:
        record = store.get_training_experiment(swarm_id, state.experiment_id)
    except NotFoundError:
        return None, False
    history = record.metrics.training_history
    if history and history[-1].epoch > state.epoch:
        return None, False
    return state.experiment_id, True
