"""The SQL engine: pragmas, write transactions, schema upgrade.

SQLite runs in WAL with ``busy_timeout`` and foreign keys; every write
transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue
on the lock instead of failing or losing updates. Reads use deferred
transactions and never block writers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from swarmstore.errors import SwarmStoreError
from swarmstore.filelock import file_lock
from swarmstore.meta import schema as _schema  # noqa: F401  (registers every table)
from swarmstore.meta.migrate import HEAD_REVISION, upgrade_to_head

log = logging.getLogger(__name__)
_WRITE = "swarmstore_write"


def _install_sqlite_pragmas(engine: Engine, *, busy_timeout_ms: int, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class MetaStore:
    """Owns the engine; hands out read and write sessions (one per unit of work)."""

    def __init__(self, url: str, *, lock_path: Path, lock_timeout: float, durable: bool) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._lock_path = lock_path
        self._lock_timeout = lock_timeout
        self.engine = create_engine(url, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            _install_sqlite_pragmas(
                self.engine,
                busy_timeout_ms=int(lock_timeout * 1000),
                synchronous="FULL" if durable else "NORMAL",
            )
        self._write_engine = self.engine.execution_options(**{_WRITE: True})

    def ensure_schema(self) -> None:
        """Bring the schema to head; safe when many processes open at once."""
        if self.current_revision() == HEAD_REVISION:
            return
        with file_lock(self._lock_path, timeout=self._lock_timeout):
            current = self.current_revision()
            if current == HEAD_REVISION:
                return
            with self._write_engine.connect() as conn:
                upgrade_to_head(conn, current)
                conn.commit()

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            try:
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
            except OperationalError:
                conn.rollback()
                return None
            conn.rollback()
        return row[0] if row else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        # close() (not rollback()) ends the transaction: objects are detached
        # with their loaded state intact, so callers may read them afterwards.
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on error."""
        with Session(self._write_engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    def close(self) -> None:
        self.engine.dispose()


def schema_error(current: str | None) -> SwarmStoreError:
    return SwarmStoreError(
        f"store schema is at revision {current!r}, this swarmstore knows up to {HEAD_REVISION!r}"
    )
