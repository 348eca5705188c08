"""The training-experiment record (the seed's ``TrainingExperiment``).

Non-finite numbers: a diverged run really logs ``nan``/``inf`` losses, and
that fact is worth keeping, so ``trainingLoss`` and ``validationLoss`` accept
NaN and +inf (never -inf: no loss reaches it). Every other number (epochs,
accuracies, learning rates, final and custom metrics, resource usage) is a
measurement that must be finite; a violation raises ``NonFiniteValueError``
naming the field, e.g. ``metrics.trainingHistory.3.learningRate``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from swarmstore.records.base import utc_now
from swarmstore.records.dataset import (
    CheckedOpenRecord,
    CheckedRecord,
    InvalidFieldError,
    as_utc,
)

ExperimentStatus = Literal["running", "completed", "failed", "paused"]


class NonFiniteValueError(InvalidFieldError):
    """A number that must be finite is NaN or infinite."""


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise NonFiniteValueError(f"must be finite, got {value!r}")
    return value


def _loss(value: float | None) -> float | None:
    if value is not None and value == -math.inf:
        raise NonFiniteValueError("may be NaN or +inf (divergence) but not -inf")
    return value


def _finite_first(value: Any) -> Any:
    # Runs before range constraints, so NaN reports "must be finite", not ">= 0".
    if isinstance(value, float) and not math.isfinite(value):
        raise NonFiniteValueError(f"must be finite, got {value!r}")
    return value


_FINITE = (BeforeValidator(_finite_first), AfterValidator(_finite))
Finite = Annotated[float, *_FINITE]
Fraction = Annotated[float, *_FINITE, Field(ge=0.0, le=1.0)]
OptionalFraction = Fraction | None
NonNegative = Annotated[float, *_FINITE, Field(ge=0.0)]
Positive = Annotated[float, *_FINITE, Field(gt=0.0)]
Loss = Annotated[float, AfterValidator(_loss)]
OptionalLoss = Annotated[float | None, AfterValidator(_loss)]


class Hyperparameters(CheckedOpenRecord):
    """The seed's named hyperparameters (None when unknown); any other key is kept."""

    learning_rate: Positive | None = None
    batch_size: int | None = Field(default=None, ge=1)
    epochs: int | None = Field(default=None, ge=0)
    optimizer: str | None = None
    loss_function: str | None = None
    regularization: dict[str, Any] = Field(default_factory=dict)
    schedulers: dict[str, Any] = Field(default_factory=dict)


class EpochMetrics(CheckedRecord):
    """One row of ``trainingHistory``. Accuracies are fractions in [0, 1]; the
    training loss may be absent (a loop that only reports validation metrics)."""

    epoch: int = Field(ge=0)
    training_loss: OptionalLoss = None
    validation_loss: OptionalLoss = None
    training_accuracy: OptionalFraction = None
    validation_accuracy: OptionalFraction = None
    learning_rate: NonNegative | None = None
    timestamp: datetime | None = None
    custom_metrics: dict[str, float] = Field(
        default_factory=dict,
        description="other per-epoch values; NaN/inf allowed (a streamed run keeps them here)",
    )


class FinalMetrics(CheckedOpenRecord):
    """Scores of the finished model, fractions in [0, 1]; ``customMetrics`` any finite."""

    accuracy: OptionalFraction = None
    precision: OptionalFraction = None
    recall: OptionalFraction = None
    f1_score: OptionalFraction = None
    auc: OptionalFraction = None
    custom_metrics: dict[str, Finite] = Field(default_factory=dict)


class ConvergenceAnalysis(CheckedRecord):
    """What ``swarmstore.analytics.analyze_convergence`` concludes from a history.

    ``bestEpoch`` and ``diverged`` go beyond the seed; both are optional."""

    converged: bool = False
    plateau_detected: bool = False
    overfitting_risk: Fraction = 0.0
    early_stopping_epoch: int | None = Field(default=None, ge=0)
    best_epoch: int | None = Field(default=None, ge=0)
    diverged: bool = False


class ExperimentMetrics(CheckedRecord):
    training_history: list[EpochMetrics] = Field(default_factory=list)
    final_metrics: FinalMetrics = Field(default_factory=FinalMetrics)
    convergence_analysis: ConvergenceAnalysis = Field(default_factory=ConvergenceAnalysis)

    @field_validator("training_history")
    @classmethod
    def _epochs_increase(cls, history: list[EpochMetrics]) -> list[EpochMetrics]:
        for position in range(1, len(history)):
            if history[position].epoch <= history[position - 1].epoch:
                raise InvalidFieldError(
                    f"epoch {history[position].epoch} does not follow epoch "
                    f"{history[position - 1].epoch}; epochs must increase",
                    field=f"{position}.epoch",
                )
        return history


class ResourceUsage(CheckedOpenRecord):
    """Totals for the run: hours of compute, bytes of memory peak and storage."""

    gpu_hours: NonNegative | None = None
    cpu_hours: NonNegative = 0.0
    memory_peak: NonNegative = Field(default=0.0, description="bytes")
    storage_used: NonNegative = Field(default=0.0, description="bytes")


class TrainingExperiment(CheckedRecord):
    """One training run of ``modelId`` on ``datasetId``; ``checkpoints`` name
    model versions it produced. ``duration`` is in seconds.

    References: a dataset is ``"id"`` (its latest version when stored) or
    ``"id/version"``; a checkpoint is a ``"version"`` of ``modelId`` or
    ``"model_id/version"`` (ids never contain ``/``). ``datasets`` lists every
    dataset used; ``datasetId`` (the seed's single one) is its first entry."""

    id: str = Field(min_length=1)
    name: str = ""
    model_id: str = ""
    dataset_id: str = ""
    datasets: list[str] = Field(default_factory=list)
    agent_id: str = ""
    tags: list[str] = Field(default_factory=list)
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    metrics: ExperimentMetrics = Field(default_factory=ExperimentMetrics)
    checkpoints: list[str] = Field(default_factory=list)
    status: ExperimentStatus = "running"
    started_at: datetime = Field(default_factory=utc_now)
    completed_at: datetime | None = None
    duration: NonNegative | None = None
    resource_usage: ResourceUsage = Field(default_factory=ResourceUsage)
    swarm_id: str | None = None

    @model_validator(mode="after")
    def _timeline(self) -> Self:
        if self.completed_at is not None:
            if as_utc(self.completed_at) < as_utc(self.started_at):
                raise InvalidFieldError("is earlier than startedAt", field="completedAt")
            if self.status in ("running", "paused"):
                raise InvalidFieldError(
                    f"is set but status is {self.status!r}", field="completedAt"
                )
        if len(set(self.checkpoints)) != len(self.checkpoints):
            raise InvalidFieldError("lists a version twice", field="checkpoints")
        return self

    def elapsed_seconds(self) -> float | None:
        """``duration`` if given, else completedAt - startedAt when known."""
        if self.duration is not None:
            return self.duration
        if self.completed_at is None:
            return None
        return (as_utc(self.completed_at) - as_utc(self.started_at)).total_seconds()
