"""The unit of work: one write transaction whose events are published with it.

Every write path of the store goes through ``MetaStore.unit_of_work(bus)``:

1. the block runs inside one serialized write transaction (``MetaStore.write``);
2. ``publish(name, payload, ...)`` adds the event-log row and, when the write
   changes something an index derives from, the outbox row, to that same
   transaction, so a committed write always has both and a rolled-back one
   has neither;
3. after the commit, and only then, the published events are emitted on the
   bus in the order they were published. A rollback (an exception in the
   block or in the commit) emits nothing.

Services therefore never write the event/outbox/emit triple by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from swarmstore.meta.log import append_event, append_outbox

__all__ = ["Emitter", "IndexUpdate", "Session", "UnitOfWork", "unit_of_work"]


class Writer(Protocol):
    """What opens the write transaction (``engine.MetaStore``)."""

    def write(self) -> AbstractContextManager[Session]: ...


class Emitter(Protocol):
    """What the unit of work emits on after commit (``events.EventBus``)."""

    def emit(self, name: str, event: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class IndexUpdate:
    """The outbox row of a published event: what the derived indexes apply.

    ``payload`` defaults to the event's own payload.
    """

    topic: str
    entity_id: str
    payload: dict[str, Any] | None = None


@dataclass
class UnitOfWork:
    """One open write transaction (``session``), its timestamp and its events."""

    session: Session
    now: datetime
    _published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(
        self,
        name: str,
        payload: dict[str, Any],
        *,
        swarm_id: str,
        index: IndexUpdate | None = None,
    ) -> None:
        """Log ``name`` with ``payload`` in this transaction; emit it after commit.

        ``index`` adds the outbox row the derived indexes consume.
        """
        append_event(self.session, name, swarm_id, payload, self.now)
        if index is not None:
            body = payload if index.payload is None else index.payload
            append_outbox(self.session, index.topic, index.entity_id, body, self.now)
        self._published.append((name, payload))

    def reindex(self, index: IndexUpdate) -> None:
        """Only the outbox row, no event: the indexes re-read an entity whose change
        is not an event of its own (``index.payload`` is required)."""
        if index.payload is None:
            raise ValueError("an outbox-only update needs its payload")
        append_outbox(self.session, index.topic, index.entity_id, index.payload, self.now)

    def emit_all(self, bus: Emitter) -> None:
        for name, payload in self._published:
            bus.emit(name, payload)
        self._published.clear()


@contextmanager
def unit_of_work(meta: Writer, bus: Emitter) -> Iterator[UnitOfWork]:
    """A write transaction yielding a ``UnitOfWork``; events are emitted after commit."""
    with meta.write() as session:
        uow = UnitOfWork(session, datetime.now(UTC))
        yield uow
    uow.emit_all(bus)
