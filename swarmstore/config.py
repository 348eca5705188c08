"""StoreConfig: where a store lives and how it writes.

The embedded default needs only a directory; every other field has a default
that suits a training loop on one machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from swarmstore.codec import CodecPolicy, Compression
from swarmstore.errors import InvalidRecordError

Durability = Literal["full", "normal"]


@dataclass(frozen=True)
class StoreConfig:
    """Everything ``SwarmDatabaseManager.open`` needs.

    root: the store's directory (metadata, blobs and indexes live under it
        unless a URL says otherwise).
    metadata_url: SQLAlchemy URL; default ``sqlite:///<root>/meta.sqlite3``.
    blob_path: directory of content-addressed blobs; default ``<root>/blobs``.
    compression: codec policy, see ``swarmstore.codec``.
    chunk_bytes: large tensors are split into chunks of this many bytes so that
        encoding runs on all cores and memory stays bounded.
    keyframe_interval: a full frame at least every K versions of a model.
    delta_base: "keyframe" (deltas against the chunk's keyframe: a restore
        decodes at most two frames per chunk) or "parent" (deltas against the
        previous version: smaller, but a restore decodes the whole chain).
    threads: worker threads for encoding/decoding; 0 means one per core.
    durability: "full" fsyncs blobs and uses synchronous=FULL for commits;
        "normal" skips blob fsync (tests, throwaway stores).
    gc_grace_seconds: unreferenced blobs younger than this survive ``gc`` (a
        writer may have written them and not yet committed).
    lock_timeout_seconds: how long a writer waits for SQLite's write lock.
    """

    root: Path
    metadata_url: str | None = None
    blob_path: Path | None = None
    compression: Compression = "auto"
    chunk_bytes: int = 4 << 20
    keyframe_interval: int = 8
    delta_base: str = "keyframe"
    threads: int = 0
    durability: Durability = "full"
    gc_grace_seconds: float = 3600.0
    lock_timeout_seconds: float = 60.0
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())
        if self.compression not in ("auto", "max", "fast", "none"):
            raise InvalidRecordError(
                f"compression must be auto|max|fast|none, not {self.compression!r}"
            )
        if self.chunk_bytes < 4096 or self.chunk_bytes % 64:
            raise InvalidRecordError(
                f"chunk_bytes must be a multiple of 64 and >= 4096, not {self.chunk_bytes}"
            )
        if self.keyframe_interval < 1:
            raise InvalidRecordError(
                f"keyframe_interval must be >= 1, not {self.keyframe_interval}"
            )
        if self.delta_base not in ("keyframe", "parent"):
            raise InvalidRecordError(f"delta_base must be keyframe|parent, not {self.delta_base!r}")
        if self.durability not in ("full", "normal"):
            raise InvalidRecordError(f"durability must be full|normal, not {self.durability!r}")

    @classmethod
    def coerce(
        cls, root_or_config: str | os.PathLike[str] | StoreConfig, **overrides: object
    ) -> StoreConfig:
        if isinstance(root_or_config, StoreConfig):
            return replace(root_or_config, **overrides) if overrides else root_or_config  # type: ignore[arg-type]
        return cls(root=Path(root_or_config), **overrides)  # type: ignore[arg-type]

    @property
    def resolved_metadata_url(self) -> str:
        return self.metadata_url or f"sqlite:///{self.root / 'meta.sqlite3'}"

    @property
    def resolved_blob_path(self) -> Path:
        return Path(self.blob_path) if self.blob_path else self.root / "blobs"

    @property
    def worker_threads(self) -> int:
        return self.threads or os.cpu_count() or 1

    @property
    def codec_policy(self) -> CodecPolicy:
        return CodecPolicy(compression=self.compression, threads=self.worker_threads)
