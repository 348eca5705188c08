"""The unit of work: event-log and outbox rows in the write's transaction, emits after commit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from swarmstore import SwarmDatabaseManager
from swarmstore.events import EventBus
from swarmstore.meta.tables import EventRow, OutboxRow
from swarmstore.meta.unit import IndexUpdate


class Recorder(EventBus):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def emit(self, name: str, event: dict[str, Any]) -> None:
        self.seen.append((name, event))


def _counts(db: SwarmDatabaseManager) -> tuple[int, int]:
    with db._meta.read() as session:
        events = session.scalar(select(func.count()).select_from(EventRow)) or 0
        outbox = session.scalar(select(func.count()).select_from(OutboxRow)) or 0
    return events, outbox


def test_publish_writes_both_rows_and_emits_only_after_commit(tmp_path: Path) -> None:
    db = SwarmDatabaseManager.open(tmp_path / "s")
    bus = Recorder()
    before = _counts(db)
    with db._meta.unit_of_work(bus) as uow:
        uow.publish("model_saved", {"x": 1}, swarm_id="s1", index=IndexUpdate("t.upsert", "s1/a"))
        uow.publish("epoch_completed", {"y": 2}, swarm_id="s1")
        assert bus.seen == []  # nothing fires inside the transaction
    assert bus.seen == [("model_saved", {"x": 1}), ("epoch_completed", {"y": 2})]
    assert _counts(db) == (before[0] + 2, before[1] + 1)
    with db._meta.read() as session:
        row = session.scalars(select(OutboxRow).order_by(OutboxRow.seq.desc())).first()
    assert row is not None and (row.topic, row.entity_id, row.payload) == (
        "t.upsert",
        "s1/a",
        {"x": 1},
    )


def test_rollback_writes_and_emits_nothing(tmp_path: Path) -> None:
    db = SwarmDatabaseManager.open(tmp_path / "s")
    bus = Recorder()
    before = _counts(db)
    with pytest.raises(RuntimeError), db._meta.unit_of_work(bus) as uow:
        uow.publish("model_saved", {"x": 1}, swarm_id="s1", index=IndexUpdate("t", "e", {"p": 0}))
        raise RuntimeError("refused after publishing")
    assert bus.seen == []
    assert _counts(db) == before
