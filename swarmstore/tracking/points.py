"""Metric points: the narrow ``metric_points`` rows (written in bulk) and ``MetricHistory``.

A point is ``(key, step, epoch, value, wall_time)``. The per-point rows serve
filtered analytics queries (``swarmstore.analytics.training_sql``); histories
are read from the columnar blocks (``swarmstore.tracking.blocks``) written in
the same transaction. SQLite cannot store NaN (it becomes NULL), so a
non-finite value is written here as NULL plus a code
(``tables_training.NAN`` / ``POS_INF`` / ``NEG_INF``).
``MetricHistory``: numpy columns in step order (cheap for 20k points, and
what plotting or analysis wants), iterable as ``MetricPoint``s, convertible
to a ``pyarrow.Table``.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from swarmstore.meta.tables_training import FINITE, NAN, NEG_INF, POS_INF, MetricPointRow

#: (key, step, epoch or None, value, wall time) as buffered by a run
Point = tuple[str, int, int | None, float, float]

_INSERT_BATCH = 10_000


def encode(value: float) -> tuple[float | None, int]:
    """(column value, non_finite code) of one value."""
    if math.isfinite(value):
        return value, FINITE
    if value != value:
        return None, NAN
    return None, POS_INF if value > 0 else NEG_INF


_COLUMNS = ("experiment_pk", "key", "step", "epoch", "value", "wall_time", "non_finite")


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while many row tuples are built: each burst of new
    tuples would otherwise trigger collections over every object the process
    holds (torch, SQLAlchemy), costing more than the rows themselves."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@lru_cache(maxsize=8)
def _insert_sql(dialect: Dialect) -> tuple[str, bool]:
    """The INSERT in the driver's own paramstyle, compiled once per dialect: bulk
    inserts then go straight to the driver's ``executemany`` (SQLAlchemy's
    per-row parameter processing costs more than SQLite's insert itself)."""
    compiled = insert(MetricPointRow).compile(dialect=dialect, column_keys=list(_COLUMNS))
    if compiled.positional:
        order = tuple(compiled.positiontup or ())
        if order != _COLUMNS:
            raise RuntimeError(f"unexpected parameter order {order}")
    return str(compiled), bool(compiled.positional)


def insert_points(session: Session, experiment_pk: int, points: Sequence[Point]) -> int:
    """Append ``points`` in the caller's transaction (one executemany per batch);
    returns how many were non-finite."""
    flagged = 0
    rows: list[tuple[Any, ...]] = []
    isfinite = math.isfinite
    with _no_gc():
        for key, step, epoch, value, wall in points:
            if isfinite(value):
                rows.append((experiment_pk, key, step, epoch, value, wall, FINITE))
            else:
                stored, code = encode(value)
                flagged += 1
                rows.append((experiment_pk, key, step, epoch, stored, wall, code))
    conn = session.connection()
    sql, positional = _insert_sql(conn.dialect)
    params: list[Any] = rows if positional else [dict(zip(_COLUMNS, r, strict=True)) for r in rows]
    for start in range(0, len(params), _INSERT_BATCH):
        conn.exec_driver_sql(sql, params[start : start + _INSERT_BATCH])
    return flagged


@dataclass(frozen=True, slots=True)
class MetricPoint:
    key: str
    step: int
    value: float
    epoch: int | None
    timestamp: float  # seconds since the epoch
    non_finite: bool


@dataclass(frozen=True)
class MetricHistory:
    """Points of one experiment in (step, write) order; columns are numpy arrays.

    ``epochs`` holds -1 where a point has no epoch; ``values`` holds the exact
    NaN/inf that was logged and ``non_finite`` flags those points."""

    experiment_id: str
    keys: list[str]
    steps: np.ndarray
    epochs: np.ndarray
    values: np.ndarray
    wall_times: np.ndarray
    non_finite: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[MetricPoint]:
        for i, key in enumerate(self.keys):
            epoch = int(self.epochs[i])
            yield MetricPoint(
                key=key,
                step=int(self.steps[i]),
                value=float(self.values[i]),
                epoch=None if epoch < 0 else epoch,
                timestamp=float(self.wall_times[i]),
                non_finite=bool(self.non_finite[i]),
            )

    def __getitem__(self, index: int) -> MetricPoint:
        return next(iter(self.select(np.asarray([index]))))

    def select(self, mask_or_indices: np.ndarray) -> MetricHistory:
        picked = np.arange(len(self.keys))[mask_or_indices]
        return MetricHistory(
            experiment_id=self.experiment_id,
            keys=[self.keys[i] for i in picked],
            steps=self.steps[picked],
            epochs=self.epochs[picked],
            values=self.values[picked],
            wall_times=self.wall_times[picked],
            non_finite=self.non_finite[picked],
        )

    def key(self, name: str) -> MetricHistory:
        """Only the points of metric ``name``."""
        return self.select(np.asarray([k == name for k in self.keys], dtype=bool))

    def by_key(self) -> dict[str, MetricHistory]:
        return {name: self.key(name) for name in dict.fromkeys(self.keys)}

    def to_arrow(self) -> pa.Table:
        """Columns key, step, epoch (null when none), value, timestamp, nonFinite."""
        return pa.table(
            {
                "key": pa.array(self.keys, pa.string()),
                "step": pa.array(self.steps, pa.int64()),
                "epoch": pa.array(self.epochs, pa.int64(), mask=self.epochs < 0),
                "value": pa.array(self.values, pa.float64()),
                "timestamp": pa.array(self.wall_times, pa.float64()),
                "nonFinite": pa.array(self.non_finite, pa.bool_()),
            }
        )
