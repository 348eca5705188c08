"""``SwarmDatabaseManager``: the facade. Seed-named methods that delegate."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

import torch

from swarmstore.blobs import BlobStore
from swarmstore.config import StoreConfig
from swarmstore.errors import InvalidRecordError, ReadOnlyStoreError, StoreClosedError
from swarmstore.events import Event, EventBus, Handler
from swarmstore.exit_hooks import before_pools_shut_down
from swarmstore.facade.analytics import AnalyticsAPI
from swarmstore.facade.datasets import DatasetsAPI
from swarmstore.facade.experiments import ExperimentsAPI
from swarmstore.facade.governance import GovernanceAPI
from swarmstore.facade.indexes import IndexAPI
from swarmstore.facade.training import TrainingAPI
from swarmstore.maintenance.check import CheckReport, GcReport, check_store, collect_garbage
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.log import events_since
from swarmstore.models import queries as q
from swarmstore.models.safetensors_io import export_names, read_safetensors, write_safetensors
from swarmstore.models.service import ModelVersionService, parse_model_record
from swarmstore.models.writer import WritePolicy
from swarmstore.records.model import ModelVersionInfo, NeuralModelRecord
from swarmstore.registry.queries import version_references
from swarmstore.stores import MigrationReport, OpenMode, open_parts

log = logging.getLogger(__name__)


_open_stores: weakref.WeakSet[SwarmDatabaseManager] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook_registered = False


def _close_open_stores() -> None:
    """At interpreter exit, close what the program left open: pending background
    saves and index passes finish, and no engine thread dies mid-call."""
    for store in list(_open_stores):
        try:
            store.close()
        except Exception:
            log.exception("closing store %s at interpreter exit failed", store.config.root)


def _register_exit_hook() -> None:
    global _exit_hook_registered
    with _exit_hook_lock:
        if _exit_hook_registered:
            return
        _exit_hook_registered = True
    before_pools_shut_down(_close_open_stores)


class SwarmDatabaseManager(
    DatasetsAPI, ExperimentsAPI, GovernanceAPI, AnalyticsAPI, IndexAPI, TrainingAPI
):
    """One store: SQL metadata (source of truth) + content-addressed blobs.

    Open with ``SwarmDatabaseManager.open(path_or_config)`` and use as a context
    manager; ``close()`` releases the engine and worker threads. Every write is
    durable when its method returns (blobs fsynced, then one SQL commit), and
    events fire only after that commit.
    """

    def __init__(self, config: StoreConfig, meta: MetaStore, blobs: BlobStore) -> None:
        self.config = config
        self._meta = meta
        self._blobs = blobs
        self._events = EventBus()
        self._executor = ThreadPoolExecutor(config.worker_threads, thread_name_prefix="swarmstore")
        policy = WritePolicy(
            codec=config.codec_policy,
            chunk_bytes=config.chunk_bytes,
            keyframe_interval=config.keyframe_interval,
            delta_base=config.delta_base,
            inline_frame_bytes=config.inline_frame_bytes,
        )
        self._models = ModelVersionService(meta, blobs, self._executor, self._events, policy)
        self._models.deletion_guards.append(version_references)  # deployed/aliased/registered
        self._closed = False
        self._closing = False
        self.mode: OpenMode = "ro" if meta.read_only else "rw"
        try:
            self._attach_datasets()
            self._attach_experiments()
            self._attach_governance()
            self._attach_analytics()
            self._attach_indexes()
            self._attach_training()
        except BaseException:
            self.close()  # every _detach_* tolerates a part that never attached
            raise
        _open_stores.add(self)
        _register_exit_hook()

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def open(
        cls,
        root_or_config: str | os.PathLike[str] | StoreConfig | None = None,
        *,
        mode: OpenMode | None = None,
        **overrides: Any,
    ) -> SwarmDatabaseManager:
        """Open a store (or create one); ``mode`` says which.

        ``root_or_config``: a directory (the embedded default; one holding a
        ``swarmstore.toml`` opens what that file names), a ``.toml`` file, a
        ``StoreConfig``, or nothing with the config as keyword arguments
        (``metadata_url="postgresql+psycopg://…", blob_url="s3://bucket/prefix"``).

        ``mode``:

        - ``"create"``: make the store if there is none, else open it read-write.
        - ``"rw"``: an existing store, read-write; a path holding no store raises
          ``StoreNotFoundError`` and nothing is created.
        - ``"ro"``: an existing store, read-only: never creates, never migrates,
          takes no schema or writer lock and writes nothing (every write raises
          ``ReadOnlyStoreError``); indexing is off (lineage answers from SQL);
          it keeps reading while other processes write.
        - ``None`` (default): ``"create"`` when the path does not exist or is an
          empty directory (for PostgreSQL: its schema holds no store yet), else
          ``"rw"`` -- so a non-empty directory that is not a store raises
          ``StoreNotFoundError`` instead of becoming one.

        ``"create"`` and ``"rw"`` upgrade an older schema to this version's head
        (as ``migrate()`` / ``swarmstore migrate STORE`` do explicitly); a store
        written by a newer swarmstore raises ``StoreVersionError`` in every mode.
        Safe from many processes at once, including the first open that
        creates the schema. An unreachable database or object store raises
        ``BackendUnavailableError`` naming which and why.
        """
        config = StoreConfig.coerce(root_or_config, **overrides)
        if mode == "ro" and config.indexing != "off":
            config = replace(config, indexing="off")  # lineage answers from SQL
        meta, blobs = open_parts(config, mode)
        try:
            db = cls(config, meta, blobs)
        except BaseException:
            blobs.close()  # close() is idempotent on both: __init__ may have closed them
            meta.close()
            raise
        return db

    def migrate(self) -> MigrationReport:
        """Bring the store's schema to this version's head (explicitly; ``open`` in
        ``"create"``/``"rw"`` has already done so). Returns the revision found at
        open and the one now. ``ReadOnlyStoreError`` on a read-only store."""
        self._live()
        found = self._meta.opened_revision
        self._meta.ensure_schema()
        return MigrationReport(
            from_revision=found,
            to_revision=self._meta.current_revision(),
            format_version=self._meta.format_version(),
        )

    def close(self) -> None:
        """Finish pending work (background saves, index passes), then release everything."""
        if self._closed or self._closing:
            return
        self._closing = True  # parts still finish their work through the public API
        _open_stores.discard(self)
        try:
            self._detach_training()
            self._detach_indexes()
            self._detach_analytics()
            self._detach_governance()
            self._detach_experiments()
            self._detach_datasets()
        finally:
            self._closed = True
            self._executor.shutdown(wait=True)
        self._blobs.close()
        self._meta.close()

    def __enter__(self) -> SwarmDatabaseManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _live(self) -> None:
        if self._closed:
            raise StoreClosedError(f"store {self.config.root} is closed")

    # -- events ------------------------------------------------------------

    def on(self, name: str, handler: Handler) -> Any:
        """Subscribe ``handler(event: dict)`` to an event; returns an unsubscribe function."""
        return self._events.on(name, handler)

    def events_since(self, seq: int = 0, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Committed events after ``seq`` (from any process), oldest first, as ``Event``
        dicts that answer the seed's camelCase keys (``swarmId``) and snake_case ones."""
        self._live()
        with self._meta.read() as session:
            rows = events_since(session, seq, limit=limit)
        return [
            Event({"seq": r.seq, "name": r.name, "created": r.created, **r.payload}) for r in rows
        ]

    # -- models ------------------------------------------------------------

    def store_neural_model(
        self, swarm_id: str, model: NeuralModelRecord | Mapping[str, Any]
    ) -> NeuralModelRecord:
        """Store one version of a model (weights as a state_dict, numpy arrays or flat buffers).

        Raises ``VersionExistsError``, ``ModelNotFoundError`` (missing parent),
        ``InvalidRecordError`` and subclasses before anything is written.
        """
        self._live()
        return self._models.store(swarm_id, model)

    def get_neural_model(
        self, swarm_id: str, model_id: str, version: str | None = None
    ) -> NeuralModelRecord:
        """A version with its tensors, bit-exact and verified; the latest when no version."""
        self._live()
        return self._models.get(swarm_id, model_id, version)

    def iter_neural_model_tensors(
        self, swarm_id: str, model_id: str, version: str | None = None
    ) -> Iterator[tuple[str, torch.Tensor]]:
        """Stream (name, tensor) of a version's weights, decoding ahead within a bounded window."""
        self._live()
        for group, name, tensor in self._models.iter_tensors(swarm_id, model_id, version):
            yield (name if group == "weights" else f"{group}/{name}"), tensor

    def delete_model_version(self, swarm_id: str, model_id: str, version: str) -> dict[str, Any]:
        """Delete a version: gone from lists and lookups at once; later versions that were
        deltas on it still restore bit-exactly. ``gc`` frees its blobs after the grace period.
        """
        self._live()
        return self._models.delete(swarm_id, model_id, version)

    def list_model_versions(self, swarm_id: str, model_id: str) -> list[ModelVersionInfo]:
        self._live()
        return self._models.list_versions(swarm_id, model_id)

    def list_models(self, swarm_id: str | None = None) -> list[dict[str, Any]]:
        self._live()
        with self._meta.read() as session:
            rows = q.list_models(session, swarm_id)
        return [
            {
                "swarm_id": m.swarm_id,
                "model_id": m.model_id,
                "agent_id": m.agent_id,
                "model_name": m.model_name,
                "architecture": m.architecture,
                "versions": n,
                "updated": m.updated,
            }
            for m, n in rows
        ]

    # -- safetensors ---------------------------------------------------------

    def export_safetensors(
        self, swarm_id: str, model_id: str, version: str | None, path: str | os.PathLike[str]
    ) -> Path:
        """Write a version as a ``.safetensors`` file (bit-exact), streaming tensor by tensor."""
        self._live()
        found = self._models.locate(swarm_id, model_id, version)
        manifest = self._models.load_manifest(found)
        target = Path(path)
        tensors = (
            t.contiguous().reshape(-1).view(torch.uint8).numpy().data
            for _g, _n, t in self._models.iter_located(found, manifest)
        )
        metadata = {
            "format": "pt",
            "swarmstore.swarm_id": swarm_id,
            "swarmstore.model_id": model_id,
            "swarmstore.version": found.version.version,
        }
        write_safetensors(target, export_names(manifest), tensors, metadata)
        return target

    def import_safetensors(
        self, swarm_id: str, path: str | os.PathLike[str], record: Mapping[str, Any]
    ) -> NeuralModelRecord:
        """Store a ``.safetensors`` file as a version; ``record`` gives all but the weights."""
        self._live()
        if not isinstance(record, Mapping):
            raise InvalidRecordError(
                "record must be a mapping of the model's fields (without weights)"
            )
        if "weights" in record or "biases" in record:
            raise InvalidRecordError(
                "import_safetensors takes the weights from the file; drop 'weights'/'biases'"
            )
        sources, _metadata = read_safetensors(Path(path))
        return self._models.store(swarm_id, parse_model_record(record), sources=sources)

    # -- maintenance ---------------------------------------------------------

    def check(self) -> CheckReport:
        """Verify SQL integrity, every referenced blob's presence, length and hash,
        and that the lineage graph and vector index hold what SQL holds."""
        self._live()
        report = check_store(self._meta, self._blobs)
        report.problems.extend(self._index_problems())
        return report

    def gc(self, *, grace_seconds: float | None = None) -> GcReport:
        """Delete unreferenced blobs older than the grace period (default from config)."""
        self._live()
        if self.mode == "ro":
            raise ReadOnlyStoreError(f"store {self.config.root} is open read-only (mode='ro')")
        grace = self.config.gc_grace_seconds if grace_seconds is None else grace_seconds
        return collect_garbage(self._meta, self._blobs, grace_seconds=grace)
