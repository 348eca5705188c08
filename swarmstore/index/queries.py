"""What the indexer reads from and writes to SQL: outbox, watermarks, lineage rows.

The indexes are derived from two SQL tables only (``lineage_nodes`` and
``lineage_edges``, written by every write in its own transaction) plus the
model versions for vectors, so this module is the indexer's whole view of SQL.

Which lineage rows an outbox row stands for: every write passes one ``now``
to its lineage upserts and to ``append_outbox``, so the rows a write touched
carry timestamps at or after its outbox row's ``created``. A batch of outbox
rows is applied by re-reading, per swarm, the lineage rows stamped since the
batch's earliest ``created`` (less ``CLOCK_SLACK``). This needs no knowledge of
each entity's payload, and reading a few rows too many is harmless because
applying is idempotent (MERGE / merge_insert).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from swarmstore.meta.tables import IndexWatermarkRow, OutboxRow
from swarmstore.meta.tables_lineage import LineageEdgeRow, LineageNodeRow

#: How far before a batch's first outbox row lineage rows are re-read.
CLOCK_SLACK = timedelta(seconds=5)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Node:
    key: str
    kind: str
    swarm_id: str
    props: dict[str, Any]

    @property
    def deleted(self) -> bool:
        return bool(self.props.get("deleted"))


Edge = tuple[str, str, str]  # (src key, relation, dst key)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    topic: str
    entity_id: str
    payload: dict[str, Any]
    created: datetime


def max_outbox_seq(session: Session) -> int:
    return int(session.scalar(select(func.max(OutboxRow.seq))) or 0)


def outbox_after(session: Session, seq: int, limit: int) -> list[OutboxEntry]:
    rows = session.scalars(
        select(OutboxRow).where(OutboxRow.seq > seq).order_by(OutboxRow.seq).limit(limit)
    )
    return [OutboxEntry(r.seq, r.topic, r.entity_id, dict(r.payload), r.created) for r in rows]


def watermarks(session: Session, names: Iterable[str]) -> dict[str, int]:
    wanted = list(names)
    query = select(IndexWatermarkRow.name, IndexWatermarkRow.seq).where(
        IndexWatermarkRow.name.in_(wanted)
    )
    found = {str(name): int(seq) for name, seq in session.execute(query)}
    return {name: int(found.get(name, 0)) for name in wanted}


def set_watermark(session: Session, name: str, seq: int, now: datetime) -> None:
    """Select-then-write inside the caller's (BEGIN IMMEDIATE) transaction."""
    row = session.get(IndexWatermarkRow, name)
    if row is None:
        session.add(IndexWatermarkRow(name=name, seq=seq, updated=now))
    else:
        row.seq, row.updated = seq, now


def _node(row: LineageNodeRow) -> Node:
    return Node(row.key, row.kind, row.swarm_id, dict(row.props or {}))


def lineage_since(
    session: Session, swarm_id: str | None, since: datetime
) -> tuple[list[Node], list[Edge]]:
    """Nodes updated and edges created at or after ``since`` (in one swarm, or all)."""
    nodes_q = select(LineageNodeRow).where(LineageNodeRow.updated >= since)
    edges_q = select(LineageEdgeRow.src, LineageEdgeRow.rel, LineageEdgeRow.dst).where(
        LineageEdgeRow.created >= since
    )
    if swarm_id is not None:
        nodes_q = nodes_q.where(LineageNodeRow.swarm_id == swarm_id)
        edges_q = edges_q.where(LineageEdgeRow.swarm_id == swarm_id)
    nodes = [_node(r) for r in session.scalars(nodes_q)]
    edges = [(s, r, d) for s, r, d in session.execute(edges_q)]
    return nodes, edges


def nodes_by_key(session: Session, keys: Sequence[str]) -> dict[str, Node]:
    out: dict[str, Node] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        query = select(LineageNodeRow).where(LineageNodeRow.key.in_(chunk))
        out.update((r.key, _node(r)) for r in session.scalars(query))
    return out


def iter_nodes(session: Session, kinds: Sequence[str] | None = None) -> Iterator[Node]:
    query = select(LineageNodeRow).order_by(LineageNodeRow.key)
    if kinds is not None:
        query = query.where(LineageNodeRow.kind.in_(list(kinds)))
    for row in session.scalars(query.execution_options(yield_per=2000)):
        yield _node(row)


def all_edges(session: Session) -> list[Edge]:
    query = select(LineageEdgeRow.src, LineageEdgeRow.rel, LineageEdgeRow.dst).order_by(
        LineageEdgeRow.pk
    )
    return [(s, r, d) for s, r, d in session.execute(query)]
