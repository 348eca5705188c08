"""Stream coders: compress one plane (or a whole chunk) of bytes.

``zstd-lit`` is zstd tuned to behave as a pure order-0 entropy coder: the fast
strategy with a tiny hash table and the longest minimum match finds almost no
matches, so nearly every byte goes to zstd's huff0 literal coder in full
128 KiB blocks. On exponent planes this is both smaller and several times faster
than ordinary zstd levels (matches on near-random symbols cost more than
they save) -- the same coder ZipNN uses, reached through python-zstandard,
whose calls release the GIL. Its output is an ordinary zstd frame.

Compressor and decompressor objects are cached per thread (they are not
thread-safe, and building one per call costs more than a small plane).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import lz4.block
import zstandard

from swarmstore.codec.registry import Parameterless, register
from swarmstore.errors import CodecError

_local = threading.local()


def _cache() -> dict[object, Any]:
    cache: dict[object, Any] | None = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    return cache


def _zstd_compressor(key: object) -> zstandard.ZstdCompressor:
    cache = _cache()
    cctx = cache.get(key)
    if cctx is None:
        if key == "lit":
            params = zstandard.ZstdCompressionParameters(
                window_log=17,  # >= 128 KiB: full-size blocks, one huffman table each
                hash_log=6,
                chain_log=6,
                search_log=1,
                min_match=7,
                target_length=0,
                strategy=zstandard.STRATEGY_FAST,
                write_content_size=True,
                write_checksum=False,
            )
            cctx = zstandard.ZstdCompressor(compression_params=params)
        else:
            cctx = zstandard.ZstdCompressor(level=int(key), write_checksum=False)  # type: ignore[call-overload]
        cache[key] = cctx
    return cctx


def zstd_literals() -> zstandard.ZstdCompressor:
    """This thread's huffman-only zstd compressor (see the module docstring)."""
    return _zstd_compressor("lit")


def _decompressor() -> zstandard.ZstdDecompressor:
    cache = _cache()
    dctx: zstandard.ZstdDecompressor | None = cache.get("d")
    if dctx is None:
        dctx = cache["d"] = zstandard.ZstdDecompressor()
    return dctx


def decompress_zstd_into(payload: memoryview, out: memoryview) -> None:
    """One zstd frame of exactly ``len(out)`` bytes, decoded in place.

    ``stream_reader.readinto`` costs what one-shot ``decompress`` does, but
    writes straight into the plane's buffer: no fresh ``bytes`` object and no
    second copy (the near-zero top plane of a dense delta is 590 KB of output).
    """
    size = len(out)
    try:
        if not size:  # a reader asked for nothing reads nothing: check the frame whole
            if _decompressor().decompress(payload, max_output_size=1):
                raise CodecError("zstd stream holds more than 0 bytes, expected 0")
            return
        with _decompressor().stream_reader(payload, read_across_frames=False) as reader:
            got = 0
            while got < size:
                n = reader.readinto(out[got:])
                if not n:
                    break
                got += n
            extra = reader.read(1) if got == size else b""
    except zstandard.ZstdError as exc:
        raise CodecError(f"corrupt zstd stream: {exc}") from None
    if got != size or extra:
        held = f"more than {got}" if extra else str(got)
        raise CodecError(f"zstd stream holds {held} bytes, expected {size}")


@register
@dataclass(frozen=True, slots=True)
class Raw(Parameterless):
    codec_id = "raw"

    def encode(self, data: memoryview) -> bytes | memoryview:
        return data

    def decode_into(self, payload: memoryview, out: memoryview) -> None:
        if len(payload) != len(out):
            raise CodecError(f"raw stream has {len(payload)} bytes, expected {len(out)}")
        out[:] = payload


@register
@dataclass(frozen=True, slots=True)
class Zstd:
    level: int = 3
    codec_id = "zstd"

    @property
    def config(self) -> dict[str, Any]:
        return {"level": self.level}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Zstd:
        level = config.get("level", 3)
        if type(level) is not int or set(config) - {"level"}:
            raise CodecError(f"bad zstd config {config!r}")
        return cls(level)

    def encode(self, data: memoryview) -> bytes:
        return _zstd_compressor(self.level).compress(data)

    def decode_into(self, payload: memoryview, out: memoryview) -> None:
        decompress_zstd_into(payload, out)


@register
@dataclass(frozen=True, slots=True)
class ZstdLiterals(Parameterless):
    codec_id = "zstd-lit"

    def encode(self, data: memoryview) -> bytes:
        return _zstd_compressor("lit").compress(data)

    def decode_into(self, payload: memoryview, out: memoryview) -> None:
        decompress_zstd_into(payload, out)


@register
@dataclass(frozen=True, slots=True)
class Lz4(Parameterless):
    codec_id = "lz4"

    def encode(self, data: memoryview) -> bytes:
        packed: bytes = lz4.block.compress(data, store_size=False)
        return packed

    def decode_into(self, payload: memoryview, out: memoryview) -> None:
        try:
            got = lz4.block.decompress(payload, uncompressed_size=len(out))
        except lz4.block.LZ4BlockError as exc:
            raise CodecError(f"corrupt lz4 stream: {exc}") from None
        if len(got) != len(out):
            raise CodecError(f"lz4 stream has {len(got)} bytes, expected {len(out)}")
        out[:] = got
