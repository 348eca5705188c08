"""Every column that names a blob, found from the schema.

A column that holds a blob key says so with ``info={"blob_key": "<length
column>"}``. ``gc`` keeps every blob any such column names and ``check``
verifies each one, so a new kind of blob (dataset samples, say) is protected
by declaring its column, not by remembering to edit the maintenance code.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, select
from sqlalchemy.orm import Session

from swarmstore.meta.schema import metadata
from swarmstore.meta.tables import InlineFrameRow


@dataclass(frozen=True, slots=True)
class BlobReference:
    table: str
    key: str
    length: int


def blob_key_columns() -> list[tuple[Column[str], Column[int]]]:
    """(key column, length column) of every table that names blobs."""
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            length = column.info.get("blob_key")
            if length:
                found.append((column, table.columns[length]))
    return found


def referenced_blob_keys(session: Session) -> set[str]:
    """Keys of blobs in the blob store that some row names; a key whose frame
    lives in ``inline_frames`` is not one (its row holds the bytes)."""
    keys: set[str] = set()
    for column, _length in blob_key_columns():
        keys.update(k for k in session.scalars(select(column).distinct()) if k)
    return keys - set(session.scalars(select(InlineFrameRow.key)))


def blob_references(session: Session, *, skip: tuple[str, ...] = ()) -> list[BlobReference]:
    """Each distinct (table, key, length) outside the tables in ``skip``."""
    found = []
    for column, length in blob_key_columns():
        if column.table.name in skip:
            continue
        rows = session.execute(select(column, length).where(column.is_not(None)).distinct())
        found += [BlobReference(column.table.name, k, int(n)) for k, n in rows if k]
    return found
