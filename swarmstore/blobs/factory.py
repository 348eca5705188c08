"""Pick the blob store a config names: a local directory or an object store."""

from __future__ import annotations

from swarmstore.blobs.base import BlobStore
from swarmstore.blobs.local import LocalBlobStore
from swarmstore.config import StoreConfig, blob_scheme


def open_blob_store(config: StoreConfig, *, read_only: bool = False) -> BlobStore:
    """The config's blob store, probed: an unreachable object store raises
    ``BackendUnavailableError`` here, within about ``connect_timeout_seconds``.
    ``read_only``: creates no directory, and every write raises ``ReadOnlyStoreError``."""
    if read_only:
        from swarmstore.blobs.wrappers import ReadOnlyBlobStore

        return ReadOnlyBlobStore(_open(config, create=False))
    return _open(config, create=True)


def _open(config: StoreConfig, *, create: bool) -> BlobStore:
    if config.blob_url is not None and blob_scheme(config.blob_url) == "s3":
        from swarmstore.blobs.s3 import ObjectBlobStore

        store = ObjectBlobStore.from_url(
            config.blob_url,
            config.storage_options,
            connect_timeout=config.connect_timeout_seconds,
            io_timeout=config.io_timeout_seconds,
        )
        try:
            store.probe()
        except BaseException:
            store.close()
            raise
        return store
    return LocalBlobStore(
        config.resolved_blob_path, durable=config.durability == "full", create=create
    )
