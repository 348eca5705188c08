"""The SQL engine: per-dialect setup, write transactions, schema upgrade.

SQLite runs in WAL with ``busy_timeout`` and foreign keys; every write
transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue
on the lock instead of failing or losing updates. Reads use deferred
transactions and never block writers.

PostgreSQL gets the same contract from its own machinery: reads run in
REPEATABLE READ (one snapshot per read session, like SQLite's deferred
transaction; read-only snapshots never fail), and a write transaction
(READ COMMITTED) first takes a transaction-scoped advisory lock keyed by the
store's schema, so writers from any number of machines queue exactly as
SQLite's ``BEGIN IMMEDIATE`` makes them queue, and every statement after the
lock sees every earlier commit. The units of work written for SQLite
(select-then-insert upserts, ``max(seq) + 1``) therefore stay free of lost
updates and of serialization failures, and need no retry loop. Readers never
take the lock. Schema upgrades take a second advisory lock instead of a file
lock, since the writers may sit on other machines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from swarmstore.errors import (
    BackendUnavailableError,
    ReadOnlyStoreError,
    StoreVersionError,
    SwarmStoreError,
)
from swarmstore.filelock import file_lock
from swarmstore.meta import schema as _schema  # noqa: F401  (registers every table)
from swarmstore.meta.migrate import HEAD_REVISION, STORE_FORMAT, check_known, upgrade_to_head
from swarmstore.meta.unit import Emitter, UnitOfWork, unit_of_work

log = logging.getLogger(__name__)
_WRITE = "swarmstore_write"
# advisory-lock keys: hashtext() of the schema name plus a fixed suffix, so that
# stores in different schemas of one database never wait for each other
_WRITE_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/swarmstore.write'))"
_SCHEMA_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/swarmstore.ddl'))"


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


def _install_postgres_write_lock(engine: Engine, *, lock_timeout_ms: int) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(_WRITE, False):
            # bounded wait, like SQLite's busy_timeout; SET LOCAL ends with the transaction
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {lock_timeout_ms}")
            conn.exec_driver_sql(_WRITE_LOCK_SQL)


def redacted(url: str) -> str:
    """The URL without its password, for error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a SQLAlchemy URL: say nothing secret
        return url.split("@")[-1]


def sqlite_file(url: str) -> Path | None:
    """The database file a SQLite URL names; None for a server or an in-memory database."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class MetaStore:
    """Owns the engine; hands out read and write sessions (one per unit of work).

    ``read_only``: every write (``write``, ``unit_of_work``, ``ensure_schema``)
    raises ``ReadOnlyStoreError`` before touching the database; reads take no lock.
    """

    def __init__(
        self,
        url: str,
        *,
        lock_path: Path,
        lock_timeout: float,
        durable: bool,
        connect_timeout: float = 10.0,
        read_only: bool = False,
    ) -> None:
        self.url = url
        self.read_only = read_only
        self.opened_revision: str | None = None  # the schema revision found at open
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        self._lock_path = lock_path
        self._lock_timeout = lock_timeout
        self._connect_timeout = connect_timeout
        connect_args: dict[str, Any] = {}
        if self.is_postgres:
            connect_args["connect_timeout"] = max(1, round(connect_timeout))
        engine_args: dict[str, Any] = {}
        if self.is_postgres:
            # a read session sees one snapshot for all its statements, as a
            # deferred SQLite transaction does; read-only snapshots never fail
            engine_args["isolation_level"] = "REPEATABLE READ"
        self.engine = create_engine(
            url, pool_pre_ping=not self.is_sqlite, connect_args=connect_args, **engine_args
        )
        if self.is_sqlite:
            _install_sqlite_pragmas(
                self.engine,
                busy_timeout_ms=int(lock_timeout * 1000),
                synchronous="FULL" if durable else "NORMAL",
            )
        elif self.is_postgres:
            _install_postgres_write_lock(self.engine, lock_timeout_ms=int(lock_timeout * 1000))
        write_options: dict[str, Any] = {_WRITE: True}
        if self.is_postgres:
            # writers queue on the advisory lock, then each statement sees every
            # earlier commit: no lost update and no serialization failure to retry
            write_options["isolation_level"] = "READ COMMITTED"
        self._write_engine = self.engine.execution_options(**write_options)

    @property
    def write_engine(self) -> Engine:
        """The engine whose transactions are write transactions (serialized)."""
        return self._write_engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ensure_schema(self) -> None:
        """Bring the schema to head; safe when many processes open at once.

        Raises ``BackendUnavailableError`` when the database cannot be reached,
        ``StoreVersionError`` when the store was written by a newer swarmstore
        (an unknown revision, or a newer format).
        """
        self._refuse_write()
        current = self.current_revision()
        self.opened_revision = current
        check_known(current)
        if current == HEAD_REVISION:
            self.check_format()
            return
        self._upgrade()
        self.check_format()

    def check_readable(self) -> str | None:
        """For a read-only open: the revision (None when there is no store), and
        ``StoreVersionError`` unless the schema is at this swarmstore's head and
        the format one it reads. Takes no lock and writes nothing."""
        current = self.current_revision()
        self.opened_revision = current
        if current is None:
            return None
        check_known(current)
        if current != HEAD_REVISION:
            raise StoreVersionError(
                f"store schema is at revision {current!r}, older than this swarmstore's "
                f"{HEAD_REVISION!r}; a read-only open never migrates: run "
                "`swarmstore migrate STORE` (or open it in mode 'rw') first",
                store_revision=current,
                known_revision=HEAD_REVISION,
            )
        self.check_format()
        return current

    def format_version(self) -> int | None:
        """The on-disk format the store records (None before revision 0007)."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("store_format"):
                conn.rollback()
                return None
            row = conn.execute(
                text("SELECT value FROM store_format WHERE name = 'format_version'")
            ).first()
            conn.rollback()
        return int(row[0]) if row else None

    def check_format(self) -> None:
        """``StoreVersionError`` when the store's format is newer than this swarmstore reads."""
        found = self.format_version()
        if found is not None and found > STORE_FORMAT:
            raise StoreVersionError(
                f"store format is {found}, this swarmstore reads up to format "
                f"{STORE_FORMAT} (schema {HEAD_REVISION!r}): it was written by a newer "
                "swarmstore; open it with that version",
                store_revision=self.current_revision(),
                known_revision=HEAD_REVISION,
                store_format=found,
                known_format=STORE_FORMAT,
            )

    def _refuse_write(self) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(f"store {redacted(self.url)} is open read-only (mode='ro')")

    def _upgrade(self) -> None:
        if self.is_sqlite:
            with file_lock(self._lock_path, timeout=self._lock_timeout):
                self._upgrade_locked()
            return
        self._upgrade_locked()

    def _upgrade_locked(self) -> None:
        with self._write_engine.connect() as conn:
            if self.is_postgres:
                conn.exec_driver_sql(_SCHEMA_LOCK_SQL)  # DDL is transactional here
            current = self._revision_on(conn)
            if current == HEAD_REVISION:
                conn.rollback()
                return
            upgrade_to_head(conn, current)
            conn.commit()

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                revision = self._revision_on(conn)
                conn.rollback()
        except OperationalError as exc:
            if self.is_sqlite:
                raise
            raise BackendUnavailableError(
                "metadata database", redacted(self.url), _reason(exc)
            ) from exc
        return revision

    @staticmethod
    def _revision_on(conn: Any) -> str | None:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return row[0] if row else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        # close() (not rollback()) ends the transaction: objects are detached
        # with their loaded state intact, so callers may read them afterwards.
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on error.

        Writers are serialized (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an
        advisory transaction lock), so a unit of work may read, decide and
        write without losing a concurrent update.
        """
        self._refuse_write()
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session

    def unit_of_work(self, bus: Emitter) -> AbstractContextManager[UnitOfWork]:
        """A write transaction whose ``publish``ed events are emitted on ``bus`` after commit."""
        self._refuse_write()
        return unit_of_work(self, bus)

    def close(self) -> None:
        self.engine.dispose()


def _reason(exc: DBAPIError) -> str:
    lines = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def schema_error(current: str | None) -> SwarmStoreError:
    return StoreVersionError(
        f"store schema is at revision {current!r}, this swarmstore knows up to {HEAD_REVISION!r}",
        store_revision=current,
        known_revision=HEAD_REVISION,
    )
