"""Metric points: the narrow ``metric_points`` rows (written in bulk) and ``MetricHistory``.

A point is ``(key, step, epoch, value, wall_time)``. The per-point rows serve
filtered analytics queries (``swarmstore.analytics.queries.training``); histories
are read from the columnar blocks (``swarmstore.experiments.blocks``) written in
the same transaction. SQLite cannot store NaN (it becomes NULL), so a
non-finite value is written here as NULL plus a code
(``tables_training.NAN`` / ``POS_INF`` / ``NEG_INF``).
``MetricHistory``: numpy columns in step order (cheap for 20k points, and
what plotting or analysis wants), iterable as ``MetricPoint``s, convertible
to a ``pyarrow.Table``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from swarmstore.experiments import queries as q
from swarmstore.meta.tables_training import FINITE, NAN, NEG_INF, POS_INF
from swarmstore.meta.unit import Session

#: (key, step, epoch or None, value, wall time) as buffered by a run
Point = tuple[str, int, int | None, float, float]


class Columns(NamedTuple):
    """A flush's points column-wise (split once, shared by both tables' writes)."""

    keys: tuple[str, ...]
    steps: tuple[int, ...]
    epochs: tuple[int | None, ...]
    values: tuple[float, ...]
    walls: tuple[float, ...]

    @classmethod
    def of(cls, points: Sequence[Point]) -> Columns:
        return cls(*zip(*points, strict=True))


def encode(value: float) -> tuple[float | None, int]:
    """(column value, non_finite code) of one value."""
    if math.isfinite(value):
        return value, FINITE
    if value != value:
        return None, NAN
    return None, POS_INF if value > 0 else NEG_INF


def _flat_rows(experiment_pk: int, columns: Columns) -> tuple[list[Any], int]:
    """All rows' parameters as one flat list (row-major, ``queries.POINT_COLUMNS`` order) and
    how many values were non-finite. All-finite batches (the usual case, told by
    one ``sum``) are zipped column-wise in C: no Python code runs per point."""
    keys, steps, epochs, values, walls = columns
    n = len(keys)
    if math.isfinite(sum(values)):  # NaN/inf anywhere (or an overflow) takes the slow path
        codes: Iterable[int] = itertools.repeat(FINITE, n)
        stored: Iterable[float | None] = values
        flagged = 0
    else:
        encoded = [encode(v) for v in values]
        stored = [e[0] for e in encoded]
        codes = [e[1] for e in encoded]
        flagged = sum(1 for c in codes if c != FINITE)
    rows = zip(
        itertools.repeat(experiment_pk, n), keys, steps, epochs, stored, walls, codes, strict=True
    )
    return list(itertools.chain.from_iterable(rows)), flagged


def insert_points(session: Session, experiment_pk: int, columns: Columns) -> int:
    """Append the points in the caller's transaction (``queries.insert_point_rows``);
    returns how many were non-finite."""
    if not columns.keys:
        return 0
    flat, flagged = _flat_rows(experiment_pk, columns)
    q.insert_point_rows(session, flat, len(columns.keys))
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
