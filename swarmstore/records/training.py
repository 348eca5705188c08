"""The options of ``integrate_with_neural_service`` (the seed's camelCase keys work too).

One options object configures a training integration, as orbax's
``CheckpointManagerOptions`` does: when to checkpoint, how versions are
named, what to keep, whether saves run in the background. Plain records;
``swarmstore.training`` acts on them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from swarmstore.records.base import Record

CheckpointUnit = Literal["epoch", "step"]
MetricMode = Literal["min", "max"]


class RetentionOptions(Record):
    """Which auto-checkpoints survive; the union of the rules is kept.

    The newest checkpoint is always kept (so ``resume(which="latest")`` works),
    and explicit saves (``on_model_save``, the final model) are never pruned.
    With every rule unset, nothing is pruned.
    """

    keep_last: int | None = Field(default=None, ge=1, description="the N newest checkpoints")
    keep_best: int | None = Field(default=None, ge=1, description="the K best by `metric`")
    metric: str | None = Field(default=None, description="metric that ranks checkpoints")
    mode: MetricMode = Field(default="min", description="'min': lower is better")
    keep_every: int | None = Field(
        default=None, ge=1, description="every Mth checkpoint (by checkpoint number)"
    )

    @model_validator(mode="after")
    def _best_needs_metric(self) -> RetentionOptions:
        if self.keep_best is not None and not self.metric:
            raise ValueError("retention.keepBest needs retention.metric")
        return self

    @property
    def prunes(self) -> bool:
        return any(v is not None for v in (self.keep_last, self.keep_best, self.keep_every))


class IntegrationOptions(Record):
    """How a training loop checkpoints into the store."""

    enable_auto_checkpointing: bool = True
    checkpoint_interval: int = Field(default=1, ge=1)
    checkpoint_unit: CheckpointUnit = "epoch"
    enable_model_versioning: bool = Field(
        default=True,
        description="False keeps only the newest auto-checkpoint (each save replaces the last)",
    )
    version_format: str = Field(
        default="e{epoch:04d}-s{step:08d}",
        description="str.format template; fields: epoch, step, index, experiment, model",
    )
    incremental: bool = Field(default=True, description="store deltas against the previous save")
    incremental_learning: bool = Field(
        default=False,
        description=(
            "the seed's flag, recorded with the integration's options and otherwise ignored: "
            "a run continues a stored version through on_training_start(base_version=...) "
            "or resume_from=..."
        ),
    )
    retention: RetentionOptions = Field(default_factory=RetentionOptions)
    resource_monitoring: bool = True
    async_save: bool = False
    max_pending_saves: int = Field(
        default=1, ge=1, description="saves queued or running per integration before a save waits"
    )
    model_id: str | None = Field(
        default=None,
        description="the model trained; else given to on_training_start or the first on_model_save",
    )
    model_name: str = ""
    architecture: str = ""
    experiment_name: str = ""
    datasets: list[str] = Field(default_factory=list)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    save_final: bool = Field(default=True, description="store the final model at training end")
