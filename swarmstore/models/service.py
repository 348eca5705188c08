"""Store and restore model versions: the write order of DESIGN.md in one place.

validate → read parent → encode + write blobs → flush blobs → one SQL
transaction (version, manifest, event-log row, outbox row) → events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import ValidationError

from swarmstore.blobs import BlobStore
from swarmstore.errors import (
    CorruptDataError,
    InvalidIdentifierError,
    InvalidRecordError,
    ModelNotFoundError,
    VersionExistsError,
    VersionInUseError,
)
from swarmstore.events import MODEL_VERSION_DELETED, NEURAL_MODEL_STORED, EventBus
from swarmstore.ids import validate_id
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.tables import ModelRow, VersionRow
from swarmstore.meta.unit import IndexUpdate, Session, UnitOfWork
from swarmstore.models import queries as q
from swarmstore.models.deletion import delete_version
from swarmstore.models.manifest import ChunkEntry, Manifest, TensorEntry
from swarmstore.models.reader import ChunkReader, RawChunkCache
from swarmstore.models.tensors import TensorSource, tensor_sources
from swarmstore.models.writer import CheckpointWriter, WritePolicy
from swarmstore.records.base import parse_record
from swarmstore.records.model import ModelVersionInfo, NeuralModelMetadata, NeuralModelRecord

TENSOR_GROUPS = ("weights", "biases", "state")
_OVERLAP_FLUSH_BYTES = 64 << 20  # new blob bytes up to which SQL overlaps the blob syncs


class _KeyframeIndex:
    """``index[chunk]`` is the keyframe chunk that ``chunk`` is (transitively) a delta on."""

    def __init__(
        self, resolve: Callable[[Any], dict[int, ChunkEntry]], deltas: list[ChunkEntry]
    ) -> None:
        self._roots: dict[int | None, ChunkEntry] = {}
        known: dict[int, ChunkEntry] = {}
        wanted = {c.base_chunk_pk for c in deltas} - {None}
        while wanted:
            found = resolve(wanted)
            known.update(found)
            wanted = {c.base_chunk_pk for c in found.values()} - {None} - known.keys()
        for chunk in deltas:
            root = chunk
            while root.base_chunk_pk is not None:
                root = known[root.base_chunk_pk]
            self._roots[chunk.pk] = root

    def __getitem__(self, chunk: ChunkEntry) -> ChunkEntry:
        return self._roots[chunk.pk]


@dataclass(frozen=True, slots=True)
class _Located:
    model: ModelRow
    version: VersionRow


def _deleted_while_read(found: _Located) -> ModelNotFoundError:
    model, version = found.model, found.version.version
    return ModelNotFoundError(
        f"version {version!r} of model {model.model_id!r} in swarm {model.swarm_id!r} "
        "was deleted while it was being read",
        swarm_id=model.swarm_id,
        model_id=model.model_id,
        version=version,
    )


def parse_model_record(record: NeuralModelRecord | Mapping[str, Any]) -> NeuralModelRecord:
    try:
        return parse_record(NeuralModelRecord, record, what="a model record")
    except ValidationError as exc:
        raise InvalidRecordError(f"invalid model record: {exc}") from None


def parent_refs(model_id: str, rec: NeuralModelRecord) -> list[tuple[str, str]]:
    """(model_id, version) of every parent: ``parent_version`` first, then ``merged_from``.

    A ``merged_from`` entry is ``"version"`` (same model) or ``"model_id/version"``.
    """
    refs = [] if rec.parent_version is None else [(model_id, rec.parent_version)]
    for entry in rec.merged_from:
        if not isinstance(entry, str) or entry.count("/") > 1:
            raise InvalidIdentifierError(
                f"merged_from entry {entry!r} must be 'version' or 'model_id/version'"
            )
        other, _, version = entry.rpartition("/")
        ref = (
            validate_id("merged_from model id", other or model_id),
            validate_id("merged_from version", version),
        )
        if ref not in refs:
            refs.append(ref)
    return refs


class ModelVersionService:
    def __init__(
        self,
        meta: MetaStore,
        blobs: BlobStore,
        executor: Executor,
        events: EventBus,
        policy: WritePolicy,
        *,
        cache_bytes: int = 512 << 20,
    ) -> None:
        self.meta = meta
        self.blobs = blobs
        self.executor = executor
        self.events = events
        self.policy = policy
        self.cache = RawChunkCache(cache_bytes) if cache_bytes > 0 else None
        self.reader = ChunkReader(blobs, self._resolve_chunks, self.cache)
        self.window_bytes = max(policy.chunk_bytes * 4, 64 << 20)
        # (session, version pk) -> what forbids deleting it; registered by other domains
        self.deletion_guards: list[Callable[[Session, int], list[str]]] = []

    # -- writes -----------------------------------------------------------

    def store(
        self,
        swarm_id: str,
        record: NeuralModelRecord | Mapping[str, Any],
        *,
        sources: list[TensorSource] | None = None,
    ) -> NeuralModelRecord:
        validate_id("swarm_id", swarm_id)
        rec = parse_model_record(record)
        model_id = validate_id("model id", rec.id)
        version = validate_id("version", rec.version)
        if rec.agent_id:
            validate_id("agent_id", rec.agent_id)
        if rec.parent_version is not None:
            validate_id("parent_version", rec.parent_version)
        if sources is None:
            sources = self.sources_of(rec)
        if not sources:
            raise InvalidRecordError(f"model {model_id!r} version {version!r} has no weights")
        parents = parent_refs(model_id, rec)
        parent_manifest = self._precheck(swarm_id, model_id, version, rec.parent_version)
        merged = parents[1:] if rec.parent_version is not None else parents
        if merged:
            with self.meta.read() as session:
                q.require_parents(session, swarm_id, merged)

        writer = CheckpointWriter(
            self.blobs,
            self.executor,
            self.policy,
            base_provider=self._base_raw,
            keyframe_of=self._keyframes_of(parent_manifest).__getitem__,
            cache=self.cache,
            window_bytes=self.window_bytes,
        )
        manifest = writer.write(sources, parent_manifest)
        # A small save runs its SQL while the last blob syncs are still in flight
        # and flushes right before COMMIT; a big one flushes first, so the write
        # lock is never held through a long sync tail (or upload) of its own.
        overlap = manifest.new_bytes <= _OVERLAP_FLUSH_BYTES
        if not overlap:
            self.blobs.flush()

        try:
            with self.meta.unit_of_work(self.events) as uow:
                metadata = self._insert_version(uow, swarm_id, rec, manifest, parents, merged)
                if overlap:
                    self.blobs.flush()  # durable before the COMMIT that names them
        finally:
            self.blobs.flush()  # no-op after a commit; a refused save's blobs become gc's orphans
        stored = rec.model_copy(update={"metadata": metadata, "swarm_id": swarm_id})
        return stored

    def _insert_version(
        self,
        uow: UnitOfWork,
        swarm_id: str,
        rec: NeuralModelRecord,
        manifest: Manifest,
        parents: list[tuple[str, str]],
        merged: list[tuple[str, str]],
    ) -> NeuralModelMetadata:
        """The version's rows, manifest, lineage and published event (not committed)."""
        session, now = uow.session, uow.now
        model_id, version = rec.id, rec.version
        model = q.get_or_create_model(
            session,
            swarm_id,
            model_id,
            agent_id=rec.agent_id,
            model_name=rec.model_name,
            architecture=rec.architecture,
            now=now,
        )
        if q.find_version(session, model.pk, version, include_hidden=True) is not None:
            raise VersionExistsError(swarm_id, model_id, version)
        parent_pk = None
        if rec.parent_version is not None:
            parent = q.find_version(session, model.pk, rec.parent_version)
            if parent is None:
                raise q.parent_missing(swarm_id, model_id, rec.parent_version)
            parent_pk = parent.pk
        q.insert_inline_frames(session, manifest)  # decides which inline bytes are new
        metadata = self._metadata(rec.metadata, manifest, now)
        row = VersionRow(
            model_pk=model.pk,
            version=version,
            seq=q.next_seq(session, model.pk),
            parent_pk=parent_pk,
            agent_id=rec.agent_id,
            model_name=rec.model_name,
            architecture=rec.architecture,
            hyperparameters=rec.hyperparameters,
            meta=metadata.model_dump(mode="json", by_alias=True, exclude_none=True),
            tags=list(rec.tags),
            checkpoint_type=metadata.checkpoint_type or "full",
            compression_type=metadata.compression_type or "none",
            model_size=manifest.raw_bytes,
            stored_size=manifest.new_bytes,
            tensor_count=len(manifest.tensors),
            created=now,
            updated=now,
        )
        session.add(row)
        session.flush()
        q.insert_manifest(session, row.pk, manifest)
        q.require_parents(session, swarm_id, merged)
        q.record_version_lineage(session, swarm_id, rec, parents, now)
        event = {
            "swarm_id": swarm_id,
            "model_id": model_id,
            "version": version,
            "parent_version": rec.parent_version,
        }
        uow.publish(
            NEURAL_MODEL_STORED,
            event,
            swarm_id=swarm_id,
            index=IndexUpdate(
                "model_version.upserted",
                f"{swarm_id}/{model_id}/{version}",
                {**event, "agent_id": rec.agent_id, "architecture": rec.architecture},
            ),
        )
        return metadata

    def delete(self, swarm_id: str, model_id: str, version: str) -> dict[str, Any]:
        """Delete one version (see ``models.deletion``); later versions still restore."""
        found = self.locate(swarm_id, model_id, version)
        with self.meta.unit_of_work(self.events) as uow:
            session = uow.session
            # raises if deleted by someone else since locate
            row = q.require_version(session, found.model, version)
            blockers = [b for guard in self.deletion_guards for b in guard(session, row.pk)]
            if blockers:
                raise VersionInUseError(
                    f"version {version!r} of model {model_id!r} in swarm {swarm_id!r} is still "
                    f"named by {', '.join(blockers)}; change those first",
                    swarm_id=swarm_id,
                    model_id=model_id,
                    version=version,
                )
            freed = delete_version(session, found.model.pk, row.pk)
            q.mark_version_deleted(session, swarm_id, model_id, version, uow.now)
            event = {"swarm_id": swarm_id, "model_id": model_id, "version": version}
            uow.publish(
                MODEL_VERSION_DELETED,
                event,
                swarm_id=swarm_id,
                index=IndexUpdate("model_version.deleted", f"{swarm_id}/{model_id}/{version}"),
            )
        return {**event, "chunks_freed": freed}

    def _precheck(
        self, swarm_id: str, model_id: str, version: str, parent_version: str | None
    ) -> dict[tuple[str, str], TensorEntry]:
        """Refuse a duplicate version or a missing parent before any blob is written."""
        with self.meta.read() as session:
            model = q.find_model(session, swarm_id, model_id)
            if (
                model is not None
                and q.find_version(session, model.pk, version, include_hidden=True) is not None
            ):
                raise VersionExistsError(swarm_id, model_id, version)
            if parent_version is None:
                return {}
            parent = q.find_version(session, model.pk, parent_version) if model else None
            if parent is None:
                raise q.parent_missing(swarm_id, model_id, parent_version)
            return {t.key: t for t in q.load_manifest(session, parent.pk)}

    def _metadata(
        self, given: NeuralModelMetadata, manifest: Manifest, now: Any
    ) -> NeuralModelMetadata:
        codecs = {c.codec for t in manifest.tensors for c in t.chunks}
        compression = (
            "none" if codecs <= {"raw"} else "swarm" if codecs - {"raw", "zstd"} else "zstd"
        )
        return given.model_copy(
            update={
                "created": now,
                "updated": now,
                "model_size": manifest.raw_bytes,
                "stored_size": manifest.new_bytes,
                "compression_type": compression,
                "checkpoint_type": "incremental" if manifest.is_incremental else "full",
            }
        )

    def _base_raw(self, chunk: ChunkEntry, dtype: str) -> bytes | bytearray:
        cached = self.cache.get(chunk.raw_hash) if self.cache else None
        if cached is not None:
            return cached
        raw = self.reader.decode_verified(chunk, dtype, {})
        if self.cache is not None:
            self.cache.put(chunk.raw_hash, raw)
        return raw

    def _keyframes_of(self, parent: dict[tuple[str, str], TensorEntry]) -> _KeyframeIndex:
        """Parent chunk -> the full frame at the root of its delta chain, resolved with
        one query per chain level for the whole version (not one per chunk while
        encoding). A keyframe-layout chain has one level."""
        if self.policy.delta_base != "keyframe":
            return _KeyframeIndex(self._resolve_chunks, [])  # deltas go on the parent itself
        return _KeyframeIndex(
            self._resolve_chunks,
            [c for t in parent.values() for c in t.chunks if c.base_chunk_pk is not None],
        )

    def _resolve_chunks(self, pks: Any) -> dict[int, ChunkEntry]:
        with self.meta.read() as session:
            return q.resolve_chunks(session, pks)

    # -- reads ------------------------------------------------------------

    def locate(self, swarm_id: str, model_id: str, version: str | None) -> _Located:
        validate_id("swarm_id", swarm_id)
        validate_id("model id", model_id)
        if version is not None:
            validate_id("version", version)
        with self.meta.read() as session:
            model = q.find_model(session, swarm_id, model_id)
            row = q.find_version(session, model.pk, version) if model else None
        if model is None or row is None:
            what = f"version {version!r} of model" if version else "model"
            raise ModelNotFoundError(
                f"{what} {model_id!r} not found in swarm {swarm_id!r}",
                swarm_id=swarm_id,
                model_id=model_id,
                version=version,
            )
        return _Located(model, row)

    def iter_tensors(
        self, swarm_id: str, model_id: str, version: str | None = None
    ) -> Iterator[tuple[str, str, torch.Tensor]]:
        """Stream (group, name, tensor) of a version in stored order."""
        yield from self.iter_located(self.locate(swarm_id, model_id, version))

    def load_manifest(self, found: _Located) -> list[TensorEntry]:
        """The located version's manifest; ``ModelNotFoundError`` if the version
        was deleted since it was located (its rows may then be partly purged)."""
        with self.meta.read() as session:
            manifest = q.load_manifest(session, found.version.pk)
            visible = q.is_visible(session, found.version.pk)  # after the manifest: see above
        if not visible:
            raise _deleted_while_read(found)
        return manifest

    def iter_located(
        self, found: _Located, manifest: list[TensorEntry] | None = None
    ) -> Iterator[tuple[str, str, torch.Tensor]]:
        """Decode an already-located version (one lookup per read, not one per layer)."""
        if manifest is None:
            manifest = self.load_manifest(found)
        where = {
            "swarm_id": found.model.swarm_id,
            "model_id": found.model.model_id,
            "version": found.version.version,
        }
        try:
            for entry, tensor in self.reader.iter_tensors(
                manifest,
                self.executor,
                where=lambda _e: dict(where),
                window_bytes=self.window_bytes,
            ):
                yield entry.group, entry.name, tensor
        except CorruptDataError:
            # a delete that lands mid-read purges the delta bases still to be
            # resolved: that is a version gone, not a damaged store
            with self.meta.read() as session:
                if not q.is_visible(session, found.version.pk):
                    raise _deleted_while_read(found) from None
            raise

    def get(self, swarm_id: str, model_id: str, version: str | None = None) -> NeuralModelRecord:
        found = self.locate(swarm_id, model_id, version)
        groups: dict[str, dict[str, torch.Tensor]] = {g: {} for g in TENSOR_GROUPS}
        for group, name, tensor in self.iter_located(found):
            groups.setdefault(group, {})[name] = tensor
        return self._record(found.model, found.version, groups)

    def _record(
        self, model: ModelRow, row: VersionRow, groups: dict[str, dict[str, torch.Tensor]]
    ) -> NeuralModelRecord:
        parent_version = None
        with self.meta.read() as session:
            if row.parent_pk is not None:
                parent_version = q.version_name(session, row.parent_pk)
            merged = q.merged_parents(session, model.swarm_id, model.model_id, row.version)
        return NeuralModelRecord(
            id=model.model_id,
            agent_id=row.agent_id,
            model_name=row.model_name,
            version=row.version,
            architecture=row.architecture,
            hyperparameters=row.hyperparameters,
            weights=groups.get("weights", {}),
            biases=groups.get("biases", {}),
            state=groups.get("state", {}),
            metadata=NeuralModelMetadata.model_validate(row.meta),
            parent_version=parent_version,
            merged_from=[m for m in merged if m != parent_version],
            tags=list(row.tags),
            swarm_id=model.swarm_id,
        )

    def list_versions(self, swarm_id: str, model_id: str) -> list[ModelVersionInfo]:
        validate_id("swarm_id", swarm_id)
        validate_id("model id", model_id)
        with self.meta.read() as session:
            model = q.require_model(session, swarm_id, model_id)
            rows = q.list_versions(session, model.pk)
            names = {
                r.pk: r.version for r in q.list_versions(session, model.pk, include_hidden=True)
            }
        return [
            ModelVersionInfo(
                swarm_id=swarm_id,
                id=model_id,
                version=r.version,
                parent_version=names.get(r.parent_pk) if r.parent_pk else None,
                created=r.created,
                model_size=r.model_size,
                stored_size=r.stored_size,
                tensor_count=r.tensor_count,
                checkpoint_type=r.checkpoint_type,  # type: ignore[arg-type]
                accuracy=r.meta.get("accuracy"),
                loss=r.meta.get("loss"),
                tags=list(r.tags),
            )
            for r in rows
        ]

    def sources_of(self, record: NeuralModelRecord) -> list[TensorSource]:
        return [s for group in TENSOR_GROUPS for s in tensor_sources(group, getattr(record, group))]
