"""``huff``: a Huffman coder whose decoder reads many symbols per table lookup.

zstd's huff0 decodes one (or two) symbols per table lookup, at a roughly
fixed rate of output bytes whatever the entropy. A fine-tuning delta's
planes are mostly 0 with a few small values (1-2 bits/byte), so that cost
follows the raw size, not the compressed one: decoding an 8-step delta cost
more than decoding its keyframe although it is several times smaller. Here the decoder
(``_kernels.c``) looks up 11 bits at a time in a table whose entry holds the
bytes of every whole code in them (up to 8 bytes), and runs four independent
bitstreams interleaved, so its cost follows the compressed bits (figures in
``benchmarks/results/codec.md``).

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

import struct
from dataclasses import dataclass

import numpy as np

from swarmstore.codec import native
from swarmstore.codec.registry import Parameterless, register
from swarmstore.codec.scratch import scratch
from swarmstore.errors import CodecError

MAX_LEN = 11
H16_MAX_LEN = 12  # huff16's table has 8-byte entries: 12 bits cost what 11 do for huff
RUN = 8
TOKENS = 256 + RUN
_HEADER = 1 + TOKENS // 2 + 16
_SIZES = struct.Struct("<4I")


def available() -> bool:
    """Whether the fast decoder is built (the encoder only picks ``huff`` then)."""
    return native.KERNELS is not None


def code_lengths(counts: np.ndarray, limit: int = MAX_LEN) -> np.ndarray:
    """Huffman code lengths (uint8, each <= ``limit`` <= ``MAX_LEN``) for token counts."""
    kernels = native.KERNELS
    if kernels is not None:
        wide = np.ascontiguousarray(counts, dtype="<u8")
        return np.frombuffer(kernels.huff_lengths(wide, limit), dtype=np.uint8)
    return code_lengths_python(counts, limit)


def code_lengths_python(counts: np.ndarray, limit: int = MAX_LEN) -> np.ndarray:
    """``code_lengths``' twin without the C kernels (same lengths)."""
    lengths = np.zeros(counts.size, dtype=np.uint8)
    present = np.flatnonzero(counts)
    if present.size == 0:
        return lengths
    if present.size == 1:
        lengths[present[0]] = 1
        return lengths
    order = present[np.argsort(counts[present], kind="stable")]  # ascending weight
    per_length = np.bincount(_huffman_lengths([int(w) for w in counts[order]]))
    if per_length.size > limit + 1:
        per_length = _limit(per_length, limit)
    # the most frequent tokens get the shortest codes
    by_freq, pos = order[::-1], 0
    for length in range(1, per_length.size):
        take = int(per_length[length])
        lengths[by_freq[pos : pos + take]] = length
        pos += take
    return lengths


def _huffman_lengths(weights: list[int]) -> np.ndarray:
    """Code lengths of a Huffman code for ascending ``weights`` (two-queue method)."""
    k = len(weights)
    w = weights + [0] * (k - 1)
    parent = [0] * (2 * k - 1)
    leaf, merged = 0, k  # next leaf; next internal node to consume
    for node in range(k, 2 * k - 1):
        pair = []
        for _ in range(2):
            if leaf < k and (merged >= node or weights[leaf] <= w[merged]):
                pair.append(leaf)
                leaf += 1
            else:
                pair.append(merged)
                merged += 1
        w[node] = w[pair[0]] + w[pair[1]]
        parent[pair[0]] = parent[pair[1]] = node
    depth = [0] * (2 * k - 1)
    for node in range(2 * k - 3, -1, -1):
        depth[node] = depth[parent[node]] + 1
    return np.array(depth[:k], dtype=np.int64)


def _limit(count: np.ndarray, limit: int) -> np.ndarray:
    """Length counts of an over-long Huffman code -> counts with no code longer
    than ``limit``, still a complete prefix code (JPEG, Annex K.3)."""
    bits = [int(x) for x in count]
    for i in range(len(bits) - 1, limit, -1):
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
    return np.array(bits[: limit + 1], dtype=np.int64)


def table_bits(elements: int, tokens: int) -> int:
    """The code length limit for a stream of ``elements``: the decoder builds a
    table of 2**(longest code) entries, so a small chunk gets
    shorter codes (<= 3 % larger there) and a table it can afford."""
    need = max(1, (tokens - 1).bit_length())  # room for every token
    return max(need, min(H16_MAX_LEN, max(8, elements.bit_length() - 4)))


def _pack_lengths(lengths: np.ndarray) -> bytes:
    packed: bytes = (lengths[0::2] | (lengths[1::2] << 4)).astype(np.uint8).tobytes()
    return packed


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
    limit = min(MAX_LEN, table_bits(plane.size, int(np.count_nonzero(tokens))))
    lengths = code_lengths(tokens, limit)
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


def _codes(lengths: np.ndarray, max_len: int = MAX_LEN) -> list[int]:
    """Bit-reversed canonical codes (as ``huff_codes`` in ``_kernels.c``)."""
    lens = [int(x) for x in lengths]
    if max(lens) > max_len or sum(1 << (max_len - v) for v in lens if v) > 1 << max_len:
        raise CodecError("corrupt huff stream: code lengths are no prefix code")
    count = [0] * (max_len + 1)
    for v in lens:
        count[v] += 1
    count[0] = 0
    nxt, code = [0] * (max_len + 1), 0
    for v in range(1, max_len + 1):
        code = (code + count[v - 1]) << 1
        nxt[v] = code
    out = []
    for v in lens:
        c = nxt[v] if v else 0
        if v:
            nxt[v] += 1
        out.append(int(format(c, f"0{v}b")[::-1], 2) if v else 0)
    return out


def _lookup(lengths: np.ndarray, max_len: int) -> tuple[list[int], list[int]]:
    """(token, code length) for every ``max_len``-bit window of an LSB-first stream:
    the one-code-per-lookup table both Python decoders read (0 length: no code)."""
    token = [0] * (1 << max_len)
    size = [0] * (1 << max_len)
    for t, (c, v) in enumerate(zip(_codes(lengths, max_len), lengths.tolist(), strict=True)):
        if v:
            for j in range(c, 1 << max_len, 1 << v):
                token[j], size[j] = t, v
    return token, size


def decode_python(
    body: memoryview, sizes: tuple[int, ...], fill: int, lengths: np.ndarray, target: np.ndarray
) -> None:
    """Code-at-a-time decode of ``huff_decode``'s input (hosts without the C kernels)."""
    token, size = _lookup(lengths, MAX_LEN)
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
class Huffman(Parameterless):
    codec_id = "huff"

    def encode(self, data: memoryview) -> bytes:
        return huff_encode(np.frombuffer(data, dtype=np.uint8))

    def decode_into(self, payload: memoryview, out: memoryview) -> None:
        huff_decode_into(payload, out)


# ------------------------------------------------ huff16: 16-bit delta elements

H16_LIT = 248
H16_RUNS = (1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 48, 64, 96, 128)
_H16_HEADER = TOKENS // 2 + 32
_COUNTS = struct.Struct("<8I")
_MODES = {None: 0, "sub": 1, "xor": 2}


def _h16_parts(
    payload: memoryview,
) -> tuple[memoryview, tuple[int, ...], tuple[int, ...], memoryview, memoryview]:
    if len(payload) < _H16_HEADER:
        raise CodecError("huff16 stream too short")
    lengths = payload[: TOKENS // 2]  # 4 bits each (``_unpack_lengths``)
    counts = _COUNTS.unpack(payload[TOKENS // 2 : _H16_HEADER])
    sizes, escapes = counts[:4], counts[4:]
    start = _H16_HEADER + 2 * sum(escapes)
    if start + sum(sizes) != len(payload):
        raise CodecError(f"huff16 stream sizes {counts} do not match its {len(payload)} bytes")
    return lengths, sizes, escapes, payload[_H16_HEADER:start], payload[start:]


class _WholeElements:
    """The two entry points of a delta coded whole (``huff16``, ``huff32``): decode
    the elements, or add them onto the base in the same pass."""

    __slots__ = ()

    def decode_into(self, payload: memoryview, out: memoryview) -> None:
        self._decode(payload, out, None)

    def apply_into(self, payload: memoryview, out: memoryview, op: str) -> None:
        """``out`` holds the base: add (``op="sub"``: un-zigzagged) or XOR the
        decoded elements onto it, in one pass (needs the C kernels)."""
        self._decode(payload, out, op)

    def _decode(self, payload: memoryview, out: memoryview, op: str | None) -> None:
        raise NotImplementedError


@register
@dataclass(frozen=True, slots=True)
class Huffman16(_WholeElements, Parameterless):
    """``huff16``: a delta of 2-byte elements (zigzag or XOR) coded whole, not as
    byte planes: token 0 = escape (the element is the next u16 of the escape
    list), 1..247 = that value, ``248 + k`` = ``H16_RUNS[k]`` zero elements;
    the ``huff`` code machinery otherwise (lengths, 4 streams of element
    quarters, each with its own escapes). Restoring adds the decoded deltas onto
    the base in the same pass (``apply_into``), skipping zero runs.

    Layout: ``code lengths (132 bytes) | 4 x u32 stream sizes | 4 x u32 escape
    counts | escapes (u16 LE, stream by stream) | 4 bitstreams``.
    """

    codec_id = "huff16"

    def encode(self, data: memoryview) -> bytes:
        kernels = native.KERNELS
        if kernels is None:
            raise CodecError("the huff16 encoder needs the C kernels")
        z = np.frombuffer(data, dtype=np.uint8)
        if z.size % 2:
            raise CodecError("huff16 needs whole 2-byte elements")
        counts = np.frombuffer(kernels.h16_hist(z), dtype=np.uint64)
        lengths = code_lengths(counts, table_bits(z.size // 2, int(np.count_nonzero(counts))))
        out = scratch("huff.out", (H16_MAX_LEN * (z.size // 2) + 7) // 8 + 12)
        escapes = scratch("huff16.esc", z.size)
        counts = kernels.h16_encode(z, lengths, out, escapes)
        sizes, n_esc = counts[:4], sum(counts[4:])
        head = _pack_lengths(lengths) + _COUNTS.pack(*counts)
        return head + escapes[: 2 * n_esc].tobytes() + out[: sum(sizes)].tobytes()

    def _decode(self, payload: memoryview, out: memoryview, op: str | None) -> None:
        lengths, sizes, escapes, esc_bytes, body = _h16_parts(payload)
        if len(out) % 2:
            raise CodecError("huff16 decodes whole 2-byte elements")
        kernels = native.KERNELS
        if kernels is None:
            if op is not None:
                raise CodecError("huff16 apply_into needs the C kernels")
            target = np.frombuffer(out, dtype=np.uint8)
            decode16_python(body, sizes, esc_bytes, escapes, _unpack_lengths(lengths), target)
            return
        try:
            kernels.h16_decode(body, sizes, esc_bytes, escapes, lengths, out, _MODES[op])
        except ValueError as exc:
            raise CodecError(f"corrupt huff16 stream: {exc}") from None


def decode16_python(
    body: memoryview,
    sizes: tuple[int, ...],
    esc_bytes: memoryview,
    escapes: tuple[int, ...],
    lengths: np.ndarray,
    target: np.ndarray,
) -> None:
    """Token-at-a-time decode of a ``huff16`` stream (hosts without the C kernels)."""
    token, size = _lookup(lengths, H16_MAX_LEN)
    esc = np.frombuffer(esc_bytes, dtype="<u2").tolist()
    n = target.size // 2
    m = (n + 3) // 4
    data = bytes(body) + bytes(8)
    values: list[int] = []
    off = e = 0
    for q in range(4):
        hi = min((q + 1) * m, n)
        pos, bits, e_end = off * 8, (off + sizes[q]) * 8, e + escapes[q]
        while len(values) < hi:
            b = pos >> 3
            idx = (int.from_bytes(data[b : b + 3], "little") >> (pos & 7)) & (
                (1 << H16_MAX_LEN) - 1
            )
            if not size[idx]:
                raise CodecError("corrupt huff16 stream: no code")
            t = token[idx]
            if t >= H16_LIT:
                values.extend([0] * H16_RUNS[t - H16_LIT])
            elif t:
                values.append(t)
            else:
                if e >= e_end:
                    raise CodecError("corrupt huff16 stream: escapes missing")
                values.append(esc[e])
                e += 1
            pos += size[idx]
            if pos > bits or len(values) > hi:
                raise CodecError("corrupt huff16 stream: runs past its end")
        if (pos + 7) // 8 != off + sizes[q] or e != e_end:
            raise CodecError("corrupt huff16 stream: unused bytes or escapes")
        off += sizes[q]
    target[:] = np.array(values, dtype="<u2").view(np.uint8)


# ------------------------------------------------ huff32: 4-byte delta elements

H32_LIT = 223
H32_CLASS_BITS = 7
_H32_HEADER = TOKENS // 2 + 16
H32_STEP_BITS = H16_MAX_LEN + 31  # an entry's codes plus its escape's raw bits


def _h32_parts(payload: memoryview) -> tuple[memoryview, tuple[int, ...], memoryview]:
    if len(payload) < _H32_HEADER:
        raise CodecError("huff32 stream too short")
    lengths = payload[: TOKENS // 2]
    sizes = _SIZES.unpack(payload[TOKENS // 2 : _H32_HEADER])
    if _H32_HEADER + sum(sizes) != len(payload):
        raise CodecError(f"huff32 stream sizes {sizes} do not match its {len(payload)} bytes")
    return lengths, sizes, payload[_H32_HEADER:]


def h32_token_counts(z: np.ndarray) -> np.ndarray:
    """Token counts (264, int64) of the 4-byte elements ``z`` (uint8 view)."""
    kernels = native.KERNELS
    if kernels is None:
        raise CodecError("huff32 needs the C kernels")
    return np.frombuffer(kernels.h32_hist(z), dtype=np.uint64).astype(np.int64)


def h32_escapes(counts: np.ndarray) -> int:
    """How many elements the token counts code with raw bits (a class token)."""
    return int(counts[H32_LIT:H16_LIT].sum())


def h32_size(counts: np.ndarray, elements: int) -> tuple[int, np.ndarray]:
    """(``huff32`` stream size in bytes, within 4, and the code lengths) from token
    counts: known before encoding, so the caller can weigh it against byte planes."""
    lengths = code_lengths(counts, table_bits(elements, int(np.count_nonzero(counts))))
    raw_bits = counts[H32_LIT:H16_LIT] @ np.arange(H32_CLASS_BITS, H32_CLASS_BITS + 25)
    code_bits = counts @ lengths.astype(np.int64)
    return _H32_HEADER + int(code_bits + raw_bits) // 8 + 4, lengths


@register
@dataclass(frozen=True, slots=True)
class Huffman32(_WholeElements, Parameterless):
    """``huff32``: a delta of 4-byte elements (zigzag or XOR) coded whole, not as
    byte planes, for fp32 fine-tuning deltas: token 1..222 = that value, ``223 +
    j`` = a value of bit length ``8 + j`` whose ``7 + j`` bits below the leading
    one follow its code raw (DEFLATE's extra bits: the noisy low mantissa bits
    cost exactly their width and no table lookup), ``248 + k`` = ``H16_RUNS[k]``
    zero elements; token 0 is unused. The ``huff`` code machinery otherwise
    (lengths, 4 streams of element quarters, LSB-first). Restoring adds the
    decoded deltas onto the base in the same pass (``apply_into``): no byte
    planes are decoded or joined.

    Layout: ``code lengths (132 bytes) | 4 x u32 stream sizes | 4 bitstreams``.
    """

    codec_id = "huff32"

    def encode(self, data: memoryview) -> bytes:
        z = np.frombuffer(data, dtype=np.uint8)
        if z.size % 4:
            raise CodecError("huff32 needs whole 4-byte elements")
        counts = h32_token_counts(z)
        return self.encode_counted(z, h32_size(counts, z.size // 4)[1])

    def encode_counted(self, z: np.ndarray, lengths: np.ndarray) -> bytes:
        """``encode`` with the code lengths the caller already has (``h32_size``)."""
        kernels = native.KERNELS
        if kernels is None:
            raise CodecError("the huff32 encoder needs the C kernels")
        out = scratch("huff.out", (H32_STEP_BITS * (z.size // 4) + 7) // 8 + 12)
        sizes = kernels.h32_encode(z, lengths, out)
        return _pack_lengths(lengths) + _SIZES.pack(*sizes) + out[: sum(sizes)].tobytes()

    def _decode(self, payload: memoryview, out: memoryview, op: str | None) -> None:
        lengths, sizes, body = _h32_parts(payload)
        if len(out) % 4:
            raise CodecError("huff32 decodes whole 4-byte elements")
        kernels = native.KERNELS
        if kernels is None:
            if op is not None:
                raise CodecError("huff32 apply_into needs the C kernels")
            target = np.frombuffer(out, dtype=np.uint8)
            decode32_python(body, sizes, _unpack_lengths(lengths), target)
            return
        try:
            kernels.h32_decode(body, sizes, lengths, out, _MODES[op])
        except ValueError as exc:
            raise CodecError(f"corrupt huff32 stream: {exc}") from None


def decode32_python(
    body: memoryview, sizes: tuple[int, ...], lengths: np.ndarray, target: np.ndarray
) -> None:
    """Token-at-a-time decode of a ``huff32`` stream (hosts without the C kernels)."""
    if lengths[0]:
        raise CodecError("corrupt huff32 stream: token 0 has a code")
    token, size = _lookup(lengths, H16_MAX_LEN)
    n = target.size // 4
    m = (n + 3) // 4
    data = bytes(body) + bytes(8)
    values: list[int] = []
    off = 0
    for q in range(4):
        hi = min((q + 1) * m, n)
        pos, bits = off * 8, (off + sizes[q]) * 8
        while len(values) < hi:
            b = pos >> 3
            window = int.from_bytes(data[b : b + 8], "little") >> (pos & 7)
            idx = window & ((1 << H16_MAX_LEN) - 1)
            if not size[idx]:
                raise CodecError("corrupt huff32 stream: no code")
            t = token[idx]
            pos += size[idx]
            if t >= H16_LIT:
                values.extend([0] * H16_RUNS[t - H16_LIT])
            elif t < H32_LIT:
                values.append(t)
            else:  # a class: its raw bits follow the code
                nb = H32_CLASS_BITS + t - H32_LIT
                values.append((1 << nb) | (window >> size[idx]) & ((1 << nb) - 1))
                pos += nb
            if pos > bits or len(values) > hi:
                raise CodecError("corrupt huff32 stream: runs past its end")
        if (pos + 7) // 8 != off + sizes[q]:
            raise CodecError("corrupt huff32 stream: unused bytes")
        off += sizes[q]
    target[:] = np.array(values, dtype="<u4").view(np.uint8)
