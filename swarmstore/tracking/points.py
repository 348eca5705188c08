"""Metric points: the narrow ``metric_points`` rows, written in bulk, read as columns.

A point is ``(key, step, epoch, value, wall_time)``. SQLite cannot store NaN
(it becomes NULL), so non-finite values are written as NULL plus a code
(``tables_training.NAN`` / ``POS_INF`` / ``NEG_INF``) and restored on read.
Reads return ``MetricHistory``: numpy columns in step order (cheap for 20k
points, and what plotting or analysis wants), iterable as ``MetricPoint``s,
convertible to a ``pyarrow.Table``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from swarmstore.meta.tables_training import FINITE, NAN, NEG_INF, POS_INF, MetricPointRow

#: (key, step, epoch or None, value, wall time) as buffered by a run
Point = tuple[str, int, int | None, float, float]

_DECODE = {NAN: math.nan, POS_INF: math.inf, NEG_INF: -math.inf}
_INSERT_BATCH = 5000


def encode(value: float) -> tuple[float | None, int]:
    """(column value, non_finite code) of one value."""
    if math.isfinite(value):
        return value, FINITE
    if value != value:
        return None, NAN
    return None, POS_INF if value > 0 else NEG_INF


def insert_points(session: Session, experiment_pk: int, points: Sequence[Point]) -> int:
    """Append ``points`` in the caller's transaction (executemany); returns how many
    were non-finite."""
    flagged = 0
    rows: list[dict[str, Any]] = []
    for key, step, epoch, value, wall in points:
        stored, code = encode(value)
        flagged += code != FINITE
        rows.append(
            {
                "experiment_pk": experiment_pk,
                "key": key,
                "step": step,
                "epoch": epoch,
                "value": stored,
                "wall_time": wall,
                "non_finite": code,
            }
        )
    table = MetricPointRow.__table__
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(insert(table), rows[start : start + _INSERT_BATCH])
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


def read_history(
    session: Session, experiment_pk: int, experiment_id: str, key: str | None
) -> MetricHistory:
    """Points of one experiment (one key, or all) in step order; one indexed SELECT."""
    t = MetricPointRow.__table__.c
    query = select(t.key, t.step, t.epoch, t.value, t.wall_time, t.non_finite).where(
        t.experiment_pk == experiment_pk
    )
    if key is not None:
        query = query.where(t.key == key)
    query = query.order_by(t.step, t.pk)
    rows = session.connection().execute(query).fetchall()
    n = len(rows)
    if n == 0:
        empty_f = np.empty(0, dtype=np.float64)
        empty_i = np.empty(0, dtype=np.int64)
        return MetricHistory(
            experiment_id, [], empty_i, empty_i.copy(), empty_f, empty_f.copy(), np.zeros(0, bool)
        )
    keys, steps, epochs, values, walls, codes = zip(*rows, strict=True)
    values_arr = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    codes_arr = np.fromiter(codes, dtype=np.int8, count=n)
    flagged = codes_arr != FINITE
    if flagged.any():
        for i in np.flatnonzero(flagged):
            values_arr[i] = _DECODE[int(codes_arr[i])]
    return MetricHistory(
        experiment_id=experiment_id,
        keys=list(keys),
        steps=np.fromiter(steps, dtype=np.int64, count=n),
        epochs=np.array([-1 if e is None else e for e in epochs], dtype=np.int64),
        values=values_arr,
        wall_times=np.fromiter(walls, dtype=np.float64, count=n),
        non_finite=flagged,
    )
