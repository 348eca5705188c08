"""Queries of the experiment aggregate: experiment rows, their links, metric points and blocks.

Every function runs in the caller's session (its transaction). The metric
writes and the block reads are hot paths of a training loop: they compile
their statements once per dialect and hand flat parameters to the driver
(``insert_point_rows``) or read through the raw DBAPI cursor
(``fetch_blocks``), skipping SQLAlchemy's per-row processing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from swarmstore.errors import ExperimentNotFoundError
from swarmstore.meta.tables_metrics import MetricBlockRow
from swarmstore.meta.tables_training import (
    ExperimentCheckpointRow,
    ExperimentDatasetRow,
    ExperimentRow,
    MetricPointRow,
)

# -- experiment rows -------------------------------------------------------------


def not_found(swarm_id: str, experiment_id: str) -> ExperimentNotFoundError:
    return ExperimentNotFoundError(
        f"experiment {experiment_id!r} does not exist in swarm {swarm_id!r}",
        swarm_id=swarm_id,
        experiment_id=experiment_id,
    )


def find_experiment(session: Session, swarm_id: str, experiment_id: str) -> ExperimentRow | None:
    return session.scalar(
        select(ExperimentRow).where(
            ExperimentRow.swarm_id == swarm_id, ExperimentRow.experiment_id == experiment_id
        )
    )


def require_experiment(session: Session, swarm_id: str, experiment_id: str) -> ExperimentRow:
    row = find_experiment(session, swarm_id, experiment_id)
    if row is None:
        raise not_found(swarm_id, experiment_id)
    return row


def require_experiment_pk(session: Session, swarm_id: str, experiment_id: str) -> int:
    """The row's primary key only (no row object is loaded)."""
    pk = session.scalar(
        select(ExperimentRow.pk).where(
            ExperimentRow.swarm_id == swarm_id,
            ExperimentRow.experiment_id == experiment_id,
        )
    )
    if pk is None:
        raise not_found(swarm_id, experiment_id)
    return pk


def require_row(session: Session, pk: int) -> ExperimentRow:
    """The row of an open run (by primary key); gone only if deleted under it."""
    row = session.get(ExperimentRow, pk)
    if row is None:
        raise ExperimentNotFoundError(f"experiment row {pk} vanished", pk=pk)
    return row


# -- dataset and checkpoint links ------------------------------------------------


def dataset_refs(session: Session, pk: int) -> list[str]:
    """The experiment's dataset references in their stored order."""
    return list(
        session.scalars(
            select(ExperimentDatasetRow.ref)
            .where(ExperimentDatasetRow.experiment_pk == pk)
            .order_by(ExperimentDatasetRow.position)
        )
    )


def checkpoint_refs(session: Session, pk: int) -> list[str]:
    """The experiment's checkpoint references in their stored order."""
    return list(
        session.scalars(
            select(ExperimentCheckpointRow.ref)
            .where(ExperimentCheckpointRow.experiment_pk == pk)
            .order_by(ExperimentCheckpointRow.position)
        )
    )


def checkpoint_count(session: Session, pk: int) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(ExperimentCheckpointRow)
        .where(ExperimentCheckpointRow.experiment_pk == pk)
    )
    return int(count or 0)


def linked_dataset_pks(session: Session, pk: int) -> list[int]:
    """Primary keys of the linked dataset versions, in link order."""
    return list(
        session.scalars(
            select(ExperimentDatasetRow.dataset_pk)
            .where(ExperimentDatasetRow.experiment_pk == pk)
            .order_by(ExperimentDatasetRow.position)
        )
    )


def add_dataset_links(session: Session, pk: int, links: Sequence[tuple[int, str]]) -> None:
    """Link ``(dataset_pk, ref)`` pairs after the experiment's existing links."""
    start = len(linked_dataset_pks(session, pk))
    for offset, (dataset_pk, ref) in enumerate(links):
        session.add(
            ExperimentDatasetRow(
                experiment_pk=pk, dataset_pk=dataset_pk, position=start + offset, ref=ref
            )
        )


def has_checkpoint_link(session: Session, pk: int, version_pk: int) -> bool:
    return session.get(ExperimentCheckpointRow, (pk, version_pk)) is not None


def add_checkpoint_link(
    session: Session, pk: int, version_pk: int, position: int, ref: str
) -> None:
    session.add(
        ExperimentCheckpointRow(experiment_pk=pk, version_pk=version_pk, position=position, ref=ref)
    )


def replace_links(
    session: Session,
    pk: int,
    datasets: Sequence[tuple[int, str]],
    checkpoints: Sequence[tuple[int, str]],
) -> None:
    """The experiment's links become ``(dataset_pk, ref)`` / ``(version_pk, ref)``
    in the given order (checkpoints must name distinct versions)."""
    session.execute(delete(ExperimentDatasetRow).where(ExperimentDatasetRow.experiment_pk == pk))
    session.execute(
        delete(ExperimentCheckpointRow).where(ExperimentCheckpointRow.experiment_pk == pk)
    )
    add_dataset_links(session, pk, datasets)
    for position, (version_pk, ref) in enumerate(checkpoints):
        add_checkpoint_link(session, pk, version_pk, position, ref)


# -- metric points (``metric_points``) -------------------------------------------

#: a point row's columns, in the order ``insert_point_rows`` takes its flat values
POINT_COLUMNS = ("experiment_pk", "key", "step", "epoch", "value", "wall_time", "non_finite")
#: rows per INSERT statement (largest): 128 rows x 7 columns = 896 parameters,
#: under SQLite's historic limit of 999 per statement
MAX_POINT_ROWS = 128


@lru_cache(maxsize=32)
def _insert_points_sql(dialect: Dialect, rows: int) -> tuple[str, tuple[str, ...] | None]:
    """A ``rows``-row ``INSERT ... VALUES (...), (...)`` compiled once per dialect
    and size, and its parameter names in row-major order (None when the driver's
    paramstyle is positional). One statement of many rows costs SQLite far less
    than ``executemany`` of one-row statements, and a compiled string lets the
    parameters go to the driver as one flat tuple."""
    stmt = insert(MetricPointRow).values([dict.fromkeys(POINT_COLUMNS) for _ in range(rows)])
    compiled = stmt.compile(dialect=dialect)
    names = tuple(f"{column}_m{i}" for i in range(rows) for column in POINT_COLUMNS)
    order = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.params)
    if order != names:
        raise RuntimeError(f"unexpected parameter order {order[:7]}...")
    return str(compiled), None if compiled.positional else names


def _chunks(n: int) -> Iterator[int]:
    """Row counts of the statements for ``n`` rows: full ``MAX_POINT_ROWS`` chunks, then
    the remainder's powers of two (so at most 8 statement sizes are ever compiled)."""
    yield from itertools.repeat(MAX_POINT_ROWS, n // MAX_POINT_ROWS)
    rest = n % MAX_POINT_ROWS
    size = MAX_POINT_ROWS // 2
    while rest:
        if rest >= size:
            yield size
            rest -= size
        size //= 2


def insert_point_rows(session: Session, flat: Sequence[Any], n: int) -> None:
    """Insert ``n`` point rows given as one flat, row-major list of values in
    ``POINT_COLUMNS`` order (multi-row INSERTs of at most ``MAX_POINT_ROWS`` rows)."""
    conn = session.connection()
    width = len(POINT_COLUMNS)
    start = 0
    for rows in _chunks(n):
        sql, names = _insert_points_sql(conn.dialect, rows)
        end = start + rows * width
        chunk = flat[start:end]
        conn.exec_driver_sql(
            sql, tuple(chunk) if names is None else dict(zip(names, chunk, strict=True))
        )
        start = end


# -- metric blocks (``metric_blocks``) -------------------------------------------

_B = MetricBlockRow.__table__.c


@lru_cache(maxsize=8)
def _last_seq_sql(dialect: Dialect) -> str:
    """The experiment's last ordinal, compiled once per dialect (run per flush)."""
    query = select(func.max(_B.last_seq)).where(_B.experiment_pk == bindparam("pk"))
    return str(query.compile(dialect=dialect))


@lru_cache(maxsize=8)
def _select_blocks_sql(dialect: Dialect, all_keys: bool) -> str:
    """The blocks SELECT in the driver's own paramstyle (read through the raw
    DBAPI cursor: SQLAlchemy's result processing is not needed for bytes)."""
    columns = [_B.steps, _B.epochs, _B.metric_values, _B.wall_times]
    if all_keys:
        columns += [_B.key, _B.first_seq, _B.seqs]
    query = select(*columns).where(_B.experiment_pk == bindparam("pk"))
    if not all_keys:
        query = query.where(_B.key == bindparam("key"))
    return str(query.order_by(_B.first_seq).compile(dialect=dialect))


def _params(dialect: Dialect, pk: int, key: str | None) -> Any:
    named = {"pk": pk} if key is None else {"pk": pk, "key": key}
    return tuple(named.values()) if dialect.positional else named


def last_block_seq(session: Session, experiment_pk: int) -> int | None:
    """The experiment's last stored point ordinal (None before its first block)."""
    conn = session.connection()
    dialect = conn.dialect
    last = conn.exec_driver_sql(
        _last_seq_sql(dialect), _params(dialect, experiment_pk, None)
    ).scalar()
    return None if last is None else int(last)


def insert_block_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert ``metric_blocks`` rows (dicts of its columns) in one statement."""
    session.connection().execute(insert(MetricBlockRow), rows)


def fetch_blocks(session: Session, experiment_pk: int, key: str | None) -> list[Any]:
    """The blocks of one key, or of all keys, in ``first_seq`` order, straight from
    the DBAPI cursor in the session's transaction: rows of (steps, epochs,
    metric_values, wall_times), plus (key, first_seq, seqs) when ``key`` is None."""
    dialect = session.connection().dialect
    sql = _select_blocks_sql(dialect, key is None)
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, _params(dialect, experiment_pk, key))
        return list(cursor.fetchall())
    finally:
        cursor.close()
