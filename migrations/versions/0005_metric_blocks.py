"""metric histories in columnar blocks (issue 4)

Revision ID: 0005
Revises: 0004

``metric_blocks`` holds each flush's points of one metric key as packed
little-endian arrays (see ``swarmstore.meta.tables_metrics``); histories are
read from it. Existing ``metric_points`` rows are copied into blocks (one per
key per 100,000 points of an experiment, ordinals = the points' pks, which
are in write order), so histories of older stores read the same.

``metric_points`` keeps one row per point for analytics queries only, so its
covering index (which served the old history read) is replaced by a narrow
``(experiment_pk, key, step)`` one: every flush writes the index, and the
covering one made each point's write a third dearer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CHUNK = 100_000
_COVERING = ["experiment_pk", "key", "step", "pk", "epoch", "value", "wall_time", "non_finite"]
_DECODE = {1: math.nan, 2: math.inf, 3: -math.inf}


def _blocks(experiment_pk: int, rows: list[Any]) -> list[dict[str, Any]]:
    """One block per key of ``rows`` (key, step, epoch, value, wall_time, non_finite, pk)."""
    by_key: dict[str, list[Any]] = {}
    for row in rows:
        by_key.setdefault(row[0], []).append(row)
    blocks = []
    for key, points in by_key.items():
        seqs = np.asarray([p[6] for p in points], dtype="<i8")
        epochs = [p[2] for p in points]
        values = [p[3] if p[5] == 0 else _DECODE.get(p[5], math.nan) for p in points]
        contiguous = int(seqs[-1] - seqs[0]) + 1 == len(points)
        blocks.append(
            {
                "experiment_pk": experiment_pk,
                "key": key,
                "count": len(points),
                "first_seq": int(seqs[0]),
                "last_seq": int(seqs[-1]),
                "steps": np.asarray([p[1] for p in points], dtype="<i8").tobytes(),
                "epochs": None
                if all(e is None for e in epochs)
                else np.asarray([-1 if e is None else e for e in epochs], dtype="<i8").tobytes(),
                "metric_values": np.asarray(values, dtype="<f8").tobytes(),
                "wall_times": np.asarray([p[4] for p in points], dtype="<f8").tobytes(),
                "seqs": None if contiguous else seqs.tobytes(),
            }
        )
    return blocks


def _backfill(blocks_table: sa.Table) -> None:
    bind = op.get_bind()
    points = sa.table(
        "metric_points",
        sa.column("pk", sa.Integer()),
        sa.column("experiment_pk", sa.Integer()),
        sa.column("key", sa.String()),
        sa.column("step", sa.BigInteger()),
        sa.column("epoch", sa.Integer()),
        sa.column("value", sa.Float()),
        sa.column("wall_time", sa.Float()),
        sa.column("non_finite", sa.SmallInteger()),
    )
    c = points.c
    experiments = bind.execute(sa.select(c.experiment_pk).distinct()).scalars().all()
    for experiment_pk in experiments:
        after = -1
        while True:
            rows = bind.execute(
                sa.select(c.key, c.step, c.epoch, c.value, c.wall_time, c.non_finite, c.pk)
                .where(c.experiment_pk == experiment_pk, c.pk > after)
                .order_by(c.pk)
                .limit(_CHUNK)
            ).all()
            if not rows:
                break
            bind.execute(sa.insert(blocks_table), _blocks(experiment_pk, rows))
            after = rows[-1][6]


def upgrade() -> None:
    blocks = op.create_table(
        "metric_blocks",
        sa.Column("pk", sa.Integer(), nullable=False),
        sa.Column("experiment_pk", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("steps", sa.LargeBinary(), nullable=False),
        sa.Column("epochs", sa.LargeBinary(), nullable=True),
        sa.Column("metric_values", sa.LargeBinary(), nullable=False),
        sa.Column("wall_times", sa.LargeBinary(), nullable=False),
        sa.Column("seqs", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_pk"],
            ["experiments.pk"],
            name=op.f("fk_metric_blocks_experiment_pk_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_metric_blocks")),
    )
    op.create_index(
        "ix_metric_blocks_history",
        "metric_blocks",
        ["experiment_pk", "key", "first_seq"],
        unique=False,
    )
    op.create_index(
        "ix_metric_blocks_last_seq",
        "metric_blocks",
        ["experiment_pk", "last_seq"],
        unique=False,
    )
    _backfill(blocks)
    op.drop_index("ix_metric_points_history", table_name="metric_points")
    op.create_index(
        "ix_metric_points_key_step",
        "metric_points",
        ["experiment_pk", "key", "step"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_metric_points_key_step", table_name="metric_points")
    op.create_index("ix_metric_points_history", "metric_points", _COVERING, unique=False)
    op.drop_index("ix_metric_blocks_last_seq", table_name="metric_blocks")
    op.drop_index("ix_metric_blocks_history", table_name="metric_blocks")
    op.drop_table("metric_blocks")
