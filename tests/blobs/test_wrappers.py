"""The wrapper stores: each passes the contract around a real store, and the
faulty store's faults do what its docstring says."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from swarmstore.blobs.base import BlobStore
from swarmstore.blobs.faulty import BitFlip, Fail, FaultyBlobStore, Latency, ShortWrite
from swarmstore.blobs.local import LocalBlobStore
from swarmstore.blobs.memory import MemoryBlobStore
from swarmstore.blobs.wrappers import LoggingBlobStore, RetryingBlobStore
from swarmstore.errors import BackendUnavailableError
from tests.blobs.contract import BlobStoreContract, blob


class TestUnarmedFaultyStore(BlobStoreContract):
    @pytest.fixture(autouse=True)
    def _root(self, tmp_path: Path) -> None:
        self.root = tmp_path

    def open_store(self) -> BlobStore:
        return FaultyBlobStore(LocalBlobStore(self.root, durable=True))


class TestRetryingLoggingStore(BlobStoreContract):
    def open_store(self) -> BlobStore:
        return LoggingBlobStore(RetryingBlobStore(MemoryBlobStore(), initial_delay=0))


def test_wrappers_declare_the_inner_capabilities(tmp_path: Path) -> None:
    inner = LocalBlobStore(tmp_path, durable=True)
    assert FaultyBlobStore(RetryingBlobStore(inner)).capabilities == inner.capabilities
    inner.close()


def test_bit_flip_on_write_stores_damaged_bytes_once() -> None:
    store = FaultyBlobStore(MemoryBlobStore())
    store.inject(BitFlip(on="write", times=1))
    (k1, d1), (k2, d2) = blob(100, 1), blob(100, 2)
    assert store.put(k1, d1) and store.put(k2, d2)
    stored = store.inner.get(k1)
    assert stored != d1 and len(stored) == len(d1)
    assert sum(bin(a ^ b).count("1") for a, b in zip(stored, d1, strict=True)) == 1
    assert store.get(k2) == d2  # spent after one write
    assert store.puts == [k1, k2]


def test_a_write_fault_waits_for_a_put_that_writes() -> None:
    store = FaultyBlobStore(MemoryBlobStore())
    key, data = blob(50)
    store.put(key, data)
    store.inject(ShortWrite(drop=5, times=1))
    assert store.put(key, data) is False  # present: nothing written, fault still armed
    assert store.get(key) == data
    other, more = blob(50, 9)
    store.put(other, more)
    assert store.get(other) == more[:-5]


def test_bit_flip_on_read_leaves_the_stored_bytes_alone() -> None:
    store = FaultyBlobStore(MemoryBlobStore())
    key, data = blob(64)
    store.put(key, data)
    store.inject(BitFlip(on="read", keys={key}, offset=3, bit=0))
    damaged = store.get(key)
    assert damaged[3] == data[3] ^ 1 and damaged[:3] + damaged[4:] == data[:3] + data[4:]
    assert store.inner.get(key) == data
    assert store.get_range(key, 0, 8) != data[:8]


def test_failures_before_and_after_flush(tmp_path: Path) -> None:
    store = FaultyBlobStore(LocalBlobStore(tmp_path, durable=True))
    try:
        key, data = blob(100)
        store.put(key, data)
        store.inject(Fail(op="flush", when="before", times=1))
        with pytest.raises(OSError, match="before flush"):
            store.flush()
        assert list(store.list()) == []  # the inner flush never ran: nothing renamed
        store.inject(Fail(op="flush", when="after", times=1))
        with pytest.raises(OSError, match="after flush"):
            store.flush()
        assert [i.key for i in store.list()] == [key]  # it ran: the blob is durable
    finally:
        store.close()


def test_a_failing_get_raises_the_injected_error() -> None:
    store = FaultyBlobStore(MemoryBlobStore())
    key, data = blob(10)
    store.put(key, data)
    store.inject(Fail(op="get", error=TimeoutError, times=2))
    for _ in range(2):
        with pytest.raises(TimeoutError):
            store.get(key)
    assert store.get(key) == data


def test_latency_delays_the_named_calls() -> None:
    store = FaultyBlobStore(MemoryBlobStore())
    key, data = blob(10)
    store.inject(Latency(seconds=0.05, ops={"get"}))
    started = time.perf_counter()
    store.put(key, data)
    assert time.perf_counter() - started < 0.05
    started = time.perf_counter()
    store.get(key)
    assert time.perf_counter() - started >= 0.05


def test_retrying_store_rides_out_transient_failures_but_not_absence() -> None:
    faulty = FaultyBlobStore(MemoryBlobStore())
    store = RetryingBlobStore(faulty, attempts=3, initial_delay=0)
    key, data = blob(10)
    faulty.inject(Fail(op="put", error=ConnectionError, times=2))
    assert store.put(key, data) is True
    faulty.inject(Fail(op="get", error=lambda m: BackendUnavailableError("s", "u", m), times=3))
    with pytest.raises(BackendUnavailableError):
        store.get(key)  # three attempts, three failures
    assert store.get(key) == data
    with pytest.raises(FileNotFoundError):
        store.get("ab" * 16)
    faulty.inject(Fail(op="flush", error=ConnectionError, times=1))
    with pytest.raises(ConnectionError):
        store.flush()  # never retried


def test_logging_store_logs_calls_and_failures(caplog: pytest.LogCaptureFixture) -> None:
    faulty = FaultyBlobStore(MemoryBlobStore())
    store = LoggingBlobStore(faulty)
    key, data = blob(10)
    with caplog.at_level(logging.DEBUG, logger="swarmstore.blobs"):
        store.put(key, data)
        faulty.inject(Fail(op="get", times=1))
        with pytest.raises(OSError):
            store.get(key)
    assert any("put" in r.message and key in r.message for r in caplog.records)
    assert any(r.levelno == logging.WARNING and "get" in r.message for r in caplog.records)
