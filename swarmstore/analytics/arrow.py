"""Rows of a query as a ``pyarrow.Table``.

Integers become int64, floats float64, text string, booleans bool, times
``timestamp[us, UTC]`` (``swarmstore.analytics.queries.schema`` types the
SQL columns); JSON columns (hyperparameters, metadata, config, …) become
strings of JSON text so that no key is lost and every row has the same
schema. NaN stays NaN (float64), as stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")
#: field metadata of a column holding JSON values, exported as JSON text
JSON_METADATA = {"json": "true"}


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
