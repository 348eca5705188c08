"""SQL table for streamed metric histories in columnar blocks.

``metric_blocks``: one row per (flush, experiment, metric key) holding that
flush's points of the key as packed little-endian arrays, so reading a
20,000-point history is one indexed SELECT over a few rows and
``np.frombuffer`` instead of converting 20,000 SQL rows:

- ``steps`` int64, ``metric_values`` float64 (NaN/inf stored exactly),
  ``wall_times`` float64 (seconds since the epoch);
- ``epochs`` int64 with -1 for "no epoch", NULL when no point has one;
- ``seqs`` int64: each point's write ordinal in the experiment, NULL when the
  block's points are consecutive (``first_seq`` .. ``last_seq``). Ordinals
  order points of different keys logged at the same step.

The arrays are inline SQL data, not blob-store references. ``metric_points``
(``tables_training``) keeps one row per point for filtered analytics queries;
both are written in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from swarmstore.meta.tables import ID_LENGTH, Base


class MetricBlockRow(Base):
    __tablename__ = "metric_blocks"
    __table_args__ = (
        # a key's blocks in write order; (experiment, last_seq) finds the next ordinal
        Index("ix_metric_blocks_history", "experiment_pk", "key", "first_seq"),
        Index("ix_metric_blocks_last_seq", "experiment_pk", "last_seq"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_pk: Mapped[int] = mapped_column(ForeignKey("experiments.pk", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(ID_LENGTH))
    count: Mapped[int] = mapped_column(Integer)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    steps: Mapped[bytes] = mapped_column(LargeBinary)
    epochs: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    metric_values: Mapped[bytes] = mapped_column(LargeBinary)
    wall_times: Mapped[bytes] = mapped_column(LargeBinary)
    seqs: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
