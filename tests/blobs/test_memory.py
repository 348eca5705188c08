"""The in-memory store passes the contract."""

from __future__ import annotations

import time

from swarmstore.blobs.base import BlobStore
from swarmstore.blobs.memory import MemoryBlobStore
from tests.blobs.contract import BlobStoreContract, blob


class TestMemoryBlobStore(BlobStoreContract):
    def open_store(self) -> BlobStore:
        return MemoryBlobStore()


def test_set_mtime_ages_a_blob_for_gc() -> None:
    store = MemoryBlobStore()
    key, data = blob(10)
    store.put(key, data)
    store.set_mtime(key, time.time() - 7200)
    assert store.delete_if_older(key, time.time() - 3600) == len(data)
