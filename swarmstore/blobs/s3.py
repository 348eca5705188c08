"""Blobs in an S3-compatible object store (AWS S3, SeaweedFS, MinIO …) via obstore.

Layout under the store's prefix: ``ab/cdef…`` (the key's first two hex
characters fan the keys out, as on disk: S3 partitions by key prefix, so
uniformly random prefixes spread the load), plus ``_touch/ab/cdef…`` empty
markers whose age says "a writer reused this blob recently" (an S3 object's
age cannot be refreshed in place; gc takes the younger of the two ages).

Puts are idempotent: a conditional PUT (``If-None-Match: *``) never replaces a
blob, and a retried PUT whose first attempt landed sees 412 and treats the
blob as present. Large blobs go up as a parallel multipart upload (after a
HEAD, since multipart uploads are not conditional; the content is addressed
by its hash, so a racing duplicate writes the same bytes). Every request is
retried with exponential backoff by obstore until ``io_timeout`` runs out.

``put`` returns at once and uploads on a bounded I/O pool while the caller
encodes the next chunks; ``flush`` waits for every upload and raises
``BackendUnavailableError`` when one failed, so a save commits nothing whose
blobs are not stored. The client is obstore rather than s3fs: measured side by
side against SeaweedFS, it puts and gets markedly faster
(benchmarks/results/scale.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from swarmstore.blobs.base import BlobCapabilities, BlobInfo, BlobStore
from swarmstore.errors import BackendUnavailableError, InvalidRecordError

_HEX = frozenset("0123456789abcdef")
_TOUCH = "_touch"
_MIN_PART = 5 << 20  # S3 rejects smaller parts (all but the last) at CompleteMultipartUpload
_CLIENT_KEYS = {
    "allow_http",
    "allow_invalid_certificates",
    "connect_timeout",
    "timeout",
    "pool_idle_timeout",
    "pool_max_idle_per_host",
    "proxy_url",
}


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # no leading or trailing slash; may be empty

    @classmethod
    def parse(cls, url: str) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme not in ("s3", "s3a") or not parts.netloc:
            raise InvalidRecordError(f"object-store URL must be s3://bucket[/prefix], not {url!r}")
        return cls(parts.netloc, parts.path.strip("/"))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def make_s3_store(
    location: S3Location,
    storage_options: dict[str, str],
    *,
    connect_timeout: float,
    io_timeout: float,
) -> Any:
    """An obstore ``S3Store`` rooted at the location's prefix.

    ``storage_options`` use the object_store crate's names (shared with
    LanceDB); HTTP-client keys among them go to the client options.
    """
    from obstore.store import S3Store

    config = {k: v for k, v in storage_options.items() if k not in _CLIENT_KEYS}
    client: dict[str, Any] = {
        "connect_timeout": timedelta(seconds=connect_timeout),
        "timeout": timedelta(seconds=max(io_timeout, connect_timeout)),
    }
    for key in _CLIENT_KEYS & storage_options.keys():
        value: Any = storage_options[key]
        if key.startswith("allow_"):
            value = str(value).lower() in ("1", "true", "yes")
        client[key] = value
    config.setdefault("aws_region", "us-east-1")
    retry = {
        "max_retries": 10,
        "retry_timeout": timedelta(seconds=io_timeout),
        "backoff": {
            "init_backoff": timedelta(milliseconds=50),
            "max_backoff": timedelta(seconds=5),
            "base": 2,
        },
    }
    return S3Store(
        location.bucket,
        prefix=location.prefix or None,
        config=config,  # type: ignore[arg-type]
        client_options=client,  # type: ignore[arg-type]
        retry_config=retry,  # type: ignore[arg-type]
    )


class ObjectBlobStore(BlobStore):
    """Content-addressed objects under one bucket prefix.

    io_threads: concurrent uploads; max_pending_bytes: puts block while this
    much is queued, so memory stays bounded on a huge save;
    multipart_threshold / part_bytes: blobs at least this big go up in parts
    of this size, ``multipart_concurrency`` at a time.
    """

    # uploads land on a pool: a put is seen by get and list after flush
    capabilities = BlobCapabilities(ranged_reads=True, visible_before_flush=False, age_markers=True)

    def __init__(
        self,
        store: Any,
        *,
        url: str,
        io_threads: int = 16,
        max_pending_bytes: int = 256 << 20,
        multipart_threshold: int = 16 << 20,
        part_bytes: int = 8 << 20,
        multipart_concurrency: int = 8,
        probe_store: Any = None,
    ) -> None:
        self.store = store
        self._probe_store = probe_store if probe_store is not None else store
        self.url = url
        self.multipart_threshold = multipart_threshold
        self.part_bytes = max(part_bytes, _MIN_PART)
        self.multipart_concurrency = multipart_concurrency
        self._max_pending_bytes = max_pending_bytes
        self._io = ThreadPoolExecutor(io_threads, thread_name_prefix="blob-s3")
        self._lock = threading.Condition()
        self._pending: dict[str, Future[None]] = {}
        self._pending_bytes = 0
        self._failure: BaseException | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        storage_options: dict[str, str],
        *,
        connect_timeout: float = 10.0,
        io_timeout: float = 60.0,
    ) -> ObjectBlobStore:
        location = S3Location.parse(url)
        store = make_s3_store(
            location, storage_options, connect_timeout=connect_timeout, io_timeout=io_timeout
        )
        # the probe gives up after the connect timeout, not after the I/O retry budget
        probe_store = make_s3_store(
            location, storage_options, connect_timeout=connect_timeout, io_timeout=connect_timeout
        )
        return cls(store, url=str(location), probe_store=probe_store)

    # -- keys ----------------------------------------------------------------

    @staticmethod
    def _path(key: str) -> str:
        if len(key) < 8 or not _HEX.issuperset(key):
            raise InvalidRecordError(f"blob key must be lowercase hex, got {key!r}")
        return f"{key[:2]}/{key[2:]}"

    def _touch_path(self, key: str) -> str:
        return f"{_TOUCH}/{self._path(key)}"

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """obstore's errors → ``BackendUnavailableError``; a missing object
        stays ``FileNotFoundError`` (the interface's "absent")."""
        try:
            yield
        except FileNotFoundError:
            raise
        except Exception as exc:
            from obstore.exceptions import BaseError

            if isinstance(exc, BaseError | OSError | TimeoutError):
                raise BackendUnavailableError("object store", self.url, _reason(exc)) from exc
            raise

    # -- BlobStore -------------------------------------------------------------

    def probe(self) -> None:
        """One cheap listing request: raises ``BackendUnavailableError`` naming
        the store and why (unreachable, no such bucket, access denied)."""
        import obstore

        try:
            next(iter(obstore.list(self._probe_store, prefix=_TOUCH, chunk_size=1)), None)
        except Exception as exc:
            raise BackendUnavailableError("object store", self.url, _reason(exc)) from exc

    def put(self, key: str, data: bytes | memoryview) -> bool:
        """Queue the upload and return; I/O errors surface at ``flush``.

        After one failure the store fails fast: later puts of the same save
        queue nothing, so a dead endpoint costs one retry budget, not one per
        chunk. ``flush`` raises and resets that state, so the next save after
        the store came back starts clean.
        """
        path = self._path(key)
        with self._lock:
            if self._failure is not None:
                return True
            if key in self._pending:  # same frame earlier in this batch
                return False
        payload = data if isinstance(data, bytes) else bytes(data)
        try:
            exists = self._head(path) is not None
        except BackendUnavailableError as exc:
            with self._lock:
                self._failure = self._failure or exc
            return True
        with self._lock:
            if key in self._pending or self._failure is not None:
                return False
            while self._pending_bytes and self._pending_bytes + len(payload) > (
                self._max_pending_bytes
            ):
                self._lock.wait()
            size = 0 if exists else len(payload)
            self._pending_bytes += size
            job = self._touch if exists else self._upload
            future = self._io.submit(job, path, payload)
            future.add_done_callback(lambda f: self._release(f, size))
            self._pending[key] = future
        return not exists

    def _release(self, future: Future[None], size: int) -> None:
        failed = None if future.cancelled() else future.exception()
        with self._lock:
            self._pending_bytes -= size
            if failed is not None and self._failure is None:
                self._failure = failed
            self._lock.notify_all()

    def _upload(self, path: str, payload: bytes) -> None:
        import obstore
        from obstore.exceptions import AlreadyExistsError

        if len(payload) >= self.multipart_threshold:
            obstore.put(
                self.store,
                path,
                payload,
                use_multipart=True,
                chunk_size=self.part_bytes,
                max_concurrency=self.multipart_concurrency,
            )
            return
        try:
            obstore.put(self.store, path, payload, mode="create", use_multipart=False)
        except AlreadyExistsError:  # another writer (or our own retried PUT) got there first
            self._touch(path, payload)

    def _touch(self, path: str, _payload: bytes = b"") -> None:
        """Refresh the blob's age for gc: a writer is about to reference it."""
        import obstore

        obstore.put(self.store, f"{_TOUCH}/{path}", b"", use_multipart=False)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        errors = [f.exception() for f in pending]
        with self._lock:
            failed = self._failure or next((e for e in errors if e is not None), None)
            self._failure = None
        if failed is not None:
            if isinstance(failed, BackendUnavailableError):
                raise failed
            raise BackendUnavailableError("object store", self.url, _reason(failed)) from failed

    def get(self, key: str) -> bytes:
        import obstore

        path = self._path(key)
        with self._translated():
            return bytes(obstore.get(self.store, path).bytes())

    def get_range(self, key: str, start: int, length: int) -> bytes:
        import obstore

        if length <= 0:
            return b""
        path = self._path(key)
        try:
            with self._translated():
                return bytes(obstore.get_range(self.store, path, start=start, length=length))
        except BackendUnavailableError as exc:
            if "416" not in str(exc.__cause__ or exc):
                raise
        # 416 Range Not Satisfiable: the range starts at or past the blob's end
        if self._head(path) is None:
            raise FileNotFoundError(f"no blob {key} in {self.url}")
        return b""

    def exists(self, key: str) -> bool:
        with self._lock:
            if key in self._pending:
                return True
        return self._head(self._path(key)) is not None

    def _head(self, path: str) -> dict[str, Any] | None:
        import obstore

        try:
            with self._translated():
                return dict(obstore.head(self.store, path))
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        import obstore

        paths = [self._path(key), self._touch_path(key)]
        with self._translated():
            obstore.delete(self.store, paths)

    def delete_if_older(self, key: str, cutoff: float) -> int:
        path = self._path(key)
        head = self._head(path)
        if head is None:
            return 0
        touched = self._head(f"{_TOUCH}/{path}")
        ages = [head["last_modified"].timestamp()]
        if touched is not None:
            ages.append(touched["last_modified"].timestamp())
        if max(ages) >= cutoff:
            return 0
        self.delete(key)
        return int(head["size"])

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        import obstore

        if not _HEX.issuperset(prefix):
            return
        # object_store lists whole path segments: ask for the fan-out "dir", filter here
        fan = prefix[:2] if len(prefix) >= 2 else None
        touched: dict[str, float] = {}
        touch_prefix = f"{_TOUCH}/{fan}" if fan else _TOUCH
        with self._translated():
            for batch in obstore.list(self.store, prefix=touch_prefix):
                for meta in batch:
                    key = _key_of(meta["path"].removeprefix(f"{_TOUCH}/"))
                    if key is not None and key.startswith(prefix):
                        touched[key] = meta["last_modified"].timestamp()
            for batch in obstore.list(self.store, prefix=fan):
                for meta in batch:
                    key = _key_of(meta["path"])
                    if key is None or not key.startswith(prefix):
                        continue
                    mtime = max(meta["last_modified"].timestamp(), touched.get(key, 0.0))
                    yield BlobInfo(key, int(meta["size"]), mtime)

    def delete_stale_touches(self, cutoff: float) -> int:
        """Drop touch markers older than ``cutoff`` (gc's grace has passed them)."""
        import obstore

        stale = [
            meta["path"]
            for batch in obstore.list(self.store, prefix=_TOUCH)
            for meta in batch
            if meta["last_modified"].timestamp() < cutoff
        ]
        for start in range(0, len(stale), 1000):
            obstore.delete(self.store, stale[start : start + 1000])
        return len(stale)

    def close(self) -> None:
        self._io.shutdown(wait=True)


def _key_of(path: str) -> str | None:
    """``ab/cdef…`` → ``abcdef…``; None for anything else under the prefix."""
    fan, _, rest = path.partition("/")
    if len(fan) != 2 or not rest or "/" in rest:
        return None
    key = fan + rest
    return key if _HEX.issuperset(key) else None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if "Error" in line or "error" in line:
            return line.strip()[:400]
    return (text.splitlines()[0] if text else type(exc).__name__)[:400]
