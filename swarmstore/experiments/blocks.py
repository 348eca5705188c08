"""Metric histories as columnar blocks (``metric_blocks``): written per flush, read whole.

A flush writes, per metric key, one row of packed little-endian arrays
(see ``swarmstore.meta.tables_metrics``). Reading a key's history is one
indexed SELECT over its few blocks (``queries.fetch_blocks``),
``np.frombuffer`` per column, one concatenation, and a stable sort by step
only when the blocks are not already in step order. A block read never makes
a Python object per point (the all-keys read makes one list of key names).

Order: (step, write order), as logged. Every point carries its write ordinal
in the experiment (``seq``); within one key, blocks in ``first_seq`` order
are in write order, so a stable sort by step suffices there; the all-keys
read sorts by (step, seq).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from swarmstore.experiments import queries as q
from swarmstore.experiments.points import Columns, MetricHistory
from swarmstore.meta.unit import Session

_I8, _F8 = np.dtype("<i8"), np.dtype("<f8")


def insert_blocks(session: Session, experiment_pk: int, columns: Columns) -> None:
    """Append the points (in write order) as one block per key, in the caller's
    transaction. Ordinals continue after the experiment's last stored one."""
    keys, steps, epochs, values, walls = columns
    if not keys:
        return
    last = q.last_block_seq(session, experiment_pk)
    base = 0 if last is None else last + 1
    n = len(keys)
    step_arr = np.asarray(steps, dtype=_I8)
    value_arr = np.asarray(values, dtype=_F8)
    wall_arr = np.asarray(walls, dtype=_F8)
    epoch_arr = (
        None
        if epochs.count(None) == n
        else np.asarray([-1 if e is None else e for e in epochs], dtype=_I8)
    )
    names = dict.fromkeys(keys)  # in order of first appearance
    if len(names) == 1:
        groups = [(keys[0], np.arange(n))]
    else:
        lookup = {name: code for code, name in enumerate(names)}
        codes = np.fromiter(map(lookup.__getitem__, keys), np.int64, n)
        groups = [(name, np.flatnonzero(codes == c)) for name, c in lookup.items()]
    rows = []
    for name, idx in groups:
        first, last_i = int(idx[0]), int(idx[-1])
        contiguous = last_i - first + 1 == len(idx)
        rows.append(
            {
                "experiment_pk": experiment_pk,
                "key": name,
                "count": len(idx),
                "first_seq": base + first,
                "last_seq": base + last_i,
                "steps": step_arr[idx].tobytes(),
                "epochs": None if epoch_arr is None else epoch_arr[idx].tobytes(),
                "metric_values": value_arr[idx].tobytes(),
                "wall_times": wall_arr[idx].tobytes(),
                "seqs": None if contiguous else (base + idx).astype(_I8).tobytes(),
            }
        )
    q.insert_block_rows(session, rows)


def _column(parts: list[Any], dtype: np.dtype[Any]) -> np.ndarray:
    """One native, writable array from the blocks' bytes (always a fresh copy)."""
    arrays = [np.frombuffer(p, dtype=dtype) for p in parts]
    out = np.concatenate(arrays) if arrays else np.empty(0, dtype)
    return out.astype(dtype.newbyteorder("="), copy=False)


def _epochs(rows: list[Any]) -> np.ndarray:
    parts = [
        epochs if epochs is not None else np.full(len(steps) // 8, -1, _I8).tobytes()
        for steps, epochs, *_ in rows
    ]
    return _column(parts, _I8)


def read_history(
    session: Session, experiment_pk: int, experiment_id: str, key: str | None
) -> MetricHistory:
    """Points of one experiment (one key, or all) in (step, write) order."""
    rows = q.fetch_blocks(session, experiment_pk, key)
    steps = _column([r[0] for r in rows], _I8)
    epochs = _epochs(rows)
    values = _column([r[2] for r in rows], _F8)
    walls = _column([r[3] for r in rows], _F8)
    n = len(steps)
    order: np.ndarray | None = None
    if key is not None:
        keys = [key] * n
        if n > 1 and bool((steps[1:] < steps[:-1]).any()):
            order = np.argsort(steps, kind="stable")
    else:
        counts = [len(r[0]) // 8 for r in rows]
        seqs = _column(
            [
                r[6] if r[6] is not None else np.arange(r[5], r[5] + c, dtype=_I8).tobytes()
                for r, c in zip(rows, counts, strict=True)
            ],
            _I8,
        )
        order = np.lexsort((seqs, steps))
        names = list(
            itertools.chain.from_iterable(
                itertools.repeat(r[4], c) for r, c in zip(rows, counts, strict=True)
            )
        )
        keys = [names[i] for i in order.tolist()]
    if order is not None:
        steps, epochs, values, walls = steps[order], epochs[order], values[order], walls[order]
    return MetricHistory(
        experiment_id=experiment_id,
        keys=keys,
        steps=steps,
        epochs=epochs,
        values=values,
        wall_times=walls,
        non_finite=~np.isfinite(values),
    )
