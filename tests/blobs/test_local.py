"""The local directory store passes the contract, durable and not."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmstore.blobs.base import BlobStore
from swarmstore.blobs.local import LocalBlobStore
from tests.blobs.contract import BlobStoreContract, blob


class _Local(BlobStoreContract):
    durable = True

    @pytest.fixture(autouse=True)
    def _root(self, tmp_path: Path) -> None:
        self.root = tmp_path / "blobs"

    def open_store(self) -> BlobStore:
        return LocalBlobStore(self.root, durable=self.durable)


class TestLocalDurable(_Local):
    durable = True


class TestLocalNormal(_Local):
    durable = False


def test_an_unflushed_durable_put_is_a_temporary_until_flush(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, durable=True)
    try:
        key, data = blob(100)
        store.put(key, data)
        assert [t.size for t in store.list_temporaries()] == [100]
        assert list(store.list()) == []
        store.flush()
        assert list(store.list_temporaries()) == []
        assert [i.key for i in store.list()] == [key]
    finally:
        store.close()


def test_temporaries_of_a_dead_writer_are_listed_and_removed(tmp_path: Path) -> None:
    dead = LocalBlobStore(tmp_path, durable=True)
    key, data = blob(100)
    dead.put(key, data)
    dead.close()  # the writer is gone before its flush: its temp file stays behind
    store = LocalBlobStore(tmp_path, durable=True)
    try:
        (temp,) = store.list_temporaries()
        assert (tmp_path / temp.key).is_file()
        assert not store.exists(key)
        store.delete_temporary(temp.key)
        assert list(store.list_temporaries()) == []
        assert list(store.list()) == []
    finally:
        store.close()
