"""Delete model versions without breaking delta chains or lineage.

Deleting hides the version at once (it leaves every list and lookup) and then
purges what nothing needs any more, inside the same transaction:

1. chunks of hidden versions that no other chunk uses as a delta base
   (repeated: freeing a delta frees its base when that was its last user);
2. tensors of hidden versions left without chunks;
3. hidden versions without tensors and without child versions.

What stays is exactly what later versions still decode through, plus a
tombstone row for a deleted version that is some version's parent, so that
lineage keeps its shape. Blobs are freed by ``gc`` once no chunk names them.
"""

from __future__ import annotations

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session, aliased

from swarmstore.meta.tables import ChunkRow, TensorRow, VersionRow


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
    while True:
        unused = select(ChunkRow.pk).where(
            ChunkRow.tensor_pk.in_(hidden_tensors),
            ~exists().where(user.base_chunk_pk == ChunkRow.pk),
        )
        pks = list(session.scalars(unused))
        if not pks:
            break
        for start in range(0, len(pks), 500):
            session.execute(delete(ChunkRow).where(ChunkRow.pk.in_(pks[start : start + 500])))
        freed += len(pks)
    session.execute(
        delete(TensorRow).where(
            TensorRow.pk.in_(hidden_tensors),
            ~exists().where(ChunkRow.tensor_pk == TensorRow.pk),
        )
    )
    child = aliased(VersionRow)
    while True:
        removable = list(
            session.scalars(
                select(VersionRow.pk).where(
                    VersionRow.model_pk == model_pk,
                    VersionRow.hidden.is_(True),
                    ~exists().where(TensorRow.version_pk == VersionRow.pk),
                    ~exists().where(child.parent_pk == VersionRow.pk),
                )
            )
        )
        if not removable:
            break
        session.execute(delete(VersionRow).where(VersionRow.pk.in_(removable)))
    return freed
