"""A version's manifest as plain values: what the writer produces, the meta
layer persists, and the reader consumes. No SQL, no files."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ChunkEntry:
    idx: int
    raw_hash: str
    raw_length: int
    blob_key: str
    encoded_length: int
    codec: str
    depth: int = 0  # 0: a full frame; n: the n-th version since this chunk's keyframe
    base_chunk_pk: int | None = None  # the chunk this one is a delta on
    pk: int | None = None  # set once stored
    new_blob: bool = False  # this save wrote the blob (for stored-bytes accounting)
    frame: bytes | None = None  # the encoded frame, when it lives in SQL (inline_frames)


@dataclass(slots=True)
class TensorEntry:
    position: int
    group: str
    name: str
    dtype: str
    shape: tuple[int, ...]
    byte_length: int
    chunk_bytes: int
    alias_of: str | None = None
    chunks: list[ChunkEntry] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.name)


@dataclass(slots=True)
class Manifest:
    tensors: list[TensorEntry]

    @property
    def raw_bytes(self) -> int:
        return sum(t.byte_length for t in self.tensors if t.alias_of is None)

    @property
    def new_bytes(self) -> int:
        return sum(c.encoded_length for t in self.tensors for c in t.chunks if c.new_blob)

    @property
    def inline_frames(self) -> dict[str, bytes]:
        """Every inline frame the manifest names, by key (pure references too)."""
        return {c.blob_key: c.frame for t in self.tensors for c in t.chunks if c.frame is not None}

    @property
    def is_incremental(self) -> bool:
        return any(c.depth > 0 for t in self.tensors for c in t.chunks)
