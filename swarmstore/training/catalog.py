"""What a model's training checkpoints are, read from version metadata (no tensors).

Every version the integration writes carries ``metadata["training"]``: its
kind (auto / manual / final), experiment, epoch, step, checkpoint number and
metrics. Retention and resume ask their questions here ("latest", "best by
val_loss") without decoding a single tensor; the store reads the versions'
metadata (``TrainingPort.training_checkpoints``), this module reads the
training facts out of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

TRAINING_KEY = "training"
CheckpointKind = Literal["auto", "manual", "final"]


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    version: str
    seq: int
    kind: str
    experiment_id: str | None
    epoch: int
    step: int
    index: int
    metrics: dict[str, float] = field(default_factory=dict)
    rank_metric: str | None = None  # the metric the run's retention ranked by
    rank_mode: str = "min"

    def score(self, metric: str, mode: str) -> float | None:
        """Lower is better; None when the metric is missing; NaN ranks last."""
        value = self.metrics.get(metric)
        if value is None:
            return None
        if math.isnan(value):
            return math.inf
        return value if mode == "min" else -value


def decode_metric(value: Any) -> float | None:
    """Metrics are stored JSON-safe: non-finite floats as the strings 'nan', 'inf', '-inf'."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def info_from(version: str, seq: int, meta: Mapping[str, Any]) -> CheckpointInfo | None:
    training = meta.get(TRAINING_KEY)
    if not isinstance(training, dict):
        return None
    metrics = {
        name: number
        for name, raw in (training.get("metrics") or {}).items()
        if (number := decode_metric(raw)) is not None
    }
    return CheckpointInfo(
        version=version,
        seq=seq,
        kind=str(training.get("kind", "auto")),
        experiment_id=training.get("experimentId"),
        epoch=int(training.get("epoch", 0)),
        step=int(training.get("step", 0)),
        index=int(training.get("index", 0)),
        metrics=metrics,
        rank_metric=training.get("rankMetric"),
        rank_mode=str(training.get("rankMode") or "min"),
    )


def training_checkpoints(
    rows: Iterable[tuple[str, int, Mapping[str, Any]]],
) -> list[CheckpointInfo]:
    """The training checkpoints among a model's versions ``(version, seq, metadata)``,
    in the order given (oldest first); versions no integration wrote are left out."""
    found = (info_from(version, seq, meta) for version, seq, meta in rows)
    return [info for info in found if info is not None]
