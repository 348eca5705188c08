"""Blob stores that wrap another: the base that forwards every call, and the
retrying and logging wrappers (principle: dumb backends, smart layers).

The object store retries its own requests (obstore's backoff, bounded by
``io_timeout``); ``RetryingBlobStore`` is for backends without that — a
network filesystem under ``LocalBlobStore``, or a user's own backend.
Wrappers nest: ``LoggingBlobStore(RetryingBlobStore(LocalBlobStore(path)))``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from swarmstore.blobs.base import BlobInfo, BlobStore
from swarmstore.errors import ReadOnlyStoreError

T = TypeVar("T")

_log = logging.getLogger("swarmstore.blobs")


class WrappedBlobStore(BlobStore):
    """Forwards every call to ``inner`` and declares its capabilities."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities

    def put(self, key: str, data: bytes | memoryview) -> bool:
        return self.inner.put(key, data)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self.inner.get_range(key, start, length)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def delete_if_older(self, key: str, cutoff: float) -> int:
        return self.inner.delete_if_older(key, cutoff)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        return self.inner.list(prefix)

    def flush(self) -> None:
        self.inner.flush()

    def probe(self) -> None:
        self.inner.probe()

    def close(self) -> None:
        self.inner.close()

    def list_temporaries(self) -> Iterator[BlobInfo]:
        return self.inner.list_temporaries()

    def delete_temporary(self, name: str) -> None:
        self.inner.delete_temporary(name)

    def delete_stale_touches(self, cutoff: float) -> int:
        return self.inner.delete_stale_touches(cutoff)


class RetryingBlobStore(WrappedBlobStore):
    """Retries calls that failed with a transient error (``ConnectionError``,
    which ``BackendUnavailableError`` is, or ``TimeoutError``), backing off
    exponentially from ``initial_delay`` up to ``max_delay``, ``attempts``
    tries in all; the last error propagates.

    Every method is safe to repeat (puts are content-addressed and
    idempotent) except ``flush``: a flush that failed may have dropped the
    puts it was waiting for, so it is never retried — the caller redoes the
    save. A missing blob (``FileNotFoundError``) is an answer, not retried.
    """

    def __init__(
        self,
        inner: BlobStore,
        *,
        attempts: int = 5,
        initial_delay: float = 0.05,
        max_delay: float = 2.0,
        transient: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError),
    ) -> None:
        super().__init__(inner)
        self.attempts = max(attempts, 1)
        self.initial_delay = initial_delay
        self.max_delay = max_delay
        self.transient = transient

    def _retry(self, call: Callable[[], T]) -> T:
        delay = self.initial_delay
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except self.transient as exc:
                if attempt == self.attempts:
                    raise
                _log.info("blob store: %s, retry %d in %.2fs", exc, attempt, delay)
                time.sleep(delay)
                delay = min(delay * 2, self.max_delay)
        raise AssertionError("unreachable")

    def put(self, key: str, data: bytes | memoryview) -> bool:
        return self._retry(lambda: self.inner.put(key, data))

    def get(self, key: str) -> bytes:
        return self._retry(lambda: self.inner.get(key))

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self._retry(lambda: self.inner.get_range(key, start, length))

    def exists(self, key: str) -> bool:
        return self._retry(lambda: self.inner.exists(key))

    def delete(self, key: str) -> None:
        self._retry(lambda: self.inner.delete(key))

    def delete_if_older(self, key: str, cutoff: float) -> int:
        return self._retry(lambda: self.inner.delete_if_older(key, cutoff))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """The whole listing is read before the first item is returned, so a
        failure part-way restarts it rather than yielding blobs twice."""
        return iter(self._retry(lambda: list(self.inner.list(prefix))))

    def probe(self) -> None:
        self._retry(self.inner.probe)


class LoggingBlobStore(WrappedBlobStore):
    """Logs every call on the ``swarmstore.blobs`` logger: key, bytes and
    seconds at DEBUG, failures (other than a missing blob) at WARNING."""

    def __init__(self, inner: BlobStore, *, logger: logging.Logger | None = None) -> None:
        super().__init__(inner)
        self.logger = logger or _log

    def _call(self, op: str, key: str, call: Callable[[], T], size: int | None = None) -> T:
        started = time.perf_counter()
        try:
            result = call()
        except FileNotFoundError:
            self.logger.debug("blob %s %s: absent", op, key)
            raise
        except Exception as exc:
            self.logger.warning("blob %s %s failed: %r", op, key, exc)
            raise
        seconds = time.perf_counter() - started
        if size is None and isinstance(result, bytes):
            size = len(result)
        self.logger.debug("blob %s %s: %s bytes in %.4fs", op, key, size, seconds)
        return result

    def put(self, key: str, data: bytes | memoryview) -> bool:
        return self._call("put", key, lambda: self.inner.put(key, data), len(data))

    def get(self, key: str) -> bytes:
        return self._call("get", key, lambda: self.inner.get(key))

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self._call("get_range", key, lambda: self.inner.get_range(key, start, length))

    def exists(self, key: str) -> bool:
        return self._call("exists", key, lambda: self.inner.exists(key))

    def delete(self, key: str) -> None:
        self._call("delete", key, lambda: self.inner.delete(key))

    def delete_if_older(self, key: str, cutoff: float) -> int:
        return self._call("delete_if_older", key, lambda: self.inner.delete_if_older(key, cutoff))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        return iter(self._call("list", prefix or "*", lambda: list(self.inner.list(prefix))))

    def flush(self) -> None:
        self._call("flush", "-", self.inner.flush)


class ReadOnlyBlobStore(WrappedBlobStore):
    """Reads pass through; every write raises ``ReadOnlyStoreError`` (a store
    opened with ``mode="ro"``), so a refused save leaves no blob behind."""

    def _refuse(self) -> ReadOnlyStoreError:
        return ReadOnlyStoreError("the store is open read-only (mode='ro'): blobs are not written")

    def put(self, key: str, data: bytes | memoryview) -> bool:
        raise self._refuse()

    def delete(self, key: str) -> None:
        raise self._refuse()

    def delete_if_older(self, key: str, cutoff: float) -> int:
        raise self._refuse()

    def list_temporaries(self) -> Iterator[BlobInfo]:
        return self.inner.list_temporaries()

    def delete_temporary(self, name: str) -> None:
        raise self._refuse()

    def delete_stale_touches(self, cutoff: float) -> int:
        raise self._refuse()
