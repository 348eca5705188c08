"""``huff``: a Huffman coder whose decoder reads many symbols per table lookup.

zstd's huff0 decodes one (or two) symbols per table lookup, ~0.5-1.3 GB/s of
output on the CPUs we measure, whatever the entropy. A fine-tuning delta's
planes are mostly 0 with a few small values (1-2 bits/byte), so that cost
follows the raw size, not the compressed one: decoding an 8-step delta cost
more than decoding its keyframe although it is 4-5x smaller. Here the decoder
(``_kernels.c``) looks up 11 bits at a time in a table whose entry holds the
bytes of every whole code in them (up to 8 bytes), and runs four independent
bitstreams interleaved, so its cost follows the compressed bits (2-4 GB/s on
those planes).

Tokens: a byte value (0..255), or a run of 1..8 copies of the plane's ``fill``
byte (its most common value) -- without runs a 0.72-probable zero would still
cost a whole bit, and long zero stretches (rows a fine-tuning step did not
touch) would cost a bit per byte.

Stream layout: ``fill (1 byte) | code lengths of the 264 tokens (132 bytes, 4
bits each, low nibble first; 0 = absent) | 4 x u32 LE stream sizes | 4
bitstreams``. Token ``t < 256`` is byte ``t``; token ``255 + k`` is ``k``
fill bytes. Lengths are <= 11 and form a prefix code; codes are canonical (by
length, then token), written LSB-first; element ``i`` of ``n`` belongs to
stream ``i // ceil(n / 4)`` (runs never cross streams); each stream is
zero-padded to a byte and must be used exactly.

Without the C kernels the decoder is a Python loop (correct but slow; such
hosts never write this coder: ``available()``).
"""

from __future__ import annotations

import heapq
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmstore.codec import native
from swarmstore.codec.registry import register
from swarmstore.codec.scratch import scratch
from swarmstore.errors import CodecError

MAX_LEN = 11
RUN = 8
TOKENS = 256 + RUN
_HEADER = 1 + TOKENS // 2 + 16
_SIZES = struct.Struct("<4I")


def available() -> bool:
    """Whether the fast decoder is built (the encoder only picks ``huff`` then)."""
    return native.KERNELS is not None


def code_lengths(counts: np.ndarray) -> np.ndarray:
    """Huffman code lengths (uint8, each <= ``MAX_LEN``) for token counts."""
    lengths = np.zeros(counts.size, dtype=np.uint8)
    present = [int(s) for s in np.flatnonzero(counts)]
    if not present:
        return lengths
    if len(present) == 1:
        lengths[present[0]] = 1
        return lengths
    depth = dict.fromkeys(present, 0)
    heap = [(int(counts[s]), s, [s]) for s in present]
    heapq.heapify(heap)
    while len(heap) > 1:
        w1, t1, a = heapq.heappop(heap)
        w2, _, b = heapq.heappop(heap)
        for s in a:
            depth[s] += 1
        for s in b:
            depth[s] += 1
        heapq.heappush(heap, (w1 + w2, t1, a + b))
    for s, d in depth.items():
        lengths[s] = min(d, MAX_LEN)
    if max(depth.values()) > MAX_LEN:
        _fit_kraft(lengths, counts, present)
    return lengths


def _fit_kraft(lengths: np.ndarray, counts: np.ndarray, present: list[int]) -> None:
    """After clamping to ``MAX_LEN`` the code may be over-full: lengthen the rarest
    of the longest codes below the limit until it is a prefix code again."""
    kraft = sum(1 << (MAX_LEN - int(lengths[s])) for s in present)
    rare_first = sorted(present, key=lambda s: (int(counts[s]), s))
    while kraft > 1 << MAX_LEN:
        longest = max(int(lengths[s]) for s in present if lengths[s] < MAX_LEN)
        for s in rare_first:
            if lengths[s] == longest:
                lengths[s] += 1
                kraft -= 1 << (MAX_LEN - int(lengths[s]))
                break


def _pack_lengths(lengths: np.ndarray) -> bytes:
    return (lengths[0::2] | (lengths[1::2] << 4)).astype(np.uint8).tobytes()


def _unpack_lengths(packed: memoryview) -> np.ndarray:
    b = np.frombuffer(packed, dtype=np.uint8)
    lengths = np.empty(TOKENS, dtype=np.uint8)
    lengths[0::2] = b & 15
    lengths[1::2] = b >> 4
    return lengths


def huff_encode(plane: np.ndarray, counts: np.ndarray | None = None) -> bytes:
    """One plane (uint8) -> a ``huff`` stream (needs the C kernels). ``counts``:
    its byte histogram when the caller has it."""
    kernels = native.KERNELS
    if kernels is None:
        raise CodecError("the huff encoder needs the C kernels")
    if counts is None:
        counts = np.frombuffer(kernels.histogram(plane), dtype=np.uint64)
    fill = int(np.argmax(counts))
    tokens = np.frombuffer(kernels.huff_hist(plane, fill), dtype=np.uint64)
    lengths = code_lengths(tokens)
    out = scratch("huff.out", (MAX_LEN * plane.size + 7) // 8 + 12)
    sizes = kernels.huff_encode(plane, fill, lengths, out)
    head = bytes((fill,)) + _pack_lengths(lengths) + _SIZES.pack(*sizes)
    return head + out[: sum(sizes)].tobytes()


def huff_decode_into(payload: memoryview, out: memoryview) -> None:
    if len(payload) < _HEADER:
        raise CodecError("huff stream too short")
    fill = payload[0]
    lengths = _unpack_lengths(payload[1:133])
    sizes = _SIZES.unpack(payload[133:_HEADER])
    body = payload[_HEADER:]
    if sum(sizes) != len(body):
        raise CodecError(f"huff stream sizes {sizes} do not match its {len(body)}-byte body")
    kernels = native.KERNELS
    if kernels is not None:
        try:
            kernels.huff_decode(body, sizes, fill, lengths, out)
        except ValueError as exc:
            raise CodecError(f"corrupt huff stream: {exc}") from None
        return
    decode_python(body, sizes, fill, lengths, np.frombuffer(out, dtype=np.uint8))


# ------------------------------------------------ the Python twin of the decoder


def _codes(lengths: np.ndarray) -> list[int]:
    """Bit-reversed canonical codes (as ``huff_codes`` in ``_kernels.c``)."""
    lens = [int(x) for x in lengths]
    if max(lens) > MAX_LEN or sum(1 << (MAX_LEN - v) for v in lens if v) > 1 << MAX_LEN:
        raise CodecError("corrupt huff stream: code lengths are no prefix code")
    count = [0] * (MAX_LEN + 1)
    for v in lens:
        count[v] += 1
    count[0] = 0
    nxt, code = [0] * (MAX_LEN + 1), 0
    for v in range(1, MAX_LEN + 1):
        code = (code + count[v - 1]) << 1
        nxt[v] = code
    out = []
    for v in lens:
        c = nxt[v] if v else 0
        if v:
            nxt[v] += 1
        out.append(int(format(c, f"0{v}b")[::-1], 2) if v else 0)
    return out


def decode_python(
    body: memoryview, sizes: tuple[int, ...], fill: int, lengths: np.ndarray, target: np.ndarray
) -> None:
    """Code-at-a-time decode of ``huff_decode``'s input (hosts without the C kernels)."""
    codes = _codes(lengths)
    token = [0] * (1 << MAX_LEN)
    size = [0] * (1 << MAX_LEN)
    for t, (c, v) in enumerate(zip(codes, lengths.tolist(), strict=True)):
        if v:
            for j in range(c, 1 << MAX_LEN, 1 << v):
                token[j], size[j] = t, v
    expand = [bytes((t,)) for t in range(256)] + [bytes((fill,)) * k for k in range(1, RUN + 1)]
    n, m = target.size, (target.size + 3) // 4
    data = bytes(body) + bytes(8)
    off, out = 0, bytearray()
    for q in range(4):
        hi = min((q + 1) * m, n)
        pos, bits = off * 8, (off + sizes[q]) * 8
        while len(out) < hi:
            b = pos >> 3
            idx = (int.from_bytes(data[b : b + 3], "little") >> (pos & 7)) & ((1 << MAX_LEN) - 1)
            if not size[idx]:
                raise CodecError("corrupt huff stream: no code")
            out += expand[token[idx]]
            pos += size[idx]
            if pos > bits or len(out) > hi:
                raise CodecError("corrupt huff stream: runs past its end")
        if (pos + 7) // 8 != off + sizes[q]:
            raise CodecError("corrupt huff stream: unused bytes")
        off += sizes[q]
    target[:] = np.frombuffer(out, dtype=np.uint8)


# ------------------------------------------------------------------ coders


@register
@dataclass(frozen=True, slots=True)
class Huffman:
    codec_id = "huff"

    @property
    def config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Huffman:
        if config:
            raise CodecError(f"bad huff config {config!r}")
        return cls()

    def encode(self, data: memoryview) -> bytes:
        return huff_encode(np.frombuffer(data, dtype=np.uint8))

    def decode_into(self, payload: memoryview, out: memoryview) -> None:
        huff_decode_into(payload, out)
