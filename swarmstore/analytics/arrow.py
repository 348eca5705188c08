"""Rows of a query as a ``pyarrow.Table``, typed from the SQL columns.

Integers become int64, floats float64, text string, booleans bool, times
``timestamp[us, UTC]``; JSON columns (hyperparameters, metadata, config, …)
become strings of JSON text so that no key is lost and every row has the same
schema. NaN stays NaN (float64), as stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

TIMESTAMP = pa.timestamp("us", tz="UTC")


def arrow_type(sql_type: TypeEngine[Any]) -> pa.DataType:
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    if isinstance(sql_type, JSON):
        return pa.string()
    if isinstance(sql_type, Boolean):
        return pa.bool_()
    if isinstance(sql_type, Integer | BigInteger):
        return pa.int64()
    if isinstance(sql_type, Float | Numeric):
        return pa.float64()
    if isinstance(sql_type, DateTime):
        return TIMESTAMP
    return pa.string()


def _is_json(sql_type: TypeEngine[Any]) -> bool:
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    return isinstance(sql_type, JSON)


def schema_of(columns: Sequence[tuple[str, TypeEngine[Any]]]) -> pa.Schema:
    """Arrow schema of labelled SQL columns; JSON ones carry ``{"json": "true"}`` metadata."""
    return pa.schema(
        [
            pa.field(name, arrow_type(t), metadata={"json": "true"} if _is_json(t) else None)
            for name, t in columns
        ]
    )


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, allow_nan=True)


def to_table(rows: Sequence[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    json_fields = {f.name for f in schema if f.metadata and f.metadata.get(b"json")}
    columns: dict[str, list[Any]] = {f.name: [] for f in schema}
    for row in rows:
        for name in columns:
            value = row.get(name)
            if name in json_fields:
                value = _json_text(value)
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=schema)
