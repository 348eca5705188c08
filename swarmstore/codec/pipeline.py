"""Running the codec chain for one chunk.

Encode: [delta] -> planes -> one stream coder per plane, as ``choose`` picks
them from samples. Decode follows the chain the frame header names, writing
into one bytearray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xxhash
import zstandard

from swarmstore.codec import choose, native
from swarmstore.codec import frame as framing
from swarmstore.codec.coders import Raw, Zstd
from swarmstore.codec.decay import Decay
from swarmstore.codec.delta import Delta
from swarmstore.codec.huffman import Huffman16, Huffman32, h32_size, h32_token_counts
from swarmstore.codec.planes import BytePlanes, join_planes_into, split_into
from swarmstore.codec.registry import codec_from_json, codec_to_json
from swarmstore.codec.scratch import scratch
from swarmstore.codec.signbit import SignBitLast
from swarmstore.errors import CodecError, UnknownCodecError

Compression = Literal["auto", "max", "fast", "none"]
_COMPRESSIONS = ("auto", "max", "fast", "none")


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


# ---------------------------------------------------------------- encode


def _encode_plane(
    plane: np.ndarray, sample: np.ndarray, policy: str, floating: bool, delta: bool = False
) -> tuple[Any, bytes | memoryview]:
    """The smallest of ``choose``'s coders for ``plane`` (raw if none is smaller)."""
    view = plane.data
    best: tuple[Any, bytes | memoryview] = (Raw(), view)
    if plane.size == 0:
        return best
    for coder in choose.plane_coders(sample, policy, floating, delta):
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
    samples = [choose.plane_sample(p) for p in planes]
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


def _encode_full(
    data: np.ndarray, width: int, policy: str, floating: bool
) -> tuple[list[Any], list[Any], list[Any]]:
    rotate = floating and choose.rotates(width, policy)
    return _encode_with(data, [], width, policy, floating, rotate)


def _encode_small(data: np.ndarray) -> tuple[list[Any], list[Any], list[Any]]:
    """A tiny chunk (a bias, a norm) as one zstd stream."""
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
    if choose.is_small(n, mode, base is not None):
        return _frame(n, digest, _encode_small(data))
    plane_width, _, floating = choose.widths(dtype, n)
    if base is None:
        return _frame(n, digest, _encode_full(data, plane_width, mode, floating))

    base_u8 = _as_u8(base)
    if base_u8.size != n:
        raise CodecError(f"base has {base_u8.size} bytes, chunk has {n}")
    plan = choose.delta_plan(data, base_u8, dtype, plane_width, mode)
    best: EncodedFrame | None = None
    for option in plan.tried:
        f = _encode_delta(n, digest, data, base_u8, option, floating, mode)
        if best is None or len(f.frame) < len(best.frame):
            best = f
    assert best is not None
    if plan.skip_full:
        return best
    full = _frame(n, digest, _encode_full(data, plane_width, mode, floating))
    return best if len(best.frame) < len(full.frame) else full


def _encode_delta(
    n: int,
    digest: str,
    data: np.ndarray,
    base: np.ndarray,
    option: choose.DeltaOption,
    floating: bool,
    mode: str,
) -> EncodedFrame:
    """``data`` as one of ``choose``'s delta options against ``base``."""
    codec = Delta(option.op, option.width)
    decay: Decay | None = option.decay
    chain: list[Any] = [codec] if decay is None else [decay, codec]
    delta = codec.encode(data, base if decay is None else decay.predicted(base))
    whole = choose.whole_delta_width(option.width, floating, mode)
    if whole == 2:
        return _encode_delta16(n, digest, chain, delta, option.estimate)
    if whole == 4:
        return _encode_delta32(n, digest, chain, delta, option.estimate)
    return _frame(n, digest, _encode_with(delta, chain, option.width, mode, True), is_delta=True)


def _encode_delta16(
    n: int, digest: str, chain: list[Any], delta: np.ndarray, estimate: float
) -> EncodedFrame:
    """A 2-byte float delta as ``huff16`` when that is close to its byte-plane
    coding (checked first against the sample's order-0 estimate of that, which
    saves encoding the planes when it is clear), else as planes."""
    whole = Huffman16().encode(delta.data)
    if not choose.huff16_close(len(whole), estimate, n) and not _close_on_sample(delta, chain):
        planes = _frame(n, digest, _encode_with(delta, chain, 2, "auto", True), is_delta=True)
        if not choose.huff16_close(len(whole), len(planes.frame), n):
            return planes
    encoded = ([codec_to_json(c) for c in chain], [codec_to_json(Huffman16())], [whole])
    return _frame(n, digest, encoded, is_delta=True)


def _encode_delta32(
    n: int, digest: str, chain: list[Any], delta: np.ndarray, estimate: float
) -> EncodedFrame:
    """A 4-byte float delta as ``huff32`` when few of its elements need raw bits
    (where its decoder beats the byte planes') and its exact size, known from the
    token counts before encoding, is close to the planes' (their sample estimate
    first, their encoding when that is not clear)."""
    counts = h32_token_counts(delta)
    size, lengths = h32_size(counts, n // 4)

    def as_planes() -> EncodedFrame:
        return _frame(n, digest, _encode_with(delta, chain, 4, "auto", True), is_delta=True)

    if choose.huff32_rejected(counts, n):
        return as_planes()
    if not choose.huff32_close(size, estimate, n):
        planes = as_planes()
        if not choose.huff32_close(size, len(planes.frame), n):
            return planes
    whole = Huffman32().encode_counted(delta, lengths)
    encoded = ([codec_to_json(c) for c in chain], [codec_to_json(Huffman32())], [whole])
    return _frame(n, digest, encoded, is_delta=True)


def _close_on_sample(delta: np.ndarray, chain: list[Any]) -> bool:
    """``choose.huff16_close`` on the sampled windows of a big 2-byte delta."""
    sample = choose.huff16_trial_sample(delta)
    if sample is None:
        return False
    as_planes = sum(len(p) for p in _encode_with(sample, chain, 2, "auto", True)[2])
    return choose.huff16_close(len(Huffman16().encode(sample.data)), as_planes, sample.size)


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
