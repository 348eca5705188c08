"""The blob-store interface (dvc-objects / zarr style): a handful of methods
over opaque bytes, plus the capabilities each backend declares. Dedup,
compression, verification and gc live above it; retry, logging and fault
injection are wrappers (``swarmstore.blobs.wrappers``, ``swarmstore.blobs.faulty``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int
    mtime: float  # seconds since the epoch; gc keeps blobs younger than its grace


@dataclass(frozen=True, slots=True)
class BlobCapabilities:
    """What a backend does beyond the required methods. Callers branch on these,
    never on the backend's type.

    ranged_reads: ``get_range`` reads only the range (a seek, a ranged GET),
        not the whole blob.
    visible_before_flush: a ``put`` that returned is seen by ``get`` and
        ``list`` before ``flush`` (``exists`` always sees it).
    temporaries: an interrupted writer can leave temporaries behind, found by
        ``list_temporaries`` and removed by ``delete_temporary``.
    age_markers: reusing a blob refreshes its age through a marker object
        that ``delete_stale_touches`` prunes once it is older than gc's grace.
    persistent: blobs outlive the store object (false for the in-memory store).
    """

    ranged_reads: bool = False
    visible_before_flush: bool = True
    temporaries: bool = False
    age_markers: bool = False
    persistent: bool = True


class BlobStore(ABC):
    """Write-once storage of bytes under hex keys.

    Durability: ``put`` makes the bytes of one blob durable and its name
    visible atomically (a reader sees the whole blob or none); ``flush``
    is the barrier after which every ``put`` that returned survives a crash.
    Callers commit metadata that references a blob only after ``flush``.
    Keys are lowercase hex, at least 8 characters; any other key raises
    ``InvalidRecordError``.
    """

    capabilities: BlobCapabilities = BlobCapabilities()

    @abstractmethod
    def put(self, key: str, data: bytes | memoryview) -> bool:
        """Store ``data`` under ``key`` unless present; True when it wrote.

        A put of a present key writes nothing and refreshes the blob's age
        (gc spares young blobs; a writer reusing an old one must keep it).
        """

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The blob's bytes; ``FileNotFoundError`` when absent."""

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of the blob from ``start`` (fewer at its end); object
        stores serve this as one ranged GET, for lazy loading of large tensors.
        ``FileNotFoundError`` when absent."""
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
    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Every blob whose key starts with ``prefix``, in no particular order.
        A listing that runs while puts land sees each blob whole or not at all."""

    def flush(self) -> None:  # noqa: B027  (optional hook)
        """Make every ``put`` so far durable (default: ``put`` already is)."""

    def probe(self) -> None:  # noqa: B027  (optional hook)
        """Raise ``BackendUnavailableError`` when the store cannot be reached
        (``open`` calls this so that a bad URL fails at once, not mid-save)."""

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release resources."""

    # -- leftovers of writers (see ``capabilities``) ---------------------------

    def list_temporaries(self) -> Iterator[BlobInfo]:
        """Temporaries a writer that died before its commit left behind
        (``capabilities.temporaries``); none by default."""
        return iter(())

    def delete_temporary(self, name: str) -> None:  # noqa: B027  (optional hook)
        """Remove one temporary named by ``list_temporaries``."""

    def delete_stale_touches(self, cutoff: float) -> int:
        """Drop age markers older than ``cutoff`` (``capabilities.age_markers``);
        how many went."""
        return 0


def is_blob_key(key: str) -> bool:
    """Whether ``key`` is a valid blob key (lowercase hex, 8+ characters)."""
    return len(key) >= 8 and _HEX.issuperset(key)


_HEX = frozenset("0123456789abcdef")
