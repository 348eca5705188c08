"""The event log and the outbox: rows written inside a write transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from swarmstore.meta.tables import EventRow, OutboxRow


def append_event(
    session: Session, name: str, swarm_id: str, payload: dict[str, Any], now: datetime
) -> EventRow:
    row = EventRow(name=name, swarm_id=swarm_id, payload=payload, created=now)
    session.add(row)
    return row


def append_outbox(
    session: Session, topic: str, entity_id: str, payload: dict[str, Any], now: datetime
) -> None:
    session.add(OutboxRow(topic=topic, entity_id=entity_id, payload=payload, created=now))


def events_since(session: Session, seq: int, *, limit: int = 1000) -> list[EventRow]:
    query = select(EventRow).where(EventRow.seq > seq).order_by(EventRow.seq).limit(limit)
    return list(session.scalars(query))


def outbox_since(session: Session, seq: int, *, limit: int = 1000) -> list[OutboxRow]:
    query = select(OutboxRow).where(OutboxRow.seq > seq).order_by(OutboxRow.seq).limit(limit)
    return list(session.scalars(query))
