"""Run a filtered, ordered, limited query over one target as one SELECT.

The filter language is documented in ``swarmstore.analytics.queries.filters``.
Filters, order and limit run in SQL, never in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from swarmstore.analytics.queries.filters import check_limit, compile_order, compile_where
from swarmstore.analytics.queries.schema import schema_of
from swarmstore.analytics.queries.targets import Target
from swarmstore.analytics.query import QueryResult
from swarmstore.errors import InvalidQueryError
from swarmstore.ids import validate_id


def run_query(
    session: Session,
    target: Target,
    *,
    swarm_id: str | None = None,
    where: Mapping[str, Any] | None = None,
    order_by: str | Sequence[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
    columns: Sequence[str] | None = None,
) -> QueryResult:
    if swarm_id is not None:
        validate_id("swarm_id", swarm_id)
    check_limit(limit, offset)
    dialect = session.get_bind().dialect.name
    stmt = target.build()
    if target.row_schema is not None:
        available = [name for name, _ in target.row_schema]
    else:
        available = [c.name for c in stmt.selected_columns if c.name not in target.hidden_columns]
    if columns is not None:
        unknown = [c for c in columns if c not in available]
        if unknown or not columns:
            raise InvalidQueryError(
                f"unknown columns {unknown} for {target.name!r}; known: {available}",
                field="columns",
            )
        if target.row_schema is None:
            keep = [*columns, *target.hidden_columns]
            stmt = stmt.with_only_columns(*(stmt.selected_columns[c] for c in keep))
    if swarm_id is not None:
        stmt = stmt.where(target.swarm_column == swarm_id)
    for clause in compile_where(target.catalog, where, dialect):
        stmt = stmt.where(clause)
    stmt = stmt.order_by(*compile_order(target.catalog, order_by), *target.default_order)
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    rows = [dict(r._mapping) for r in session.execute(stmt)]
    if target.finish is not None:
        rows = target.finish(rows)
    if target.row_schema is not None:
        wanted = set(columns or available)
        schema = pa.schema([(n, pa.type_for_alias(t)) for n, t in target.row_schema if n in wanted])
        if columns is not None:
            rows = [{k: row.get(k) for k in columns} for row in rows]
    else:
        schema = schema_of(
            [(c.name, c.type) for c in stmt.selected_columns if c.name not in target.hidden_columns]
        )
    return QueryResult(target.name, rows, schema)
