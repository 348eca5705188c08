"""Delete model versions without breaking delta chains or lineage.

Deleting hides the version at once (it leaves every list and lookup) and then
purges what nothing needs any more, inside the same transaction:

1. chunks of hidden versions that no other chunk uses as a delta base
   (repeated: freeing a delta frees its base when that was its last user);
2. tensors of hidden versions left without chunks;
3. hidden versions without tensors that no row of any table names (a child
   version's parent, an experiment's checkpoint, ...).

What stays is exactly what later versions still decode through, plus a
tombstone row for a deleted version that something still names, so that
lineage and history keep their shape. Inline frames (small frames kept in SQL)
go with the last chunk that names them; blobs are freed by ``gc`` once no
chunk names them.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, exists, select, update
from sqlalchemy.orm import Session, aliased

from swarmstore.meta.schema import metadata
from swarmstore.meta.tables import ChunkRow, InlineFrameRow, TensorRow, VersionRow


def _named_elsewhere() -> list[ColumnElement[bool]]:
    """One EXISTS per foreign key, in any table, that can name a version."""
    versions = VersionRow.__table__
    clauses: list[ColumnElement[bool]] = []
    for table in metadata.sorted_tables:
        if table is TensorRow.__table__:
            continue
        for fk in table.foreign_keys:
            if fk.column.table is not versions:
                continue
            if table is versions:  # a child version's parent_pk
                child = aliased(VersionRow)
                clauses.append(exists().where(child.parent_pk == VersionRow.pk))
            else:
                clauses.append(exists().where(fk.parent == VersionRow.pk))
    return clauses


def drop_unnamed_inline_frames(session: Session, keys: set[str]) -> None:
    """Delete the inline frames of ``keys`` that no chunk names any more.

    Safe inside any write transaction: writers are serialized and each one
    re-inserts the inline frames its manifest names.
    """
    named = exists().where(ChunkRow.blob_key == InlineFrameRow.key)
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        batch = ordered[start : start + 500]
        session.execute(delete(InlineFrameRow).where(InlineFrameRow.key.in_(batch), ~named))


def hide_version(session: Session, version_pk: int) -> None:
    session.execute(update(VersionRow).where(VersionRow.pk == version_pk).values(hidden=True))


def purge_hidden(session: Session, model_pk: int) -> int:
    """Drop rows of hidden versions that nothing depends on; returns the chunks freed."""
    hidden_tensors = (
        select(TensorRow.pk)
        .join(VersionRow, VersionRow.pk == TensorRow.version_pk)
        .where(VersionRow.model_pk == model_pk, VersionRow.hidden.is_(True))
    )
    user = aliased(ChunkRow)
    freed = 0
    keys: set[str] = set()  # blob keys of the freed chunks
    while True:
        unused = select(ChunkRow.pk).where(
            ChunkRow.tensor_pk.in_(hidden_tensors),
            ~exists().where(user.base_chunk_pk == ChunkRow.pk),
        )
        pks = list(session.scalars(unused))
        if not pks:
            break
        for start in range(0, len(pks), 500):
            batch = pks[start : start + 500]
            keys.update(session.scalars(select(ChunkRow.blob_key).where(ChunkRow.pk.in_(batch))))
            session.execute(delete(ChunkRow).where(ChunkRow.pk.in_(batch)))
        freed += len(pks)
    drop_unnamed_inline_frames(session, keys)
    session.execute(
        delete(TensorRow).where(
            TensorRow.pk.in_(hidden_tensors),
            ~exists().where(ChunkRow.tensor_pk == TensorRow.pk),
        )
    )
    named = [~clause for clause in _named_elsewhere()]
    while True:
        removable = list(
            session.scalars(
                select(VersionRow.pk).where(
                    VersionRow.model_pk == model_pk,
                    VersionRow.hidden.is_(True),
                    ~exists().where(TensorRow.version_pk == VersionRow.pk),
                    *named,
                )
            )
        )
        if not removable:
            break
        session.execute(delete(VersionRow).where(VersionRow.pk.in_(removable)))
    return freed
