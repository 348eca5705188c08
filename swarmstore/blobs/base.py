"""The blob-store interface (dvc-objects / zarr style): a handful of methods
over opaque bytes. Dedup, compression, verification and gc live above it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int
    mtime: float  # seconds since the epoch; gc keeps blobs younger than its grace


class BlobStore(ABC):
    """Write-once storage of bytes under hex keys.

    Durability: ``put`` makes the bytes of one blob durable and its name
    visible atomically (a reader sees the whole blob or none); ``flush``
    is the barrier after which every ``put`` that returned survives a crash.
    Callers commit metadata that references a blob only after ``flush``.
    """

    @abstractmethod
    def put(self, key: str, data: bytes | memoryview) -> bool:
        """Store ``data`` under ``key`` unless present; True when it wrote."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The blob's bytes; ``FileNotFoundError`` when absent."""

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of the blob from ``start`` (fewer at its end); object
        stores serve this as one ranged GET, for lazy loading of large tensors."""
        return self.get(key)[start : start + max(length, 0)]

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove a blob; no error when it is absent."""

    def delete_if_older(self, key: str, cutoff: float) -> int:
        """Delete the blob when its age stamp is older than ``cutoff``; bytes freed.

        gc calls this after listing, so that a writer that refreshed the blob's
        age (by reusing it) in the meantime keeps it.
        """
        self.delete(key)
        return 0

    @abstractmethod
    def list(self) -> Iterator[BlobInfo]:
        """Every blob, in no particular order."""

    def flush(self) -> None:  # noqa: B027  (optional hook)
        """Make every ``put`` so far durable (default: ``put`` already is)."""

    def probe(self) -> None:  # noqa: B027  (optional hook)
        """Raise ``BackendUnavailableError`` when the store cannot be reached
        (``open`` calls this so that a bad URL fails at once, not mid-save)."""

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release resources."""
