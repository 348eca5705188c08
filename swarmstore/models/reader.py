"""Decode a manifest back into tensors, verifying every chunk.

Chunks decode on a thread pool (the codec releases the GIL); a delta chunk
restores its base chain (at most ``keyframe_interval`` frames) in its own
output slot, each delta added in place. Every decoded chunk is re-hashed; any
mismatch, missing blob or bad frame is a ``CorruptDataError`` naming the tensor
and the broken blob — bad tensors are never returned.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

import torch

from swarmstore.blobs import BlobStore
from swarmstore.codec import decode_chunk_into, new_raw_buffer
from swarmstore.errors import CodecError, CorruptDataError
from swarmstore.hashing import raw_hash
from swarmstore.models.manifest import ChunkEntry, TensorEntry
from swarmstore.models.tensors import tensor_from_bytes

ResolveChunks = Callable[[Iterable[int]], dict[int, ChunkEntry]]


class _ChunkFault(Exception):
    """Internal: a chunk failed; the tensor-level caller names the tensor."""

    def __init__(self, why: str, blob: str) -> None:
        super().__init__(why)
        self.why, self.blob = why, blob


class RawChunkCache:
    """Recently decoded or written raw chunks by hash, within a byte budget.

    Saves a training loop from decoding its parent version to compute deltas.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        if len(data) > self.budget:
            return
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return
        value = bytes(data)
        with self._lock:
            self._items[key] = value
            self._size += len(value)
            while self._size > self.budget and self._items:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)


class ChunkReader:
    def __init__(
        self, blobs: BlobStore, resolve: ResolveChunks, cache: RawChunkCache | None = None
    ):
        self.blobs = blobs
        self.resolve = resolve
        self.cache = cache

    def chain_of(self, chunks: Iterable[ChunkEntry]) -> dict[int, ChunkEntry]:
        """Every base chunk the given chunks depend on, transitively, by pk."""
        known: dict[int, ChunkEntry] = {}
        wanted = {c.base_chunk_pk for c in chunks if c.base_chunk_pk is not None}
        while wanted:
            found = self.resolve(wanted)
            missing = wanted - found.keys()
            if missing:
                raise CorruptDataError(
                    f"delta base chunk(s) {sorted(missing)} missing from the manifest"
                )
            known.update(found)
            wanted = {
                c.base_chunk_pk for c in found.values() if c.base_chunk_pk is not None
            } - known.keys()
        return known

    def decode(self, chunk: ChunkEntry, dtype: str, chain: dict[int, ChunkEntry]) -> bytearray:
        out = new_raw_buffer(chunk.raw_length)  # every byte is decoded over
        self.decode_into(chunk, dtype, chain, memoryview(out))
        return out

    def decode_into(
        self, chunk: ChunkEntry, dtype: str, chain: dict[int, ChunkEntry], out: memoryview
    ) -> None:
        """Decode a chunk straight into ``out`` (its slice of the tensor), then verify it.

        A delta chunk restores its chain in ``out`` itself: the keyframe (or a
        cached base), then each delta added on top in place. Only the result is
        hashed: each step is a bijection given its delta, so a bad link anywhere
        fails that hash, and the chain is then re-read link by link to name it.
        """
        if len(out) != chunk.raw_length:
            raise _ChunkFault(
                f"manifest says {chunk.raw_length} raw bytes, the tensor slot has {len(out)}",
                chunk.blob_key,
            )
        links, cached_root = self._links(chunk, chain)
        self._restore(links, cached_root, dtype, out, check_each=False)
        if raw_hash(out) != chunk.raw_hash:
            if len(links) > 1:
                scratch = memoryview(new_raw_buffer(len(out)))
                self._restore(links, cached_root, dtype, scratch, check_each=True)
            raise _ChunkFault("raw bytes fail their hash", chunk.blob_key)

    def _links(
        self, chunk: ChunkEntry, chain: dict[int, ChunkEntry]
    ) -> tuple[list[ChunkEntry], bytes | None]:
        """``chunk`` and its bases, newest first, down to a keyframe or to a base
        whose raw bytes are cached (returned with it)."""
        links = [chunk]
        while links[-1].base_chunk_pk is not None:
            pk = links[-1].base_chunk_pk
            base = chain.get(pk)
            if base is None:
                base = self.chain_of([links[-1]])[pk]
            if base.raw_length != chunk.raw_length:
                raise _ChunkFault(
                    f"delta base has {base.raw_length} raw bytes, the chunk {chunk.raw_length}",
                    base.blob_key,
                )
            links.append(base)
            cached = self.cache.get(base.raw_hash) if self.cache is not None else None
            if cached is not None:
                return links, cached
        return links, None

    def _restore(
        self,
        links: list[ChunkEntry],
        cached_root: bytes | None,
        dtype: str,
        out: memoryview,
        *,
        check_each: bool,
    ) -> None:
        """Apply ``links`` oldest first into ``out`` (starting from ``cached_root``
        when given); ``check_each`` hashes every step, to name the broken one."""
        steps = links[::-1]
        if cached_root is not None:
            out[:] = cached_root
            steps = steps[1:]
        for link in steps:
            frame = self._frame(link)
            try:
                base = out if link.base_chunk_pk is not None else None
                decode_chunk_into(frame, dtype, out, base, verify=False)
            except CodecError as exc:
                raise _ChunkFault(f"frame does not decode ({exc})", link.blob_key) from None
            if check_each and raw_hash(out) != link.raw_hash:
                raise _ChunkFault("raw bytes fail their hash", link.blob_key)

    def _frame(self, chunk: ChunkEntry) -> bytes | bytearray | memoryview:
        """The chunk's frame: inline (kept in SQL with the manifest) or its blob."""
        frame: bytes | bytearray | memoryview | None = chunk.frame
        where = "inline frame"
        if frame is None:
            where = "blob"
            try:
                frame = self.blobs.get(chunk.blob_key)
            except FileNotFoundError:
                raise _ChunkFault("blob is missing", chunk.blob_key) from None
        if len(frame) != chunk.encoded_length:
            raise _ChunkFault(
                f"{where} has {len(frame)} bytes, manifest says {chunk.encoded_length}",
                chunk.blob_key,
            )
        return frame

    def decode_verified(
        self, chunk: ChunkEntry, dtype: str, chain: dict[int, ChunkEntry]
    ) -> bytearray:
        """Like ``decode`` but raising ``CorruptDataError`` (no tensor named)."""
        try:
            return self.decode(chunk, dtype, chain)
        except _ChunkFault as fault:
            raise CorruptDataError(f"blob {fault.blob}: {fault.why}", blob=fault.blob) from None

    def iter_tensors(
        self,
        tensors: list[TensorEntry],
        executor: Executor,
        *,
        where: Callable[[TensorEntry], dict[str, str | None]],
        window_bytes: int,
    ) -> Iterator[tuple[TensorEntry, torch.Tensor]]:
        """Yield (entry, tensor) in manifest order; decodes ahead within a byte window.

        A tensor of several chunks is allocated once and every chunk lands in
        its slice from a pool thread, so the caller's thread never copies.
        """
        chain = self.chain_of(c for t in tensors for c in t.chunks)
        by_name: dict[tuple[str, str], torch.Tensor] = {}
        pending: list[tuple[TensorEntry, torch.Tensor | None, list[Future[Any]]]] = []
        in_flight = 0
        next_submit = 0

        def submit(entry: TensorEntry) -> tuple[torch.Tensor | None, list[Future[Any]]]:
            if len(entry.chunks) <= 1:  # one chunk decodes into its own buffer; aliases: none
                return None, [
                    executor.submit(self.decode, c, entry.dtype, chain) for c in entry.chunks
                ]
            out = torch.empty(entry.byte_length, dtype=torch.uint8)
            view = out.numpy().data
            futures: list[Future[Any]] = []
            offset = 0
            for c in entry.chunks:
                target = view[offset : offset + c.raw_length]
                futures.append(executor.submit(self.decode_into, c, entry.dtype, chain, target))
                offset += c.raw_length
            return out, futures

        def submit_until_window() -> None:
            nonlocal next_submit, in_flight
            while next_submit < len(tensors) and (not pending or in_flight < window_bytes):
                entry = tensors[next_submit]
                out, futures = submit(entry)
                pending.append((entry, out, futures))
                in_flight += entry.byte_length
                next_submit += 1

        submit_until_window()
        while pending:
            entry, out, futures = pending.pop(0)
            try:
                parts = [f.result() for f in futures]
            except _ChunkFault as fault:
                for _, _, rest in pending:
                    for f in rest:
                        f.cancel()
                raise CorruptDataError(
                    f"tensor {entry.name!r} ({fault.why}; blob {fault.blob}) in "
                    + ", ".join(f"{k} {v!r}" for k, v in where(entry).items() if v is not None),
                    tensor=entry.name,
                    blob=fault.blob,
                    **where(entry),
                ) from None
            in_flight -= entry.byte_length
            submit_until_window()
            if entry.alias_of is not None and (entry.group, entry.alias_of) in by_name:
                tensor = by_name[(entry.group, entry.alias_of)]
            elif out is not None:
                tensor = tensor_from_bytes(out, entry.dtype, entry.shape)
            else:
                tensor = tensor_from_bytes(
                    parts[0] if parts else bytearray(), entry.dtype, entry.shape
                )
            by_name[entry.key] = tensor
            yield entry, tensor
