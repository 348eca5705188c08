"""Open the parts of a store a ``StoreConfig`` names: its SQL metadata and its blobs."""

from __future__ import annotations

from swarmstore.blobs.base import BlobStore
from swarmstore.config import StoreConfig
from swarmstore.meta.engine import MetaStore


def open_parts(config: StoreConfig) -> tuple[MetaStore, BlobStore]:
    """The store's ``MetaStore`` (schema upgraded to this version's head) and blob store.

    Creates ``config.root``. The metadata store takes the config's schema lock,
    lock and connect timeouts and durability. Whatever opened is closed again
    when a later part fails (``BackendUnavailableError`` for an unreachable
    database or object store).
    """
    from swarmstore.blobs.factory import open_blob_store  # looked up per call: tests wrap it

    config.root.mkdir(parents=True, exist_ok=True)
    meta = MetaStore(
        config.resolved_metadata_url,
        lock_path=config.root / ".schema.lock",
        lock_timeout=config.lock_timeout_seconds,
        durable=config.durability == "full",
        connect_timeout=config.connect_timeout_seconds,
    )
    try:
        meta.ensure_schema()
        return meta, open_blob_store(config)
    except BaseException:
        meta.close()
        raise
