"""Writers on PostgreSQL queue like SQLite's BEGIN IMMEDIATE: a read-modify-write
unit of work from many connections loses no update and needs no retry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import select

from swarmstore import StoreConfig, SwarmDatabaseManager
from swarmstore.meta.tables import ModelRow


def test_read_modify_write_from_many_connections_loses_nothing(remote: StoreConfig) -> None:
    with SwarmDatabaseManager.open(remote) as db:
        meta = db._meta
        now = datetime.now(UTC)
        with meta.write() as session:
            session.add(
                ModelRow(
                    swarm_id="s", model_id="counter", architecture="0", created=now, updated=now
                )
            )

        def increment(_: int) -> None:
            for _ in range(20):
                with meta.write() as session:
                    row = session.scalars(
                        select(ModelRow).where(ModelRow.model_id == "counter")
                    ).one()
                    row.architecture = str(int(row.architecture) + 1)

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(increment, range(6)))
        with meta.read() as session:
            value = session.scalars(
                select(ModelRow.architecture).where(ModelRow.model_id == "counter")
            ).one()
    assert value == "120"


def test_reads_see_one_snapshot_per_session(remote: StoreConfig) -> None:
    with SwarmDatabaseManager.open(remote) as db:
        meta = db._meta
        now = datetime.now(UTC)
        with meta.read() as reader:
            before = reader.scalars(select(ModelRow.model_id)).all()
            with meta.write() as session:
                session.add(ModelRow(swarm_id="s", model_id="late", created=now, updated=now))
            assert reader.scalars(select(ModelRow.model_id)).all() == before  # same snapshot
        with meta.read() as reader:
            assert "late" in reader.scalars(select(ModelRow.model_id)).all()
