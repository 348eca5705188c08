"""``nibpairs``: an exponent plane as 4-bit codes, two per byte, then huffman.

The exponent byte of trained weights takes ~20 distinct values, and a window
of 15 consecutive values (``base`` .. ``base+14``) holds >99.9 % of them. Each
byte becomes the code ``byte - base`` (0..14) or 15 (escape); two codes pack
into one byte and that half-size stream goes through the zstd literal coder
(``zstd-lit``). Huffman over code *pairs* is as small as over single bytes
(slightly smaller: less rounding loss per symbol) and zstd sees half the bytes,
so encode and decode are both faster than ``zstd-lit`` on the plane.

Stream layout: ``escape count (u32 LE) | escaped bytes, in order | zstd frame
of the packed codes`` (low nibble = even element). An escaped element's code is
15; its byte is the next escaped byte. All numpy passes are contiguous.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmstore.codec import native
from swarmstore.codec.coders import decompress_zstd_into, zstd_literals
from swarmstore.codec.registry import register
from swarmstore.codec.scratch import scratch, scratch_as
from swarmstore.errors import CodecError

_COUNT = struct.Struct("<I")
ESCAPE = 15
_U16 = np.dtype("<u2")


def best_base(counts: np.ndarray) -> tuple[int, float]:
    """(base, fraction of the counted bytes that would be escapes) for a 256-bin histogram."""
    total = int(counts.sum())
    if total == 0:
        return 0, 0.0
    window = np.convolve(counts, np.ones(ESCAPE, dtype=counts.dtype), mode="valid")
    base = int(np.argmax(window))
    return base, 1.0 - float(window[base]) / total


@register
@dataclass(frozen=True, slots=True)
class NibblePairs:
    base: int
    codec_id = "nibpairs"

    @property
    def config(self) -> dict[str, Any]:
        return {"base": self.base}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> NibblePairs:
        base = config.get("base")
        if type(base) is not int or not 0 <= base <= 255 or set(config) != {"base"}:
            raise CodecError(f"bad nibpairs config {config!r}")
        return cls(base)

    def encode(self, data: memoryview) -> bytes:
        packed, escaped_bytes = pack_pairs(np.frombuffer(data, dtype=np.uint8), self.base)
        body = zstd_literals().compress(packed.data)
        return b"".join((_COUNT.pack(len(escaped_bytes)), escaped_bytes, body))

    def pack_numpy(self, plane: np.ndarray, packed: np.ndarray) -> bytes:
        """Codes of ``plane`` into ``packed``; returns the escaped bytes (numpy twin)."""
        n = plane.size
        pairs = packed.size
        codes = scratch("nib.codes", 2 * pairs)
        np.subtract(plane, np.uint8(self.base), out=codes[:n])
        codes[n:] = 0
        escaped = np.flatnonzero(np.greater(codes, ESCAPE - 1))
        if escaped.size:
            codes[escaped] = ESCAPE
        wide = codes.view(_U16)
        packed16 = scratch_as("nib.wide", pairs, _U16)
        np.right_shift(wide, 4, out=packed16)
        np.bitwise_or(packed16, wide, out=packed16)
        np.copyto(packed, packed16, casting="unsafe")  # low byte: even | odd << 4
        return plane[escaped].tobytes()

    def decode_into(self, payload: memoryview, out: memoryview) -> None:
        if len(payload) < _COUNT.size:
            raise CodecError("nibpairs stream too short")
        (count,) = _COUNT.unpack(payload[: _COUNT.size])
        start = _COUNT.size + count
        if start > len(payload):
            raise CodecError(f"nibpairs stream truncated inside its {count} escapes")
        packed = scratch("nib.packed", (len(out) + 1) // 2)
        decompress_zstd_into(payload[start:], packed.data)
        unpack_pairs(packed, self.base, payload[_COUNT.size : start], out)

    def unpack_numpy(
        self, packed: np.ndarray, escaped_bytes: memoryview, target: np.ndarray
    ) -> None:
        """Inverse of ``pack_numpy`` into ``target`` (numpy twin of the C kernel)."""
        n = target.size
        pairs = packed.size
        count = len(escaped_bytes)
        wide = scratch_as("nib.wide", pairs, _U16)
        shifted = scratch_as("nib.shift", pairs, _U16)
        np.copyto(wide, packed, casting="unsafe")
        np.multiply(wide, 16, out=shifted)  # odd code to the high byte
        np.bitwise_or(wide, shifted, out=wide)
        np.bitwise_and(wide, 0x0F0F, out=wide)
        codes = wide.view(np.uint8)[:n]
        escaped = np.flatnonzero(np.equal(codes, ESCAPE))
        if escaped.size != count:
            raise CodecError(f"nibpairs: {escaped.size} escape codes, header says {count}")
        np.add(codes, np.uint8(self.base), out=target)
        if count:
            target[escaped] = np.frombuffer(escaped_bytes, dtype=np.uint8)


def pack_pairs(plane: np.ndarray, base: int) -> tuple[np.ndarray, bytes]:
    """-> (packed codes, a view of this thread's scratch; the escaped bytes)."""
    n = plane.size
    packed = scratch("nib.packed", (n + 1) // 2)
    if native.KERNELS is not None:
        escapes = scratch("nib.escapes", n)
        count = native.KERNELS.nib_pack(plane, base, packed, escapes)
        return packed, escapes[:count].tobytes()
    return packed, NibblePairs(base).pack_numpy(plane, packed)


def unpack_pairs(packed: np.ndarray, base: int, escaped: memoryview, out: memoryview) -> None:
    """Inverse of ``pack_pairs`` into ``out``."""
    if native.KERNELS is not None:
        try:
            native.KERNELS.nib_unpack(packed, base, escaped, out)
        except ValueError as exc:
            raise CodecError(f"corrupt nibble codes: {exc}") from None
    else:
        NibblePairs(base).unpack_numpy(packed, escaped, np.frombuffer(out, dtype=np.uint8))
