"""Every migration on PostgreSQL builds exactly the ORM's schema, and opens are
safe from many processes at once (the schema lock is an advisory lock there)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from swarmstore import StoreConfig, SwarmDatabaseManager
from swarmstore.meta.migrate import HEAD_REVISION
from swarmstore.meta.schema import metadata
from tests.scale.conftest import Servers


def test_migrated_postgres_schema_equals_the_orm_models(remote: StoreConfig) -> None:
    SwarmDatabaseManager.open(remote).close()
    assert remote.metadata_url is not None
    engine = create_engine(remote.metadata_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    engine.dispose()
    assert diff == []
    assert revision == HEAD_REVISION


def test_first_opens_racing_on_an_empty_database_all_succeed(
    servers: Servers, tmp_path: Path
) -> None:
    config = servers.fresh_config(tmp_path / "local", durability="normal")

    def open_once(_: int) -> str | None:
        with SwarmDatabaseManager.open(config) as db:
            return db._meta.current_revision()

    with ThreadPoolExecutor(6) as pool:
        revisions = list(pool.map(open_once, range(6)))
    assert revisions == [HEAD_REVISION] * 6
