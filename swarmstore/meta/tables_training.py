"""SQL tables for datasets and experiments.

- ``datasets``: one row per dataset *version*. Samples live in one blob
  (Parquet, ``swarmstore.datasets.columnar``) named by ``samples_blob``;
  statistics, splits and the rest of the record are JSON; ``quality`` and
  ``total_samples`` are columns so analytics can filter and aggregate.
- ``experiments``: one row per experiment with the record's JSON parts and
  per-experiment summary columns (``epochs``, ``final_accuracy``,
  ``final_loss``, ``best_validation_loss``, ``best_epoch``, ``converged``,
  ``overfitting_risk``, ``duration``) kept in step with the JSON on every
  write, so filtered/ordered queries over many experiments never parse JSON.
- ``experiment_datasets`` / ``experiment_checkpoints``: the checked references
  (RESTRICT: a referenced dataset version or model version cannot vanish
  under an experiment; deleting a model version leaves a tombstone).
- ``metric_points``: streamed step metrics, one narrow row per (key, step).
  SQLite turns NaN into NULL, so a non-finite value is stored as NULL with
  ``non_finite`` = 1 (NaN), 2 (+inf) or 3 (-inf); 0 means ``value`` is finite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from swarmstore.meta.tables import ID_LENGTH, Base

#: ``metric_points.non_finite`` codes
FINITE, NAN, POS_INF, NEG_INF = 0, 1, 2, 3


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (
        UniqueConstraint("swarm_id", "dataset_id", "version"),
        UniqueConstraint("swarm_id", "dataset_id", "seq"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    swarm_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    dataset_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    version: Mapped[str] = mapped_column(String(ID_LENGTH))
    seq: Mapped[int] = mapped_column(Integer)
    parent_pk: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.pk", ondelete="RESTRICT"), default=None
    )
    parent_version: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    name: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    data_type: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(16))
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)  # preprocessing, extras
    statistics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    splits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    quality: Mapped[float | None] = mapped_column(Float, default=None)
    total_samples: Mapped[int] = mapped_column(Integer, default=0)
    samples_blob: Mapped[str | None] = mapped_column(
        String(128), default=None, info={"blob_key": "samples_length"}
    )
    samples_length: Mapped[int] = mapped_column(BigInteger, default=0)
    samples_format: Mapped[str] = mapped_column(String(64), default="")
    created: Mapped[datetime]
    updated: Mapped[datetime]


class ExperimentRow(Base):
    __tablename__ = "experiments"
    __table_args__ = (
        UniqueConstraint("swarm_id", "experiment_id"),
        Index("ix_experiments_swarm_id_model_id", "swarm_id", "model_id"),
        Index("ix_experiments_swarm_id_status", "swarm_id", "status"),
        Index("ix_experiments_started", "started"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    swarm_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    experiment_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(Text, default="")
    model_id: Mapped[str] = mapped_column(String(ID_LENGTH), default="")
    agent_id: Mapped[str] = mapped_column(String(ID_LENGTH), default="")
    dataset_id: Mapped[str] = mapped_column(String(ID_LENGTH), default="")  # the seed's primary
    status: Mapped[str] = mapped_column(String(16))
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    history: Mapped[list[Any]] = mapped_column(default=list)  # trainingHistory rows
    final_metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    convergence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resource_usage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    # summary columns (derived from the JSON above on every write)
    epochs: Mapped[int] = mapped_column(Integer, default=0)
    final_accuracy: Mapped[float | None] = mapped_column(Float, default=None)
    final_loss: Mapped[float | None] = mapped_column(Float, default=None)
    best_validation_loss: Mapped[float | None] = mapped_column(Float, default=None)
    best_epoch: Mapped[int | None] = mapped_column(Integer, default=None)
    converged: Mapped[bool] = mapped_column(Boolean, default=False)
    overfitting_risk: Mapped[float] = mapped_column(Float, default=0.0)
    duration: Mapped[float | None] = mapped_column(Float, default=None)
    started: Mapped[datetime]
    ended: Mapped[datetime | None] = mapped_column(default=None)
    created: Mapped[datetime]
    updated: Mapped[datetime]


class ExperimentDatasetRow(Base):
    __tablename__ = "experiment_datasets"

    experiment_pk: Mapped[int] = mapped_column(
        ForeignKey("experiments.pk", ondelete="CASCADE"), primary_key=True
    )
    dataset_pk: Mapped[int] = mapped_column(
        ForeignKey("datasets.pk", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str] = mapped_column(Text)  # as the caller wrote it: "id" or "id/version"


class ExperimentCheckpointRow(Base):
    __tablename__ = "experiment_checkpoints"

    experiment_pk: Mapped[int] = mapped_column(
        ForeignKey("experiments.pk", ondelete="CASCADE"), primary_key=True
    )
    version_pk: Mapped[int] = mapped_column(
        ForeignKey("model_versions.pk", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str] = mapped_column(Text)  # "version" or "model_id/version"


class MetricPointRow(Base):
    __tablename__ = "metric_points"
    # Histories are read from ``metric_blocks``; these rows serve analytics
    # queries, which filter by experiment (the join), key and step range, and
    # the experiments' ON DELETE CASCADE. A narrow index (migration 0005): a
    # covering one costs every flush its width in index writes.
    __table_args__ = (Index("ix_metric_points_key_step", "experiment_pk", "key", "step"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_pk: Mapped[int] = mapped_column(ForeignKey("experiments.pk", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(ID_LENGTH))
    step: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[int | None] = mapped_column(Integer, default=None)
    value: Mapped[float | None] = mapped_column(Float, default=None)
    wall_time: Mapped[float] = mapped_column(Float)  # seconds since the epoch
    non_finite: Mapped[int] = mapped_column(SmallInteger, default=FINITE)
