"""What a model's training checkpoints are, read from version metadata (no tensors).

Every version the integration writes carries ``metadata["training"]``: its
kind (auto / manual / final), experiment, epoch, step, checkpoint number and
metrics. Retention and resume ask their questions here ("latest", "best by
val_loss") without decoding a single tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from swarmstore.meta.engine import MetaStore
from swarmstore.models import queries as q

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


def info_from(version: str, seq: int, meta: dict[str, Any]) -> CheckpointInfo | None:
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


def training_versions(meta: MetaStore, swarm_id: str, model_id: str) -> list[CheckpointInfo]:
    """Live versions of a model written by a training integration, oldest first."""
    with meta.read() as session:
        model = q.find_model(session, swarm_id, model_id)
        if model is None:
            return []
        rows = [(r.version, r.seq, dict(r.meta or {})) for r in q.list_versions(session, model.pk)]
    found = (info_from(version, seq, row_meta) for version, seq, row_meta in rows)
    return [info for info in found if info is not None]


def model_exists(meta: MetaStore, swarm_id: str, model_id: str) -> bool:
    with meta.read() as session:
        return q.find_model(session, swarm_id, model_id) is not None
