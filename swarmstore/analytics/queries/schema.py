"""The Arrow schema of a query's labelled SQL columns (``swarmstore.analytics.arrow``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

from swarmstore.analytics.arrow import JSON_METADATA, TIMESTAMP


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
            pa.field(name, arrow_type(t), metadata=JSON_METADATA if _is_json(t) else None)
            for name, t in columns
        ]
    )
