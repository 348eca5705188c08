"""The result of a filtered, ordered, limited query over one target; it exports to Arrow.

The filter language is documented in ``swarmstore.analytics.queries.filters``
and the query runs as one SELECT (``swarmstore.analytics.queries.run``):
filters, order and limit run in SQL, never in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from swarmstore.analytics import arrow


@dataclass(frozen=True)
class QueryResult:
    """Rows (camelCase dicts, JSON columns as Python values) of one query."""

    target: str
    rows: list[dict[str, Any]]
    schema: pa.Schema

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]

    def column(self, name: str) -> list[Any]:
        return [row.get(name) for row in self.rows]

    def to_arrow(self) -> pa.Table:
        """A ``pyarrow.Table`` (JSON columns as JSON text; see ``analytics.arrow``)."""
        return arrow.to_table(self.rows, self.schema)
