"""Training events: one event-log row (so other processes replay it), then the bus."""

from __future__ import annotations

from typing import Any

from swarmstore.events import EventBus
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.log import append_event
from swarmstore.records.base import utc_now


def announce(
    meta: MetaStore, bus: EventBus, name: str, swarm_id: str, payload: dict[str, Any]
) -> None:
    """Commit the event to the log, then fire it (after commit, as every event)."""
    event = {"swarm_id": swarm_id, **payload}
    with meta.write() as session:
        append_event(session, name, swarm_id, event, utc_now())
    bus.emit(name, event)
