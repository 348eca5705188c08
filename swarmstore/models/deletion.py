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

from swarmstore.meta.unit import Session
from swarmstore.models import queries as q


def delete_version(session: Session, model_pk: int, version_pk: int) -> int:
    """Hide the version, then purge what nothing needs any more; returns the chunks freed."""
    q.hide_version(session, version_pk)
    return purge_hidden(session, model_pk)


def purge_hidden(session: Session, model_pk: int) -> int:
    """Drop rows of hidden versions that nothing depends on; returns the chunks freed."""
    freed = 0
    keys: set[str] = set()  # blob keys of the freed chunks
    while pks := q.unused_hidden_chunks(session, model_pk):
        keys.update(q.delete_chunks(session, pks))
        freed += len(pks)
    q.drop_unnamed_inline_frames(session, keys)
    q.delete_empty_hidden_tensors(session, model_pk)
    while removable := q.removable_hidden_versions(session, model_pk):
        q.delete_versions(session, removable)
    return freed
