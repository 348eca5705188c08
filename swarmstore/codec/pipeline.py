"""Choosing and running the codec chain for one chunk.

Encode: [delta] -> planes -> one stream coder per plane. Choices are made from
small samples (order-0 entropy and trial compression of a few 16 KiB windows),
so the expensive full-size compression runs once per plane in the common case.
Decode follows the chain the frame header names, writing into one bytearray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xxhash
import zstandard

from swarmstore.codec import frame as framing
from swarmstore.codec import native
from swarmstore.codec.coders import Raw, Zstd, ZstdLiterals
from swarmstore.codec.decay import Decay, detect
from swarmstore.codec.delta import Delta
from swarmstore.codec.huffman import (
    Huffman,
    Huffman16,
    Huffman32,
    h32_escapes,
    h32_size,
    h32_token_counts,
)
from swarmstore.codec.huffman import available as huffman_available
from swarmstore.codec.nibbles import NibblePairs, best_base
from swarmstore.codec.planes import BytePlanes, join_planes_into, split_into
from swarmstore.codec.registry import codec_from_json, codec_to_json
from swarmstore.codec.scratch import scratch
from swarmstore.codec.signbit import SignBitLast
from swarmstore.dtypes import dtype_info
from swarmstore.errors import CodecError, UnknownCodecError

Compression = Literal["auto", "max", "fast", "none"]
_COMPRESSIONS = ("auto", "max", "fast", "none")

_SAMPLE_WINDOWS = 4
_WINDOW = 8 * 1024  # elements per sample window
_SMALL = 8 * 1024  # chunks up to this many bytes skip planes and sampling
_RAW_ENTROPY = {"fast": 7.6, "auto": 7.95, "max": 7.99}  # bits/byte above which a plane stays raw
# nibpairs when a plane's sample has 1.5..4.5 bits/byte and <= 0.2 % escapes: below
# that zstd's matches win (long zero runs), above it the escapes cost too much
_NIB_ENTROPY = (1.5, 4.5)
_NIB_ESCAPES = 0.002
_NIB_TRIAL_ESCAPES = 0.05  # other planes: nibpairs joins the sample trial up to 5 % escapes
_CONSTANT_ENTROPY = 0.02
# a delta plane of 0.3..3 bits/byte takes ``huff`` (multi-symbol decode, 1.5-3x
# faster than zstd's huff0 there) when its sample is at most 20 % larger than
# the smallest coder's: restoring a delta should cost little more than its keyframe
_HUFF_ENTROPY = (0.3, 3.0)
_HUFF_SLACK = 1.2
# a 2-byte float delta coded whole (``huff16``) restores 1.5-4x faster than as
# byte planes (one fused pass onto the base, zero runs skipped): taken when at
# most 10 % larger, or larger by at most 0.5 % of the raw chunk (near-empty
# deltas, where planes+zstd win on size but cost a full plane pass each)
_HUFF16_SLACK = (1.1, 0.005)
# a 4-byte float delta coded whole (``huff32``) restores 2-3x faster than as
# byte planes when most of its elements are small (< 223 as zigzag: the rows a
# fine-tuning step did not touch, decayed by a few ulps); an element that needs
# raw bits costs ~4 ns there against ~2 ns for raw byte planes, so it is taken
# only while at most 30 % of the elements do (or in a chunk of <= 8 KiB, where
# four plane streams cost more than any element), and within the huff16 slack
_HUFF32_ESCAPES = 0.3
# a delta plane of < 0.3 bits/byte (the top byte of a dense step's zigzag delta:
# nearly all zero) decodes 2x faster from zstd's matches than from its literal
# coder; the bytes at stake are ~0.2 % of the plane, so zstd within 1.5x + 0.1 %
_NEAR_CONSTANT_SLACK = (1.5, 0.001)
# a delta plane above 7.2 bits/byte (an fp32 step's second byte once the chunk
# has drifted 3+ steps from its keyframe) would save < 10 % of itself under
# zstd's literal coder, whose decode (~1.4 GB/s) then costs more than the whole
# keyframe chunk's: kept raw, such restores decode ~2x faster for ~2 % more bytes
_DELTA_RAW_ENTROPY = 7.2


@dataclass(frozen=True, slots=True)
class CodecPolicy:
    """How hard to compress.

    ``compression``: "auto" (balanced, default), "max" (smallest; slow),
    "fast" (cheapest coders) or "none" (raw frames). ``threads``: worker count
    the caller uses for chunks (0: all cores); the codec itself is single-threaded
    per call and releases the GIL inside compressor calls.
    """

    compression: Compression = "auto"
    threads: int = 0

    def __post_init__(self) -> None:
        if self.compression not in _COMPRESSIONS:
            raise ValueError(
                f"compression must be one of {_COMPRESSIONS}, not {self.compression!r}"
            )


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    frame: bytes
    is_delta: bool
    codec_name: str = ""  # ``frame_codec_name(frame)``, known without re-parsing


# ---------------------------------------------------------------- helpers


def _widths(dtype: str, length: int) -> tuple[int, int, bool]:
    """-> (plane width, delta width, floating) for a chunk of ``length`` bytes."""
    info = dtype_info(dtype)
    floating = info.is_floating
    component = info.itemsize // 2 if info.kind == "complex" else info.itemsize
    if component not in (1, 2, 4, 8) or length % component:
        component = 1
    return (component if floating else 1), component, floating


def _entropy(sample: np.ndarray, counts: np.ndarray | None = None) -> float:
    if sample.size == 0:
        return 0.0
    if counts is None:
        counts = _histogram(sample)
    p = counts[counts > 0] / sample.size
    return float(-(p * np.log2(p)).sum())


def _windows(n_elems: int) -> list[slice]:
    """A few evenly spread windows of elements (all of a small chunk)."""
    if n_elems <= _WINDOW * _SAMPLE_WINDOWS:
        return [slice(0, n_elems)]
    step = (n_elems - _WINDOW) / (_SAMPLE_WINDOWS - 1)
    starts = [int(i * step) for i in range(_SAMPLE_WINDOWS)]  # as np.linspace(...).astype(int)
    return [slice(s, s + _WINDOW) for s in starts]


def _histogram(sample: np.ndarray) -> np.ndarray:
    if native.KERNELS is not None:
        return np.frombuffer(native.KERNELS.histogram(sample), dtype=np.uint64).astype(np.int64)
    return np.bincount(sample, minlength=256)


def _sample(data: np.ndarray, width: int) -> np.ndarray:
    """Contiguous copy of the sampled elements of ``data`` (uint8, length % width == 0)."""
    rows = data.reshape(-1, width)
    return np.concatenate([rows[w] for w in _windows(rows.shape[0])]).reshape(-1)


def _estimate(sample: np.ndarray, width: int, total: int) -> float:
    """Rough encoded size (bytes) of ``total`` bytes like ``sample``, as planes (order-0)."""
    if sample.size == 0:
        return 0.0
    rows = sample.reshape(-1, width)
    bits = sum(min(_entropy(np.ascontiguousarray(rows[:, i])), 8.0) for i in range(width))
    return bits / 8.0 * total / width


class _Choice:
    """Pick a coder for one plane (sample trial), then encode it."""

    @staticmethod
    def candidates(
        policy: str, floating: bool, entropy: float, counts: np.ndarray, delta: bool = False
    ) -> list[Any]:
        raw_above = _DELTA_RAW_ENTROPY if delta and policy == "auto" else _RAW_ENTROPY[policy]
        if entropy > raw_above:
            return []
        base, escapes = best_base(counts)
        if _NIB_ENTROPY[0] <= entropy <= _NIB_ENTROPY[1] and escapes <= _NIB_ESCAPES:
            if policy != "max":  # an exponent plane: nibpairs, no trial needed
                return [NibblePairs(base)]
            return [NibblePairs(base), ZstdLiterals(), Zstd(3)]
        if policy != "max" and entropy < _CONSTANT_ENTROPY:
            return [Zstd(3)]  # (nearly) one value: any coder is ~0 bytes, zstd decodes fastest
        # below 1 bit/byte huffman cannot go under 1 bit per byte, but nibble pairs
        # can (two codes per symbol): on sparse delta planes they are 15-30% smaller
        nib = [NibblePairs(base)] if escapes <= _NIB_TRIAL_ESCAPES and policy != "fast" else []
        if policy == "fast":
            return [ZstdLiterals()] if floating and entropy > 1.0 else [Zstd(1)]
        if policy == "auto":
            if entropy < 2.0 or not floating:
                return [*nib, ZstdLiterals(), Zstd(3)]
            return [*nib, ZstdLiterals()]
        if entropy < 2.0:
            return [*nib, ZstdLiterals(), Zstd(3), Zstd(19)]
        return [*nib, ZstdLiterals(), Zstd(3)]


def _encode_plane(
    plane: np.ndarray, sample: np.ndarray, policy: str, floating: bool, delta: bool = False
) -> tuple[Any, bytes | memoryview]:
    view = plane.data
    if plane.size == 0:
        return Raw(), view
    counts = _histogram(sample)
    entropy = _entropy(sample, counts)
    candidates = _Choice.candidates(policy, floating, entropy, counts, delta)
    fast = (
        delta
        and policy == "auto"
        and huffman_available()
        and _HUFF_ENTROPY[0] <= entropy <= _HUFF_ENTROPY[1]
    )
    if fast or (len(candidates) > 1 and policy != "max"):
        trial = np.ascontiguousarray(sample)
        sizes = {c: len(c.encode(trial.data)) for c in candidates}
        smallest = min(sizes, key=sizes.__getitem__) if sizes else Raw()
        candidates = [smallest]
        if fast:
            limit = _HUFF_SLACK * min(sizes.get(smallest, trial.size), trial.size)
            if len(Huffman().encode(trial.data)) <= limit:
                candidates = [Huffman()]
        elif delta and policy == "auto" and entropy < _HUFF_ENTROPY[0] and Zstd(3) in sizes:
            limit = _NEAR_CONSTANT_SLACK[0] * sizes[smallest] + _NEAR_CONSTANT_SLACK[1] * trial.size
            if sizes[Zstd(3)] <= limit:
                candidates = [Zstd(3)]
    best: tuple[Any, bytes | memoryview] = (Raw(), view)
    for coder in candidates:
        packed = coder.encode(view)
        if len(packed) < len(best[1]):
            best = (coder, packed)
    return best


def _encode_with(
    data: np.ndarray,
    chain: list[Any],
    width: int,
    policy: str,
    floating: bool,
    rotate: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[bytes | memoryview]]:
    """Planes of ``data`` (after ``SignBitLast`` when ``rotate``), one coder each.

    Raw payloads are views of this thread's plane scratch: frame them before the
    next ``_encode_with`` on this thread.
    """
    planer = BytePlanes(width)
    planes = split_into(data, width, rotate, scratch("enc.planes", data.size))
    if rotate:
        chain = [*chain, SignBitLast(width)]
    samples = [np.concatenate([p[w] for w in _windows(p.size)]) for p in planes]
    streams, payloads = [], []
    delta = any(isinstance(c, Delta) for c in chain)
    for plane, sample in zip(planes, samples, strict=True):
        coder, payload = _encode_plane(plane, sample, policy, floating, delta)
        streams.append(codec_to_json(coder))
        payloads.append(payload)
    specs = [codec_to_json(c) for c in chain]
    if width > 1:
        specs.append(codec_to_json(planer))
    return specs, streams, payloads


def _rotates(width: int, policy: str) -> bool:
    """Sign-bit rotation puts the whole 8-bit exponent in the top plane: for 2-byte
    floats +1% ratio (the exponent's last bit shares a byte with the mantissa),
    for fp32 +0.3% and a sign-free exponent plane that ``nibpairs`` can code (2x
    faster than ``zstd-lit``); with the single-pass kernels it costs ~nothing.
    fp64 keeps the old choice (only "max" rotates)."""
    return width in (2, 4) or (width > 4 and policy == "max")


def _encode_full(
    data: np.ndarray, width: int, policy: str, floating: bool
) -> tuple[list[Any], list[Any], list[Any]]:
    rotate = floating and _rotates(width, policy)
    return _encode_with(data, [], width, policy, floating, rotate)


def _encode_small(data: np.ndarray) -> tuple[list[Any], list[Any], list[Any]]:
    """A tiny chunk (a bias, a norm) as one zstd stream: per-plane choices cost
    more time than they could save bytes there."""
    packed = Zstd(3).encode(data.data)
    if len(packed) < data.size:
        return [], [codec_to_json(Zstd(3))], [packed]
    return [], [codec_to_json(Raw())], [data.data]


def _frame(
    raw_len: int,
    digest: str,
    encoded: tuple[list[Any], list[Any], list[Any]],
    is_delta: bool = False,
) -> EncodedFrame:
    chain, streams, payloads = encoded
    header = {
        "len": raw_len,
        "xxh3": digest,
        "chain": chain,
        "streams": streams,
        "sizes": [len(p) for p in payloads],
    }
    return EncodedFrame(framing.pack(header, payloads), is_delta, _chain_name(header))


def _as_u8(buf: bytes | bytearray | memoryview) -> np.ndarray:
    view = memoryview(buf)
    if not view.contiguous:
        raise CodecError("chunk buffer must be contiguous")
    return np.frombuffer(
        view.cast("B") if view.format != "B" or view.ndim != 1 else view, dtype=np.uint8
    )


# ---------------------------------------------------------------- public API


def encode_chunk(
    raw: bytes | bytearray | memoryview,
    dtype: str,
    policy: CodecPolicy,
    base: bytes | bytearray | memoryview | None = None,
) -> EncodedFrame:
    data = _as_u8(raw)
    n = data.size
    digest = xxhash.xxh3_64_hexdigest(data.data)
    mode = policy.compression
    if mode == "none" or n == 0:
        return _frame(n, digest, ([], [codec_to_json(Raw())], [data.data]))
    if n <= _SMALL and mode != "max" and base is None:
        return _frame(n, digest, _encode_small(data))
    plane_width, delta_width, floating = _widths(dtype, n)
    if base is None:
        return _frame(n, digest, _encode_full(data, plane_width, mode, floating))

    base_u8 = _as_u8(base)
    if base_u8.size != n:
        raise CodecError(f"base has {base_u8.size} bytes, chunk has {n}")
    kind = dtype_info(dtype).kind
    ops = ("xor",) if kind in ("bool", "bits") else ("sub", "xor")
    # int deltas (zigzag) leave zero high bytes: split them into planes too
    dwidth = 1 if kind in ("bool", "bits") else delta_width
    # choose from samples: order-0 entropy of each candidate's planes
    target_s, base_s = _sample(data, dwidth), _sample(base_u8, dwidth)
    full_s = _sample(data, plane_width)
    if floating and _rotates(plane_width, mode):
        full_s = SignBitLast(plane_width).encode(full_s)
    full_cost = _estimate(full_s, plane_width, n)
    options: list[tuple[float, str, Decay | None]] = [
        (_estimate(Delta(op, dwidth).encode(target_s, base_s), dwidth, n), op, None) for op in ops
    ]
    decay = _decay_for(kind, dwidth, mode, target_s, base_s)
    if decay is not None:  # AdamW-decayed parameters: subtract the prediction, not the base
        predicted = Delta("sub", 4).encode(target_s, decay.predicted(base_s))
        options.append((_estimate(predicted, 4, n), "sub", decay))
    options.sort(key=lambda o: o[0])
    tried = options if mode == "max" else options[:1]
    best: EncodedFrame | None = None
    for estimate, op, decayed in tried:
        codec = Delta(op, dwidth)
        chain: list[Any] = [codec] if decayed is None else [decayed, codec]
        delta = codec.encode(data, base_u8 if decayed is None else decayed.predicted(base_u8))
        if dwidth == 2 and floating and mode == "auto" and huffman_available():
            f = _encode_delta16(n, digest, chain, delta, estimate)
        elif dwidth == 4 and floating and mode == "auto" and huffman_available():
            f = _encode_delta32(n, digest, chain, delta, estimate)
        else:
            f = _frame(n, digest, _encode_with(delta, chain, dwidth, mode, True), is_delta=True)
        if best is None or len(f.frame) < len(best.frame):
            best = f
    assert best is not None
    if mode != "max" and options[0][0] < 0.9 * full_cost:
        return best
    full = _frame(n, digest, _encode_full(data, plane_width, mode, floating))
    return best if len(best.frame) < len(full.frame) else full


def _decay_for(
    kind: str, width: int, mode: str, target: np.ndarray, base: np.ndarray
) -> Decay | None:
    """A weight-decay prediction for an fp32 chunk's sample, when one fits. Only
    with the C kernels (as ``huff``): the numpy twin decodes such frames, but
    trying ~100 candidate predictions in numpy halves a delta encode's speed."""
    if kind != "float" or width != 4 or mode not in ("auto", "max") or native.KERNELS is None:
        return None
    return detect(target, base)


def _encode_delta16(
    n: int, digest: str, chain: list[Any], delta: np.ndarray, estimate: float
) -> EncodedFrame:
    """A 2-byte float delta as ``huff16`` when that is within ``_HUFF16_SLACK`` of
    its byte-plane coding (checked first against the sample's order-0 estimate
    of that, which saves encoding the planes when it is clear), else as planes."""
    whole = Huffman16().encode(delta.data)
    ratio, extra = _HUFF16_SLACK

    def close(size: float, ours: int = len(whole), total: int = n) -> bool:
        return ours <= max(ratio * size, size + extra * total)

    if not close(estimate) and not _close_on_sample(delta, chain, close):
        planes = _frame(n, digest, _encode_with(delta, chain, 2, "auto", True), is_delta=True)
        if not close(len(planes.frame)):
            return planes
    encoded = ([codec_to_json(c) for c in chain], [codec_to_json(Huffman16())], [whole])
    return _frame(n, digest, encoded, is_delta=True)


def _encode_delta32(
    n: int, digest: str, chain: list[Any], delta: np.ndarray, estimate: float
) -> EncodedFrame:
    """A 4-byte float delta as ``huff32`` when few of its elements need raw bits
    (where its decoder beats the byte planes') and its exact size, known from the
    token counts before encoding, is within ``_HUFF16_SLACK`` of the planes'
    (their sample estimate first, their encoding when that is not clear)."""
    counts = h32_token_counts(delta)
    elements = n // 4
    size, lengths = h32_size(counts, elements)
    ratio, extra = _HUFF16_SLACK

    def close(planes: float) -> bool:  # the 148-byte header is close on a tiny chunk
        return size <= max(ratio * planes, planes + max(extra * n, 256))

    def as_planes() -> EncodedFrame:
        return _frame(n, digest, _encode_with(delta, chain, 4, "auto", True), is_delta=True)

    if n > _SMALL and h32_escapes(counts) > _HUFF32_ESCAPES * elements:
        return as_planes()
    if not close(estimate):
        planes = as_planes()
        if not close(len(planes.frame)):
            return planes
    whole = Huffman32().encode_counted(delta, lengths)
    encoded = ([codec_to_json(c) for c in chain], [codec_to_json(Huffman32())], [whole])
    return _frame(n, digest, encoded, is_delta=True)


def _close_on_sample(delta: np.ndarray, chain: list[Any], close: Any) -> bool:
    """On a big chunk, compare the two codings on the sampled windows first:
    encoding every plane only to find ``huff16`` close enough doubled the cost
    of a delta encode."""
    sample = _sample(delta, 2)
    if sample.size * 4 > delta.size:
        return False
    as_planes = sum(len(p) for p in _encode_with(sample, chain, 2, "auto", True)[2])
    return bool(close(as_planes, len(Huffman16().encode(sample.data)), sample.size))


def _decode_v2_into(
    header: dict[str, Any],
    payload: memoryview,
    out_u8: np.ndarray,
    base: Any,
    verify: bool,
    base_is_out: bool = False,
) -> None:
    raw_length = out_u8.size
    if header.get("len") != raw_length:
        raise CodecError(f"frame holds {header.get('len')!r} bytes, expected {raw_length}")
    chain_json, streams_json, sizes = (
        header.get("chain"),
        header.get("streams"),
        header.get("sizes"),
    )
    if (
        not isinstance(chain_json, list)
        or not isinstance(streams_json, list)
        or not isinstance(sizes, list)
    ):
        raise CodecError("malformed frame header: chain/streams/sizes missing")
    chain = [codec_from_json(s) for s in chain_json]
    streams = [codec_from_json(s) for s in streams_json]
    # the chain is [decay]? [delta]? [signbit]? [planes]?, in that order
    decay: Decay | None = None
    delta: Delta | None = None
    rotate: SignBitLast | None = None
    planer = BytePlanes(1)
    stage = 0
    for codec in chain:
        order = {Decay: 1, Delta: 2, SignBitLast: 3, BytePlanes: 4}.get(type(codec), 0)
        if order <= stage:
            raise CodecError(f"unsupported codec chain {chain_json!r}")
        stage = order
        if isinstance(codec, Decay):
            decay = codec
        elif isinstance(codec, Delta):
            delta = codec
        elif isinstance(codec, SignBitLast):
            rotate = codec
        else:
            planer = codec
    if any(not hasattr(s, "decode_into") for s in streams):
        raise CodecError(f"not a stream coder in {streams_json!r}")
    width = planer.width
    if decay is not None and (delta is None or delta.op != "sub" or delta.width != 4):
        raise CodecError(f"unsupported codec chain {chain_json!r}")
    if any(raw_length % c.width for c in (planer, delta, rotate) if c is not None):
        raise CodecError(f"{raw_length} bytes do not split into width {width}")
    if len(streams) != width or len(sizes) != width:
        raise CodecError(f"{len(streams)} streams for {width} planes")
    if any(type(s) is not int or s < 0 for s in sizes) or sum(sizes) != len(payload):
        raise CodecError(f"stream sizes {sizes!r} do not match the {len(payload)}-byte payload")
    base_u8: np.ndarray | None = None
    in_place = same = False
    # a whole-element delta adds onto the base in one pass (``out`` may be the base)
    whole = isinstance(streams[0], Huffman16 | Huffman32) and native.KERNELS is not None
    if delta is not None:
        if base is None:
            raise CodecError("delta frame needs its base chunk to decode")
        base_u8 = out_u8 if base_is_out else _as_u8(base)
        if base_u8.size != raw_length:
            raise CodecError(f"base has {base_u8.size} bytes, frame expects {raw_length}")
        same = base_is_out or _same_buffer(base_u8, out_u8)
        if decay is not None:  # the delta is against the base's prediction: make it in ``out``
            if not same and np.may_share_memory(base_u8, out_u8):
                base_u8 = base_u8.copy()
            decay.apply(base_u8, out_u8)
            base_u8, same = out_u8, True
        in_place = same and rotate is None and delta.width == width
        if not in_place and not whole and np.may_share_memory(base_u8, out_u8):
            base_u8 = base_u8.copy()  # decoding overwrites ``out`` before it adds the base

    plane_len = raw_length // width
    if delta is not None and whole:
        element = 2 if isinstance(streams[0], Huffman16) else 4
        if delta.width != element or width != 1 or rotate is not None:
            raise CodecError(f"unsupported codec chain {chain_json!r}")
        assert base_u8 is not None
        if not same:
            out_u8[:] = base_u8
        streams[0].apply_into(payload, out_u8.data, delta.op)  # one pass onto the base
    elif in_place:  # ``out`` holds the base: add the joined delta planes to it in one pass
        assert delta is not None
        delta.apply_planes(_decode_planes(streams, sizes, payload, plane_len), out_u8)
    elif width == 1:
        streams[0].decode_into(payload[: sizes[0]], out_u8.data)
    else:
        planes = _decode_planes(streams, sizes, payload, plane_len)
        fused = rotate is None or rotate.width == width
        join_planes_into(planes, out_u8, width, rotate is not None and fused)
        if rotate is not None and not fused:
            rotate.decode_inplace(out_u8)
    if rotate is not None and width == 1:
        rotate.decode_inplace(out_u8)
    if delta is not None and not in_place and not whole:
        assert base_u8 is not None
        delta.decode_inplace(out_u8, base_u8)
    if verify and header.get("xxh3") != xxhash.xxh3_64_hexdigest(out_u8.data):
        raise CodecError("decoded chunk fails its checksum (corrupt frame or wrong base)")


def _same_buffer(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a.size == b.size and a.ctypes.data == b.ctypes.data)


def _decode_planes(
    streams: list[Any], sizes: list[int], payload: memoryview, plane_len: int
) -> list[np.ndarray]:
    """Each stream's plane: a view of the frame (raw) or of this thread's scratch;
    never of the caller's output buffer."""
    planes_buf = scratch("dec.planes", plane_len * len(streams))
    planes: list[np.ndarray] = []
    pos = 0
    for i, (coder, size) in enumerate(zip(streams, sizes, strict=True)):
        if isinstance(coder, Raw):  # join straight from the frame
            if size != plane_len:
                raise CodecError(f"raw plane has {size} bytes, expected {plane_len}")
            planes.append(np.frombuffer(payload[pos : pos + size], dtype=np.uint8))
        else:
            target = planes_buf[i * plane_len : (i + 1) * plane_len]
            coder.decode_into(payload[pos : pos + size], target.data)
            planes.append(target)
        pos += size
    return planes


def _decode_v1(header: dict[str, Any], payload: memoryview, raw_length: int) -> bytearray:
    codec_id = str(header.get("id"))
    if codec_id == "raw":
        out = bytearray(payload)
    elif codec_id == "zstd":
        out = bytearray(
            zstandard.ZstdDecompressor().decompress(payload, max_output_size=raw_length)
        )
    else:
        raise UnknownCodecError(codec_id)
    if len(out) != raw_length:
        raise CodecError(f"frame decoded to {len(out)} bytes, expected {raw_length}")
    return out


def decode_chunk(
    frame: bytes | bytearray | memoryview,
    dtype: str,
    raw_length: int,
    base: bytes | bytearray | memoryview | None = None,
) -> bytearray:
    out = new_raw_buffer(raw_length)
    decode_chunk_into(frame, dtype, memoryview(out), base)
    return out


def new_raw_buffer(size: int) -> bytearray:
    """A bytearray for a decode to overwrite entirely: with the kernels its bytes
    are not zeroed first (bytearray(n) memsets them)."""
    kernels = native.KERNELS
    return kernels.empty_bytearray(size) if kernels is not None else bytearray(size)


def decode_chunk_into(
    frame: bytes | bytearray | memoryview,
    dtype: str,
    out: bytearray | memoryview,
    base: bytes | bytearray | memoryview | None = None,
    *,
    verify: bool = True,
) -> None:
    """``decode_chunk`` into the caller's writable buffer of exactly the raw length.

    Saves the allocation and a copy when restoring straight into a tensor. On an
    error ``out`` holds garbage. ``base`` may be ``out`` itself (a chain step in
    place: ``out`` holds the base and the delta is added to it in one pass).
    ``verify=False`` skips the frame's own checksum, for callers that hash the
    result themselves (a chain checks only its last step: every step is a
    bijection given the delta, so a bad base or frame still fails that hash).
    """
    view = memoryview(out)
    if view.readonly:
        raise CodecError("decode_chunk_into needs a writable buffer")
    out_u8 = _as_u8(view)
    version, header, payload = framing.unpack(frame)
    try:
        if version == 1:
            out_u8[:] = np.frombuffer(_decode_v1(header, payload, out_u8.size), dtype=np.uint8)
        else:
            _decode_v2_into(header, payload, out_u8, base, verify, base is out)
    except CodecError:
        raise
    except (
        zstandard.ZstdError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        OverflowError,
        MemoryError,
    ) as exc:
        raise CodecError(f"corrupt frame: {type(exc).__name__}: {exc}") from None


def frame_codec_name(frame: bytes | bytearray | memoryview) -> str:
    """Short human name of a frame's chain, e.g. ``delta.sub>planes4>zstd-lit+raw``."""
    version, header, _ = framing.unpack(frame)
    if version == 1:
        return str(header.get("id"))
    try:
        return _chain_name(header)
    except (AttributeError, TypeError) as exc:
        raise CodecError(f"malformed frame header: {exc}") from None


def _chain_name(header: dict[str, Any]) -> str:
    parts = []
    for spec in header.get("chain", []):
        if not isinstance(spec, dict):
            raise CodecError("malformed frame header")
        if spec.get("id") == "delta":
            parts.append(f"delta.{spec.get('op')}")
        elif spec.get("id") in ("planes", "signbit"):
            parts.append(f"{spec.get('id')}{spec.get('width')}")
        else:
            parts.append(str(spec.get("id")))
    coders = []
    for spec in header.get("streams", []):
        name = str(spec.get("id")) if isinstance(spec, dict) else "?"
        if name not in coders:
            coders.append(name)
    parts.append("+".join(coders))
    return ">".join(parts)


__all__ = [
    "CodecPolicy",
    "EncodedFrame",
    "decode_chunk",
    "decode_chunk_into",
    "encode_chunk",
    "frame_codec_name",
    "new_raw_buffer",
]
