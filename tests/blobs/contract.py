"""The contract every ``BlobStore`` backend passes (zarr's ``StoreTests``,
restic's backend suite).

A backend's test module subclasses ``BlobStoreContract`` and provides
``open_store``: a new store object over the same location each time it is
called within one test (so that persistence can be checked by reopening).
Everything asserted here is promised by a docstring in
``swarmstore/blobs/base.py``; what a backend may or may not do is read from
its ``capabilities``, never from its type.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from swarmstore.blobs.base import BlobStore
from swarmstore.errors import InvalidRecordError

LARGE = 16 << 20  # crosses the object store's multipart threshold


def key_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob(n: int, seed: int = 0) -> tuple[str, bytes]:
    """A key and ``n`` pseudo-random bytes (content-addressed, as the store uses it)."""
    data = random.Random(f"{seed}-{n}").randbytes(n)
    return key_of(data), data


class BlobStoreContract:
    """Subclass and implement ``open_store``."""

    def open_store(self) -> BlobStore:
        raise NotImplementedError

    @pytest.fixture
    def opener(self) -> Iterator[Callable[[], BlobStore]]:
        opened: list[BlobStore] = []

        def make() -> BlobStore:
            store = self.open_store()
            opened.append(store)
            return store

        yield make
        for store in opened:
            store.close()

    @pytest.fixture
    def store(self, opener: Callable[[], BlobStore]) -> BlobStore:
        return opener()

    # -- put / get / exists ----------------------------------------------------

    def test_put_then_get_returns_the_bytes(self, store: BlobStore) -> None:
        key, data = blob(1000)
        assert store.put(key, data) is True
        store.flush()
        assert store.get(key) == data
        assert store.exists(key)

    def test_a_put_is_seen_by_exists_at_once_and_by_get_per_capabilities(
        self, store: BlobStore
    ) -> None:
        key, data = blob(100)
        store.put(key, data)
        assert store.exists(key)
        if store.capabilities.visible_before_flush:
            assert store.get(key) == data
            assert [i.key for i in store.list()] == [key]
        store.flush()
        assert store.get(key) == data

    def test_puts_are_idempotent(self, store: BlobStore) -> None:
        key, data = blob(500)
        assert store.put(key, data) is True
        assert store.put(key, data) is False  # same batch
        store.flush()
        assert store.put(key, data) is False  # after the barrier
        store.flush()
        assert store.get(key) == data
        assert [i.key for i in store.list()] == [key]

    def test_put_takes_bytes_and_memoryviews_and_copies_them(self, store: BlobStore) -> None:
        key, data = blob(4000, seed=3)
        buffer = bytearray(data)
        store.put(key, memoryview(buffer))
        buffer[:] = bytes(len(buffer))  # the caller reuses its buffer once put returned
        store.flush()
        assert store.get(key) == data

    def test_an_empty_blob_round_trips(self, store: BlobStore) -> None:
        key = key_of(b"")
        assert store.put(key, b"")
        store.flush()
        assert store.get(key) == b""
        assert [(i.key, i.size) for i in store.list()] == [(key, 0)]

    def test_a_missing_blob_raises_file_not_found(self, store: BlobStore) -> None:
        key = "ab" * 32
        assert not store.exists(key)
        with pytest.raises(FileNotFoundError):
            store.get(key)
        with pytest.raises(FileNotFoundError):
            store.get_range(key, 0, 10)

    @pytest.mark.parametrize("key", ["", "abc", "ABCDEF0123", "../../etc/passwd", "zz" * 8])
    def test_keys_that_are_not_lowercase_hex_are_refused(self, store: BlobStore, key: str) -> None:
        with pytest.raises(InvalidRecordError):
            store.put(key, b"x")
        with pytest.raises(InvalidRecordError):
            store.get(key)

    # -- ranged reads ------------------------------------------------------------

    def test_get_range_returns_the_slice(self, store: BlobStore) -> None:
        key, data = blob(10_000, seed=1)
        store.put(key, data)
        store.flush()
        assert store.get_range(key, 0, 10) == data[:10]
        assert store.get_range(key, 1234, 4321) == data[1234:5555]
        assert store.get_range(key, 9_990, 100) == data[9_990:]  # fewer at its end
        assert store.get_range(key, 500, 0) == b""
        assert store.get_range(key, 20_000, 10) == b""

    # -- delete --------------------------------------------------------------------

    def test_delete_removes_and_tolerates_absence(self, store: BlobStore) -> None:
        key, data = blob(100)
        store.put(key, data)
        store.flush()
        store.delete(key)
        assert not store.exists(key)
        with pytest.raises(FileNotFoundError):
            store.get(key)
        assert list(store.list()) == []
        store.delete(key)  # absent: no error
        assert store.put(key, data) is True  # and it can come back
        store.flush()
        assert store.get(key) == data

    def test_delete_if_older_spares_young_blobs_and_reports_bytes_freed(
        self, store: BlobStore
    ) -> None:
        key, data = blob(777)
        store.put(key, data)
        store.flush()
        assert store.delete_if_older(key, time.time() - 3600) == 0
        assert store.exists(key)
        assert store.delete_if_older(key, time.time() + 3600) == len(data)
        assert not store.exists(key)
        assert store.delete_if_older(key, time.time() + 3600) == 0  # absent

    def test_a_put_of_a_present_blob_refreshes_its_age(self, store: BlobStore) -> None:
        key, data = blob(300)
        store.put(key, data)
        store.flush()
        (first,) = list(store.list())
        time.sleep(1.1)  # object stores stamp ages to the second
        assert store.put(key, data) is False
        store.flush()
        (again,) = list(store.list())
        assert again.mtime >= first.mtime + 1
        # gc listed the blob as old, then a writer reused it: gc must keep it
        assert store.delete_if_older(key, first.mtime + 0.5) == 0
        assert store.get(key) == data

    # -- listing ---------------------------------------------------------------------

    def test_list_by_prefix(self, store: BlobStore) -> None:
        keys = {}
        for seed in range(40):
            key, data = blob(10 + seed, seed=seed)
            store.put(key, data)
            keys[key] = len(data)
        store.flush()
        listed = {i.key: i.size for i in store.list()}
        assert listed == keys
        some = next(iter(keys))
        for prefix in ["", some[:1], some[:2], some[:3], some[:6], some]:
            expected = {k: s for k, s in keys.items() if k.startswith(prefix)}
            assert {i.key: i.size for i in store.list(prefix)} == expected, prefix
        assert list(store.list("xyz")) == []

    def test_listing_while_puts_land_sees_whole_blobs(self, store: BlobStore) -> None:
        sizes = {}
        for seed in range(60):
            key, data = blob(20_000 + seed, seed=seed)
            sizes[key] = len(data)
        done = threading.Event()
        failures: list[BaseException] = []

        def writer() -> None:
            try:
                for seed in range(60):
                    key, data = blob(20_000 + seed, seed=seed)
                    store.put(key, data)
                    if seed % 10 == 9:
                        store.flush()
                store.flush()
            except BaseException as exc:  # surfaced below
                failures.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=writer)
        thread.start()
        listings = 0
        while not done.is_set() or listings == 0:
            for info in store.list():
                assert info.size == sizes[info.key], "a listing saw a torn blob"
            listings += 1
        thread.join()
        assert not failures
        assert {i.key: i.size for i in store.list()} == sizes

    # -- concurrency -------------------------------------------------------------------

    def test_concurrent_puts_of_the_same_key(self, store: BlobStore) -> None:
        key, data = blob(200_000, seed=9)
        results: list[bool] = []
        barrier = threading.Barrier(8)

        def put() -> None:
            barrier.wait()
            results.append(store.put(key, data))

        threads = [threading.Thread(target=put) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        store.flush()
        assert len(results) == 8 and any(results)
        assert store.get(key) == data
        assert [(i.key, i.size) for i in store.list()] == [(key, len(data))]

    def test_concurrent_puts_of_many_keys(self, store: BlobStore) -> None:
        blobs = [blob(5_000 + i, seed=i) for i in range(64)]

        def put(start: int) -> None:
            for key, data in blobs[start::4]:
                store.put(key, data)

        threads = [threading.Thread(target=put, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        store.flush()
        for key, data in blobs:
            assert store.get(key) == data
        assert len(list(store.list())) == len(blobs)

    # -- size ---------------------------------------------------------------------------

    def test_a_large_blob_round_trips(self, store: BlobStore) -> None:
        data = os.urandom(LARGE)
        key = key_of(data)
        assert store.put(key, data)
        store.flush()
        assert store.get(key) == data
        assert (
            store.get_range(key, LARGE // 2, 1 << 20) == data[LARGE // 2 : LARGE // 2 + (1 << 20)]
        )
        assert [(i.key, i.size) for i in store.list()] == [(key, LARGE)]

    # -- durability and lifecycle ---------------------------------------------------------

    def test_flushed_blobs_outlive_the_store_object(self, opener: Callable[[], BlobStore]) -> None:
        first = opener()
        key, data = blob(1234)
        first.put(key, data)
        first.flush()
        first.close()
        first.close()  # close is idempotent
        again = opener()
        if again.capabilities.persistent:
            assert again.get(key) == data
            assert [i.key for i in again.list()] == [key]
        else:
            assert list(again.list()) == []

    def test_flush_without_puts_is_a_no_op(self, store: BlobStore) -> None:
        store.flush()
        store.flush()
        assert list(store.list()) == []

    def test_leftover_hooks_match_the_capabilities(self, store: BlobStore) -> None:
        key, data = blob(100)
        store.put(key, data)
        store.flush()
        assert store.put(key, data) is False  # an object store leaves an age marker
        store.flush()
        if not store.capabilities.temporaries:
            assert list(store.list_temporaries()) == []
        removed = store.delete_stale_touches(time.time() + 3600)
        if store.capabilities.age_markers:
            assert removed >= 1
        else:
            assert removed == 0
        assert store.get(key) == data  # markers go, blobs stay
        store.probe()
