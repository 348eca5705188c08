"""Blobs in a dict: the backend for fast unit tests and throwaway stores.

Thread-safe (one lock around the dict); every put is visible at once and
``flush`` has nothing to do. Nothing survives the object: ``capabilities``
says ``persistent=False``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from swarmstore.blobs.base import BlobCapabilities, BlobInfo, BlobStore, is_blob_key
from swarmstore.errors import InvalidRecordError


class MemoryBlobStore(BlobStore):
    """Content-addressed bytes in memory, ``key -> (bytes, mtime)``."""

    capabilities = BlobCapabilities(ranged_reads=True, persistent=False)

    def __init__(self) -> None:
        self._blobs: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _check(key: str) -> str:
        if not is_blob_key(key):
            raise InvalidRecordError(f"blob key must be lowercase hex, got {key!r}")
        return key

    def put(self, key: str, data: bytes | memoryview) -> bool:
        self._check(key)
        payload = bytes(data)  # a copy: the caller may reuse its buffer
        with self._lock:
            present = self._blobs.get(key)
            if present is not None:
                self._blobs[key] = (present[0], time.time())  # refresh its age for gc
                return False
            self._blobs[key] = (payload, time.time())
            return True

    def _entry(self, key: str) -> tuple[bytes, float]:
        self._check(key)
        with self._lock:
            entry = self._blobs.get(key)
        if entry is None:
            raise FileNotFoundError(f"no blob {key}")
        return entry

    def get(self, key: str) -> bytes:
        return self._entry(key)[0]

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self._entry(key)[0][start : start + max(length, 0)]

    def exists(self, key: str) -> bool:
        self._check(key)
        with self._lock:
            return key in self._blobs

    def delete(self, key: str) -> None:
        self._check(key)
        with self._lock:
            self._blobs.pop(key, None)

    def delete_if_older(self, key: str, cutoff: float) -> int:
        self._check(key)
        with self._lock:
            entry = self._blobs.get(key)
            if entry is None or entry[1] >= cutoff:
                return 0
            del self._blobs[key]
            return len(entry[0])

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        with self._lock:  # a snapshot: puts that land meanwhile do not disturb it
            items = [(k, len(d), t) for k, (d, t) in self._blobs.items() if k.startswith(prefix)]
        return (BlobInfo(k, size, mtime) for k, size, mtime in items)

    def set_mtime(self, key: str, mtime: float) -> None:
        """Age a blob (tests of gc's grace period); ``FileNotFoundError`` when absent."""
        data, _ = self._entry(key)
        with self._lock:
            self._blobs[key] = (data, mtime)
