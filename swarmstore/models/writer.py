"""Encode tensors into content-addressed blobs and a manifest.

Per chunk: hash the raw bytes; an unchanged chunk of the parent version is a
pure reference (no encoding, no blob); otherwise encode — as a delta while
fewer than ``keyframe_interval`` versions separate it from its keyframe, else
a full frame — and put the frame under its BLAKE3 key (an identical frame from
any model or swarm is already there and is not written again). A frame of at
most ``inline_frame_bytes`` stays on its chunk entry instead, for the meta
layer to commit in SQL with the manifest.

The delta base is the chunk's keyframe (``delta_base="keyframe"``, the
default: every version restores with two frame decodes, however deep) or the
parent's chunk (``"parent"``: smaller deltas, restores that decode the whole
chain).

Chunks encode on a thread pool within a byte window, so memory stays near
the window plus the largest tensor's contiguous copy, not the whole model.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass

from swarmstore.blobs import BlobStore
from swarmstore.codec import CodecPolicy, encode_chunk
from swarmstore.dtypes import dtype_info
from swarmstore.hashing import blob_key, raw_hash
from swarmstore.models.manifest import ChunkEntry, Manifest, TensorEntry
from swarmstore.models.reader import RawChunkCache
from swarmstore.models.tensors import TensorSource

BaseProvider = Callable[[ChunkEntry, str], bytes | bytearray]
KeyframeOf = Callable[[ChunkEntry], ChunkEntry]


@dataclass(frozen=True, slots=True)
class WritePolicy:
    codec: CodecPolicy
    chunk_bytes: int
    keyframe_interval: int
    incremental: bool = True
    delta_base: str = "keyframe"  # or "parent"
    inline_frame_bytes: int = 0  # frames up to this size go to SQL, not the blob store


def chunk_length(chunk_bytes: int, itemsize: int) -> int:
    """Chunk size rounded down to whole elements (never zero)."""
    return max(itemsize, chunk_bytes - chunk_bytes % itemsize)


class CheckpointWriter:
    def __init__(
        self,
        blobs: BlobStore,
        executor: Executor,
        policy: WritePolicy,
        *,
        base_provider: BaseProvider,
        keyframe_of: KeyframeOf,
        cache: RawChunkCache | None,
        window_bytes: int,
    ) -> None:
        self.blobs = blobs
        self.executor = executor
        self.policy = policy
        self.base_provider = base_provider
        self.keyframe_of = keyframe_of
        self.cache = cache
        self._caching = False
        self.window_bytes = window_bytes

    def write(
        self, sources: Sequence[TensorSource], parent: dict[tuple[str, str], TensorEntry]
    ) -> Manifest:
        """Write every chunk's blob and return the manifest (not yet committed).

        Blobs are durable only after ``blobs.flush()``; the caller flushes
        before it commits the manifest.
        """
        # Keep raw chunks for the next save's deltas only for a model saved as a
        # series (this version has a parent: a training loop, not a one-off save,
        # whose copy would cost time and memory for nothing; the second save of a
        # series decodes its base once instead), and only when the whole model
        # fits the cache: a bigger one would evict itself before any reuse.
        total = sum(s.byte_length for s in sources if s.alias_of is None)
        self._caching = (
            self.cache is not None
            and self.policy.incremental
            and bool(parent)
            and total <= self.cache.budget
        )
        entries: list[TensorEntry] = []
        futures: list[list[Future[ChunkEntry]]] = []
        window: deque[tuple[int, Future[ChunkEntry]]] = deque()
        window_size = 0
        try:
            for position, source in enumerate(sources):
                entry, base_chunks = self._plan(position, source, parent)
                entries.append(entry)
                tensor_futures: list[Future[ChunkEntry]] = []
                futures.append(tensor_futures)
                if source.alias_of is not None:
                    continue
                for idx, offset in enumerate(range(0, source.byte_length, entry.chunk_bytes)):
                    view = source.data[offset : offset + entry.chunk_bytes]
                    base = base_chunks[idx] if base_chunks else None
                    future = self.executor.submit(self._write_chunk, idx, view, source.dtype, base)
                    tensor_futures.append(future)
                    window.append((len(view), future))
                    window_size += len(view)
                    while window_size > self.window_bytes:
                        size, oldest = window.popleft()
                        oldest.result()
                        window_size -= size
            for entry, tensor_futures in zip(entries, futures, strict=True):
                entry.chunks = [f.result() for f in tensor_futures]
        except BaseException:
            for tensor_futures in futures:
                for f in tensor_futures:
                    f.cancel()
            raise
        return Manifest(entries)

    def _plan(
        self, position: int, source: TensorSource, parent: dict[tuple[str, str], TensorEntry]
    ) -> tuple[TensorEntry, list[ChunkEntry] | None]:
        """The tensor's entry, and the parent's chunks when the layout matches."""
        step = chunk_length(self.policy.chunk_bytes, dtype_info(source.dtype).itemsize)
        entry = TensorEntry(
            position=position,
            group=source.group,
            name=source.name,
            dtype=source.dtype,
            shape=source.shape,
            byte_length=source.byte_length,
            chunk_bytes=step,
            alias_of=source.alias_of,
        )
        base = parent.get(entry.key)
        if (
            base is not None
            and base.alias_of is None
            and base.dtype == entry.dtype
            and base.byte_length == entry.byte_length
            and base.chunk_bytes == step
        ):
            return entry, base.chunks
        return entry, None

    def _write_chunk(
        self, idx: int, view: memoryview, dtype: str, parent: ChunkEntry | None
    ) -> ChunkEntry:
        digest = raw_hash(view)
        if parent is not None and parent.raw_hash == digest and parent.raw_length == len(view):
            return ChunkEntry(
                idx=idx,
                raw_hash=digest,
                raw_length=len(view),
                blob_key=parent.blob_key,
                encoded_length=parent.encoded_length,
                codec=parent.codec,
                depth=parent.depth,
                base_chunk_pk=parent.base_chunk_pk,
                frame=parent.frame,  # re-inserted with the manifest: see InlineFrameRow
            )
        base: bytes | bytearray | None = None
        anchor: ChunkEntry | None = None
        if (
            parent is not None
            and self.policy.incremental
            and parent.depth + 1 < self.policy.keyframe_interval
        ):
            anchor = parent
            if self.policy.delta_base == "keyframe" and parent.base_chunk_pk is not None:
                anchor = self.keyframe_of(parent)
            base = self.base_provider(anchor, dtype)
        encoded = encode_chunk(view, dtype, self.policy.codec, base)
        key = blob_key(encoded.frame)
        inline: bytes | None = None
        if len(encoded.frame) <= self.policy.inline_frame_bytes:
            inline = bytes(encoded.frame)  # committed with the manifest; new_blob set then
            wrote = False
        else:
            wrote = self.blobs.put(key, encoded.frame)
        delta = encoded.is_delta and parent is not None and anchor is not None
        # a later save diffs against this chunk only if it is a keyframe (or, in
        # the "parent" layout, always)
        base_later = not delta or self.policy.delta_base == "parent"
        if self._caching and self.cache is not None and base_later:
            self.cache.put(digest, view)
        return ChunkEntry(
            idx=idx,
            raw_hash=digest,
            raw_length=len(view),
            blob_key=key,
            encoded_length=len(encoded.frame),
            codec=encoded.codec_name,
            depth=parent.depth + 1 if delta and parent is not None else 0,
            base_chunk_pk=anchor.pk if delta and anchor is not None else None,
            new_blob=wrote,
            frame=inline,
        )
