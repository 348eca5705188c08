"""Lineage in SQL: the nodes and edges every write records in its own transaction.

The Kuzu graph is derived from these two tables (reindex replays them) and the
SQL ``WITH RECURSIVE`` fallback walks ``lineage_edges`` directly, so neither
needs to know the domain tables. Node keys are made by
``swarmstore.meta.lineage.node_key``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from swarmstore.meta.tables import Base

KEY_LENGTH = 500


class LineageNodeRow(Base):
    __tablename__ = "lineage_nodes"
    __table_args__ = (Index("ix_lineage_nodes_swarm_id_kind", "swarm_id", "kind"),)

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    swarm_id: Mapped[str] = mapped_column(String(200))
    props: Mapped[dict[str, Any]]
    created: Mapped[datetime]
    updated: Mapped[datetime]


class LineageEdgeRow(Base):
    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint("src", "rel", "dst"),
        Index("ix_lineage_edges_dst_rel", "dst", "rel"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    src: Mapped[str] = mapped_column(String(KEY_LENGTH))
    rel: Mapped[str] = mapped_column(String(32))
    dst: Mapped[str] = mapped_column(String(KEY_LENGTH))
    swarm_id: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime]
