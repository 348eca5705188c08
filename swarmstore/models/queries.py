"""Queries of the model aggregate: models, versions, their manifests, the rows a
deleted version leaves behind and the lineage a stored version writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, delete, exists, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from swarmstore.errors import ModelNotFoundError
from swarmstore.meta import lineage as ln
from swarmstore.meta.schema import metadata
from swarmstore.meta.tables import ChunkRow, InlineFrameRow, ModelRow, TensorRow, VersionRow
from swarmstore.meta.tables_lineage import LineageEdgeRow
from swarmstore.models.manifest import ChunkEntry, Manifest, TensorEntry
from swarmstore.records.model import NeuralModelRecord

_IN_BATCH = 500  # stay under every backend's bound-parameter limit
# Manifests are read and written as Core rows: no ORM identity map or instance per
# tensor and chunk (~200 of each for a 100-tensor model, a tenth of a restore).
_TENSORS = cast(Table, TensorRow.__table__)
_CHUNKS = cast(Table, ChunkRow.__table__)


def find_model(session: Session, swarm_id: str, model_id: str) -> ModelRow | None:
    return session.scalar(
        select(ModelRow).where(ModelRow.swarm_id == swarm_id, ModelRow.model_id == model_id)
    )


def find_version(
    session: Session, model_pk: int, version: str | None, *, include_hidden: bool = False
) -> VersionRow | None:
    """One version by name, or the latest visible one when ``version`` is None.

    A deleted version stays as a hidden tombstone while later versions name it
    as their parent; only ``include_hidden`` finds it.
    """
    query = select(VersionRow).where(VersionRow.model_pk == model_pk)
    if not include_hidden:
        query = query.where(VersionRow.hidden.is_(False))
    if version is None:
        query = query.order_by(VersionRow.seq.desc()).limit(1)
    else:
        query = query.where(VersionRow.version == version)
    return session.scalar(query)


def require_model(session: Session, swarm_id: str, model_id: str) -> ModelRow:
    model = find_model(session, swarm_id, model_id)
    if model is None:
        raise ModelNotFoundError(
            f"model {model_id!r} not found in swarm {swarm_id!r}",
            swarm_id=swarm_id,
            model_id=model_id,
        )
    return model


def require_version(session: Session, model: ModelRow, version: str) -> VersionRow:
    row = find_version(session, model.pk, version)
    if row is None:
        raise ModelNotFoundError(
            f"version {version!r} of model {model.model_id!r} not found in swarm "
            f"{model.swarm_id!r}",
            swarm_id=model.swarm_id,
            model_id=model.model_id,
            version=version,
        )
    return row


def parent_missing(swarm_id: str, model_id: str, version: str) -> ModelNotFoundError:
    """The error of a parent (``parent_version`` or ``merged_from``) that is not stored."""
    return ModelNotFoundError(
        f"parent version {version!r} of model {model_id!r} in swarm {swarm_id!r} does not exist",
        swarm_id=swarm_id,
        model_id=model_id,
        version=version,
    )


def require_parents(session: Session, swarm_id: str, refs: list[tuple[str, str]]) -> None:
    """Every (model_id, version) of ``refs`` is a visible version, or ``parent_missing``."""
    for model_id, version in refs:
        model = find_model(session, swarm_id, model_id)
        if model is None or find_version(session, model.pk, version) is None:
            raise parent_missing(swarm_id, model_id, version)


def version_name(session: Session, version_pk: int) -> str | None:
    """The name of a version row (hidden or not), None if it is gone."""
    row = session.get(VersionRow, version_pk)
    return row.version if row else None


def list_versions(
    session: Session, model_pk: int, *, include_hidden: bool = False
) -> list[VersionRow]:
    query = select(VersionRow).where(VersionRow.model_pk == model_pk).order_by(VersionRow.seq)
    if not include_hidden:
        query = query.where(VersionRow.hidden.is_(False))
    return list(session.scalars(query))


def list_models(session: Session, swarm_id: str | None = None) -> list[tuple[ModelRow, int]]:
    """Models with their count of visible versions."""
    count = (
        select(VersionRow.model_pk, func.count().label("n"))
        .where(VersionRow.hidden.is_(False))
        .group_by(VersionRow.model_pk)
        .subquery()
    )
    query = (
        select(ModelRow, func.coalesce(count.c.n, 0))
        .outerjoin(count, count.c.model_pk == ModelRow.pk)
        .order_by(ModelRow.swarm_id, ModelRow.model_id)
    )
    if swarm_id is not None:
        query = query.where(ModelRow.swarm_id == swarm_id)
    return [(row, int(n)) for row, n in session.execute(query)]


def get_or_create_model(
    session: Session,
    swarm_id: str,
    model_id: str,
    *,
    agent_id: str,
    model_name: str,
    architecture: str,
    now: datetime,
) -> ModelRow:
    model = find_model(session, swarm_id, model_id)
    if model is None:
        model = ModelRow(
            swarm_id=swarm_id,
            model_id=model_id,
            agent_id=agent_id,
            model_name=model_name,
            architecture=architecture,
            created=now,
            updated=now,
        )
        session.add(model)
        session.flush()
    else:
        model.updated = now
        model.agent_id = agent_id or model.agent_id
        model.model_name = model_name or model.model_name
        model.architecture = architecture or model.architecture
    return model


def is_visible(session: Session, version_pk: int) -> bool:
    """The version exists and is not deleted (hidden)."""
    return session.scalar(select(VersionRow.hidden).where(VersionRow.pk == version_pk)) is False


def next_seq(session: Session, model_pk: int) -> int:
    current = session.scalar(
        select(func.max(VersionRow.seq)).where(VersionRow.model_pk == model_pk)
    )
    return (current or 0) + 1


def insert_manifest(session: Session, version_pk: int, manifest: Manifest) -> None:
    """Insert tensors and chunks as two executemany statements; sets ``pk`` on every
    chunk from one query after each.

    Not INSERT ... RETURNING: with ordered RETURNING on SQLite, SQLAlchemy sends one
    statement per row (~200 for a 100-tensor version, a third of a small save).
    """
    if not manifest.tensors:
        return
    tensor_rows = [
        {
            "version_pk": version_pk,
            "position": e.position,
            "group": e.group,
            "name": e.name,
            "dtype": e.dtype,
            "shape": list(e.shape),
            "byte_length": e.byte_length,
            "chunk_bytes": e.chunk_bytes,
            "alias_of": e.alias_of,
        }
        for e in manifest.tensors
    ]
    session.execute(insert(_TENSORS), tensor_rows)
    tensor_pk: dict[int, int] = {
        position: pk
        for position, pk in session.execute(
            select(TensorRow.position, TensorRow.pk).where(TensorRow.version_pk == version_pk)
        )
    }
    chunk_rows = [
        {
            "tensor_pk": tensor_pk[e.position],
            "idx": c.idx,
            "raw_hash": c.raw_hash,
            "raw_length": c.raw_length,
            "blob_key": c.blob_key,
            "encoded_length": c.encoded_length,
            "codec": c.codec,
            "base_chunk_pk": c.base_chunk_pk,
            "depth": c.depth,
        }
        for e in manifest.tensors
        for c in e.chunks
    ]
    if not chunk_rows:
        return
    session.execute(insert(_CHUNKS), chunk_rows)
    chunk_pk = {
        (t_pk, idx): pk
        for pk, t_pk, idx in session.execute(
            select(ChunkRow.pk, ChunkRow.tensor_pk, ChunkRow.idx)
            .join(TensorRow, TensorRow.pk == ChunkRow.tensor_pk)
            .where(TensorRow.version_pk == version_pk)
        )
    }
    for e in manifest.tensors:
        for c in e.chunks:
            c.pk = chunk_pk[(tensor_pk[e.position], c.idx)]


def insert_inline_frames(session: Session, manifest: Manifest) -> None:
    """Insert the manifest's inline frames that are not stored yet, in the write
    transaction (writers are serialized, so a frame present now stays until this
    commits). The first chunk of each frame inserted here counts as new bytes."""
    frames = manifest.inline_frames
    if not frames:
        return
    keys = sorted(frames)
    present: set[str] = set()
    for start in range(0, len(keys), _IN_BATCH):
        batch = keys[start : start + _IN_BATCH]
        present.update(
            session.scalars(select(InlineFrameRow.key).where(InlineFrameRow.key.in_(batch)))
        )
    missing = [k for k in keys if k not in present]
    if not missing:
        return
    session.execute(insert(InlineFrameRow), [{"key": k, "frame": frames[k]} for k in missing])
    unclaimed = set(missing)
    for tensor in manifest.tensors:
        for chunk in tensor.chunks:
            if chunk.frame is not None and chunk.blob_key in unclaimed:
                chunk.new_blob = True
                unclaimed.discard(chunk.blob_key)


def _chunk_entry(row: Any, frame: bytes | None = None) -> ChunkEntry:
    """From a ``tensor_chunks`` row (Core row or ORM instance)."""
    return ChunkEntry(
        idx=row.idx,
        raw_hash=row.raw_hash,
        raw_length=row.raw_length,
        blob_key=row.blob_key,
        encoded_length=row.encoded_length,
        codec=row.codec,
        depth=row.depth,
        base_chunk_pk=row.base_chunk_pk,
        pk=row.pk,
        frame=frame,
    )


def _chunks_with_frames() -> Select[Any]:
    """Chunk rows, each with its inline frame (None for a blob file)."""
    return (
        select(_CHUNKS, InlineFrameRow.frame)
        .select_from(_CHUNKS)
        .outerjoin(InlineFrameRow, InlineFrameRow.key == _CHUNKS.c.blob_key)
    )


def load_manifest(session: Session, version_pk: int) -> list[TensorEntry]:
    tensors = session.execute(
        select(_TENSORS).where(_TENSORS.c.version_pk == version_pk).order_by(_TENSORS.c.position)
    )
    entries = {
        t.pk: TensorEntry(
            position=t.position,
            group=t.group,
            name=t.name,
            dtype=t.dtype,
            shape=tuple(t.shape),
            byte_length=t.byte_length,
            chunk_bytes=t.chunk_bytes,
            alias_of=t.alias_of,
        )
        for t in tensors
    }
    chunk_query = (
        _chunks_with_frames()
        .join(_TENSORS, _TENSORS.c.pk == _CHUNKS.c.tensor_pk)
        .where(_TENSORS.c.version_pk == version_pk)
        .order_by(_CHUNKS.c.tensor_pk, _CHUNKS.c.idx)
    )
    for row in session.execute(chunk_query):
        entries[row.tensor_pk].chunks.append(_chunk_entry(row, row.frame))
    return list(entries.values())


def resolve_chunks(session: Session, pks: Iterable[int]) -> dict[int, ChunkEntry]:
    wanted = sorted(set(pks))
    found: dict[int, ChunkEntry] = {}
    for start in range(0, len(wanted), _IN_BATCH):
        batch = wanted[start : start + _IN_BATCH]
        query = _chunks_with_frames().where(_CHUNKS.c.pk.in_(batch))
        for row in session.execute(query):
            found[row.pk] = _chunk_entry(row, row.frame)
    return found


def chunk_locations(session: Session) -> list[tuple[str, str, str, str, int, str, str, int]]:
    """(swarm, model, version, tensor, chunk idx, blob key, raw hash, encoded length)
    of every chunk."""
    query = (
        select(
            ModelRow.swarm_id,
            ModelRow.model_id,
            VersionRow.version,
            TensorRow.name,
            ChunkRow.idx,
            ChunkRow.blob_key,
            ChunkRow.raw_hash,
            ChunkRow.encoded_length,
        )
        .join(TensorRow, TensorRow.pk == ChunkRow.tensor_pk)
        .join(VersionRow, VersionRow.pk == TensorRow.version_pk)
        .join(ModelRow, ModelRow.pk == VersionRow.model_pk)
        .order_by(ChunkRow.blob_key)
    )
    return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


# -- deletion (see ``models.deletion``) ---------------------------------------


def hide_version(session: Session, version_pk: int) -> None:
    session.execute(update(VersionRow).where(VersionRow.pk == version_pk).values(hidden=True))


def _hidden_tensors(model_pk: int) -> Select[Any]:
    return (
        select(TensorRow.pk)
        .join(VersionRow, VersionRow.pk == TensorRow.version_pk)
        .where(VersionRow.model_pk == model_pk, VersionRow.hidden.is_(True))
    )


def unused_hidden_chunks(session: Session, model_pk: int) -> list[int]:
    """Chunks of the model's hidden versions that no chunk uses as a delta base."""
    user = aliased(ChunkRow)
    return list(
        session.scalars(
            select(ChunkRow.pk).where(
                ChunkRow.tensor_pk.in_(_hidden_tensors(model_pk)),
                ~exists().where(user.base_chunk_pk == ChunkRow.pk),
            )
        )
    )


def delete_chunks(session: Session, pks: list[int]) -> set[str]:
    """Delete chunk rows; returns the blob keys they named."""
    keys: set[str] = set()
    for start in range(0, len(pks), _IN_BATCH):
        batch = pks[start : start + _IN_BATCH]
        keys.update(session.scalars(select(ChunkRow.blob_key).where(ChunkRow.pk.in_(batch))))
        session.execute(delete(ChunkRow).where(ChunkRow.pk.in_(batch)))
    return keys


def drop_unnamed_inline_frames(session: Session, keys: set[str]) -> None:
    """Delete the inline frames of ``keys`` that no chunk names any more.

    Safe inside any write transaction: writers are serialized and each one
    re-inserts the inline frames its manifest names.
    """
    named = exists().where(ChunkRow.blob_key == InlineFrameRow.key)
    ordered = sorted(keys)
    for start in range(0, len(ordered), _IN_BATCH):
        batch = ordered[start : start + _IN_BATCH]
        session.execute(delete(InlineFrameRow).where(InlineFrameRow.key.in_(batch), ~named))


def delete_empty_hidden_tensors(session: Session, model_pk: int) -> None:
    """Delete the tensors of the model's hidden versions that have no chunk left."""
    session.execute(
        delete(TensorRow).where(
            TensorRow.pk.in_(_hidden_tensors(model_pk)),
            ~exists().where(ChunkRow.tensor_pk == TensorRow.pk),
        )
    )


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


def removable_hidden_versions(session: Session, model_pk: int) -> list[int]:
    """Hidden versions of the model without tensors that no row of any table names."""
    named = [~clause for clause in _named_elsewhere()]
    return list(
        session.scalars(
            select(VersionRow.pk).where(
                VersionRow.model_pk == model_pk,
                VersionRow.hidden.is_(True),
                ~exists().where(TensorRow.version_pk == VersionRow.pk),
                *named,
            )
        )
    )


def delete_versions(session: Session, pks: list[int]) -> None:
    session.execute(delete(VersionRow).where(VersionRow.pk.in_(pks)))


# -- lineage rows of model versions -------------------------------------------


def record_version_lineage(
    session: Session,
    swarm_id: str,
    rec: NeuralModelRecord,
    parents: list[tuple[str, str]],
    now: datetime,
) -> None:
    """Agent, model and version nodes and their edges, a PARENT_OF edge per parent."""
    model_key = ln.node_key(ln.MODEL, swarm_id, rec.id)
    version_key = ln.node_key(ln.MODEL_VERSION, swarm_id, rec.id, rec.version)
    ln.upsert_node(
        session,
        ln.MODEL,
        model_key,
        swarm_id,
        {"model_id": rec.id, "name": rec.model_name, "architecture": rec.architecture},
        now,
    )
    ln.upsert_node(
        session,
        ln.MODEL_VERSION,
        version_key,
        swarm_id,
        {"model_id": rec.id, "version": rec.version, "architecture": rec.architecture},
        now,
    )
    ln.add_edge(session, model_key, ln.HAS_VERSION, version_key, swarm_id, now)
    if rec.agent_id:
        agent_key = ln.node_key(ln.AGENT, swarm_id, rec.agent_id)
        ln.upsert_node(session, ln.AGENT, agent_key, swarm_id, {"agent_id": rec.agent_id}, now)
        ln.add_edge(session, agent_key, ln.OWNS, model_key, swarm_id, now)
    for parent_model, parent_version in parents:
        parent_key = ln.node_key(ln.MODEL_VERSION, swarm_id, parent_model, parent_version)
        ln.add_edge(session, parent_key, ln.PARENT_OF, version_key, swarm_id, now)


def merged_parents(session: Session, swarm_id: str, model_id: str, version: str) -> list[str]:
    """Every parent of a version as ``merged_from`` spells it, in the order they were given."""
    key = ln.node_key(ln.MODEL_VERSION, swarm_id, model_id, version)
    sources = session.scalars(
        select(LineageEdgeRow.src)
        .where(LineageEdgeRow.dst == key, LineageEdgeRow.rel == ln.PARENT_OF)
        .order_by(LineageEdgeRow.pk)
    )
    prefix = ln.node_key(ln.MODEL_VERSION, swarm_id, "")
    refs = []
    for src in sources:
        other, _, parent_version = src.removeprefix(prefix).rpartition("/")
        refs.append(parent_version if other == model_id else f"{other}/{parent_version}")
    return refs


def mark_version_deleted(
    session: Session, swarm_id: str, model_id: str, version: str, now: datetime
) -> None:
    """The node stays (children still name it as parent); it is flagged deleted."""
    key = ln.node_key(ln.MODEL_VERSION, swarm_id, model_id, version)
    ln.upsert_node(session, ln.MODEL_VERSION, key, swarm_id, {"deleted": True}, now)
