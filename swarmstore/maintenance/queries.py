"""The SQL of maintenance: integrity probes for ``check`` and the table copy of ``copy``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Integer, Table, func, insert, select, text
from sqlalchemy.orm import Session

from swarmstore.meta.engine import MetaStore
from swarmstore.meta.tables import Base, ChunkRow, InlineFrameRow

_PG_UNVALIDATED = (
    "SELECT conrelid::regclass::text, conname FROM pg_constraint "
    "WHERE NOT convalidated AND connamespace = current_schema()::regnamespace"
)
_PG_INVALID_INDEXES = (
    "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "WHERE NOT i.indisvalid AND c.relnamespace = current_schema()::regnamespace"
)
_BATCH_ROWS = 2000


# -- check -------------------------------------------------------------------------


def sqlite_integrity(session: Session) -> list[str]:
    """``PRAGMA integrity_check``: ``["ok"]`` or the lines of what is wrong."""
    return list(session.execute(text("PRAGMA integrity_check")).scalars().all())


def sqlite_foreign_key_violations(session: Session) -> list[tuple[Any, ...]]:
    """``PRAGMA foreign_key_check``: one row per violation."""
    return [tuple(row) for row in session.execute(text("PRAGMA foreign_key_check"))]


def postgres_unvalidated_constraints(session: Session) -> list[tuple[str, str]]:
    """(table, constraint) of every constraint PostgreSQL has not validated."""
    return [(str(t), str(n)) for t, n in session.execute(text(_PG_UNVALIDATED))]


def postgres_invalid_indexes(session: Session) -> list[str]:
    """Indexes PostgreSQL marks invalid (e.g. a failed concurrent build)."""
    return [str(index) for (index,) in session.execute(text(_PG_INVALID_INDEXES))]


def delta_bases(session: Session) -> list[tuple[int, int]]:
    """(chunk pk, base chunk pk) of every delta chunk."""
    rows = session.execute(
        select(ChunkRow.pk, ChunkRow.base_chunk_pk).where(ChunkRow.base_chunk_pk.is_not(None))
    )
    return [(pk, base) for pk, base in rows if base is not None]


def chunk_pks(session: Session) -> set[int]:
    return set(session.scalars(select(ChunkRow.pk)))


def inline_frames(session: Session) -> Iterator[tuple[str, bytes]]:
    """(key, frame) of every inline frame, streamed: never all frames at once."""
    query = select(InlineFrameRow.key, InlineFrameRow.frame).execution_options(yield_per=500)
    for row in session.execute(query):
        yield row.key, row.frame


# -- copy --------------------------------------------------------------------------

# what every store writes about itself at creation (its format): not data to copy
_STORE_OWN = frozenset({"store_format"})


def _data_tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if t.name not in _STORE_OWN]


def first_nonempty_table(session: Session) -> str | None:
    """The name of the first table (in foreign-key order) that holds rows, if any."""
    for table in _data_tables():
        if session.execute(select(func.count()).select_from(table)).scalar_one():
            return table.name
    return None


def copy_rows(src: MetaStore, dst: MetaStore) -> dict[str, int]:
    """Copy every table's rows from ``src`` into ``dst`` in one destination transaction,
    in foreign-key order with their primary keys kept; then move PostgreSQL's id
    sequences past the copied keys. Returns the rows copied per table."""
    tables = _data_tables()
    counts: dict[str, int] = {}
    with (
        src.engine.connect() as reader,
        dst.write_engine.begin() as writer,
    ):
        for table in tables:
            order = list(table.primary_key.columns) or list(table.columns)
            result = reader.execution_options(yield_per=_BATCH_ROWS).execute(
                select(table).order_by(*order)
            )
            count = 0
            for batch in result.mappings().partitions():
                writer.execute(insert(table), [dict(row) for row in batch])
                count += len(batch)
            counts[table.name] = count
        if dst.is_postgres:
            for table in tables:
                _advance_sequence(writer, table)
    return counts


def _advance_sequence(conn: Connection, table: Table) -> None:
    """PostgreSQL: explicit keys do not move a SERIAL's sequence; move it here."""
    pks = list(table.primary_key.columns)
    if len(pks) != 1 or not isinstance(pks[0].type, Integer) or pks[0].autoincrement is False:
        return
    column = pks[0].name
    sequence = conn.execute(
        text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column}
    ).scalar()
    if sequence is None:
        return
    conn.execute(
        text(
            f'SELECT setval(:s, COALESCE((SELECT max("{column}") FROM "{table.name}"), 0) + 1, '
            "false)"
        ),
        {"s": sequence},
    )
