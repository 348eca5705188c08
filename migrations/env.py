"""Alembic environment: runs on the connection swarmstore hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from swarmstore.meta.schema import metadata

config = context.config
target_metadata = metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # the alembic CLI: take the URL from -x url=...
        url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///swarmstore.sqlite3")
        with create_engine(url).connect() as conn:
            _migrate(conn)
            conn.commit()
        return
    _migrate(connection)


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
