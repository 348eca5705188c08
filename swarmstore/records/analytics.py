"""Results of the analytics API: per-model analytics and the lifecycle stats' shape.

``LifecycleStats`` keys are exactly the seed's (``getNeuralModelLifecycleStats``);
``ModelAnalytics`` is what ``getModelAnalytics`` answers: the versions, how each
metric moved across them, the training runs, the deployments and resources.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict

from pydantic import Field

from swarmstore.records.base import Record


class RecentActivity(TypedDict):
    modelsStored: int
    experimentsRun: int
    deploymentsActive: int


class LifecycleStats(TypedDict):
    """``get_neural_model_lifecycle_stats``: the seed's keys, nothing else."""

    totalModels: int
    totalExperiments: int
    totalDatasets: int
    totalDeployments: int
    averageAccuracy: float | None
    averageModelSize: float | None
    architectureDistribution: dict[str, int]
    deploymentStatus: dict[str, int]
    recentActivity: RecentActivity


class VersionSummary(Record):
    version: str
    seq: int
    created: datetime
    parent_version: str | None = None
    accuracy: float | None = None
    loss: float | None = None
    model_size: int
    stored_size: int
    checkpoint_type: str
    stage: str | None = Field(default=None, description="registry stage, if registered")
    aliases: list[str] = Field(default_factory=list)


class TrendPoint(Record):
    version: str
    value: float


class MetricTrend(Record):
    """How one metric moved across versions (oldest first)."""

    metric: str
    mode: Literal["max", "min"]
    points: list[TrendPoint]
    first: float
    last: float
    best: float
    best_version: str
    change: float = Field(description="last - first")
    direction: Literal["improving", "degrading", "flat"]


class ExperimentSummary(Record):
    experiment_id: str
    name: str = ""
    dataset_id: str | None = None
    status: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    epochs: int = 0
    final_metrics: dict[str, Any] = Field(default_factory=dict)
    best_validation_loss: float | None = None
    checkpoints: list[str] = Field(default_factory=list)


class TrainingSummary(Record):
    total: int = 0
    by_status: dict[str, int] = Field(default_factory=dict)
    experiments: list[ExperimentSummary] = Field(default_factory=list)
    available: bool = Field(default=True, description="False when no training tables exist")


class DeploymentSummary(Record):
    total: int = 0
    by_status: dict[str, int] = Field(default_factory=dict)
    active: dict[str, str] = Field(
        default_factory=dict, description="environment -> version served now"
    )
    history: list[dict[str, Any]] = Field(default_factory=list)


class ResourceUtilization(Record):
    """Totals over the model's versions (storage) and experiments (compute)."""

    versions_raw_bytes: int = 0
    versions_stored_bytes: int = 0
    compression_ratio: float | None = None
    gpu_hours: float = 0.0
    cpu_hours: float = 0.0
    peak_memory: float = 0.0
    experiment_storage: float = 0.0
    training_seconds: float = 0.0


class ModelAnalytics(Record):
    swarm_id: str
    model_id: str
    model_name: str
    architecture: str
    total_versions: int
    latest_version: str | None
    versions: list[VersionSummary]
    performance_trends: dict[str, MetricTrend]
    registry: dict[str, Any] | None = None
    training: TrainingSummary | None = None
    deployments: DeploymentSummary | None = None
    resource_utilization: ResourceUtilization
