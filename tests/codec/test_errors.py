"""Malformed frames are CodecErrors, never wrong bytes or a foreign exception."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmstore.codec import (
    CodecPolicy,
    Compression,
    decode_chunk,
    encode_chunk,
    frame_codec_name,
)
from swarmstore.errors import CodecError, UnknownCodecError

RAW = (np.random.default_rng(0).standard_normal(3000) * 0.05).astype(np.float32).tobytes()
BASE = (np.frombuffer(RAW, np.float32) + np.float32(1e-4)).tobytes()


def _rewrite_header(frame: bytes, edit: object) -> bytes:
    (head_len,) = struct.unpack("<I", frame[4:8])
    header = json.loads(frame[8 : 8 + head_len])
    edit(header)  # type: ignore[operator]
    head = json.dumps(header).encode()
    return frame[:4] + struct.pack("<I", len(head)) + head + frame[8 + head_len :]


@pytest.mark.parametrize("where", ["streams", "chain"])
def test_unknown_codec_id_is_named(where: str) -> None:
    frame = encode_chunk(RAW, "float32", CodecPolicy()).frame

    def edit(header: dict) -> None:  # type: ignore[type-arg]
        header[where][0]["id"] = "brotli-9000"

    with pytest.raises(UnknownCodecError) as info:
        decode_chunk(_rewrite_header(frame, edit), "float32", len(RAW))
    assert info.value.codec_id == "brotli-9000"
    assert "brotli-9000" in str(info.value)


def test_delta_without_base() -> None:
    encoded = encode_chunk(BASE, "float32", CodecPolicy(), base=RAW)
    assert encoded.is_delta
    with pytest.raises(CodecError, match="base"):
        decode_chunk(encoded.frame, "float32", len(RAW))
    with pytest.raises(CodecError):
        decode_chunk(encoded.frame, "float32", len(RAW), base=RAW[:-4])
    with pytest.raises(CodecError):  # wrong base: the checksum catches it
        decode_chunk(encoded.frame, "float32", len(RAW), base=BASE)


def test_wrong_length() -> None:
    frame = encode_chunk(RAW, "float32", CodecPolicy()).frame
    with pytest.raises(CodecError):
        decode_chunk(frame, "float32", len(RAW) - 4)


@pytest.mark.parametrize("policy", ["auto", "fast", "none"])
def test_every_truncation(policy: Compression) -> None:
    frame = encode_chunk(RAW[:800], "float32", CodecPolicy(policy)).frame
    for cut in range(len(frame)):
        with pytest.raises(CodecError):
            decode_chunk(frame[:cut], "float32", 800)
    with pytest.raises(CodecError):
        decode_chunk(frame + b"\0", "float32", 800)


@settings(deadline=None, max_examples=300)
@given(policy=st.sampled_from(["auto", "fast", "none"]), delta=st.booleans(), data=st.data())
def test_garbled_frames(policy: Compression, delta: bool, data: st.DataObject) -> None:
    base = BASE if delta else None
    frame = bytearray(encode_chunk(RAW, "float32", CodecPolicy(policy), base=base).frame)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(frame) - 1))
        frame[i] ^= data.draw(st.integers(1, 255))
    try:
        out = decode_chunk(bytes(frame), "float32", len(RAW), base=base)
    except CodecError:
        return
    assert out == RAW  # a flip in e.g. unused header whitespace may be harmless


def test_not_a_frame() -> None:
    for junk in (b"", b"SWC", b"hello world, not a frame", b"SWC\x09" + bytes(20)):
        with pytest.raises(CodecError):
            decode_chunk(junk, "float32", 4)
        with pytest.raises(CodecError):
            frame_codec_name(junk)


def test_placeholder_frames_still_decode() -> None:
    import zstandard

    head = json.dumps({"id": "zstd"}, separators=(",", ":"), sort_keys=True).encode()
    frame = b"SWC1" + struct.pack("<H", len(head)) + head + zstandard.ZstdCompressor().compress(RAW)
    assert decode_chunk(frame, "float32", len(RAW)) == RAW
    assert frame_codec_name(frame) == "zstd"


@pytest.mark.parametrize("coder", ["zstd", "zstd-lit"])
def test_zstd_stream_must_fill_its_plane_exactly(coder: str) -> None:
    """A zstd plane decodes straight into its buffer: a stream holding fewer or
    more bytes than the plane, a second frame after it, or garbage, is a
    CodecError naming the size, never a silently short or overrun plane."""
    from swarmstore.codec.coders import Zstd, ZstdLiterals

    stream = Zstd(3) if coder == "zstd" else ZstdLiterals()
    plane = bytes(range(256)) * 8
    packed = stream.encode(memoryview(plane))
    out = bytearray(len(plane))
    stream.decode_into(memoryview(packed), memoryview(out))
    assert out == plane
    for bad, size in (
        (packed, len(plane) - 1),
        (packed, len(plane) + 1),
        (packed + packed, len(plane)),
        (packed[:-3], len(plane)),
        (b"\x28\xb5\x2f\xfd" + bytes(12), len(plane)),
        (packed, 0),
        (stream.encode(memoryview(b""))[:4], 0),  # an empty plane's frame, cut short
    ):
        with pytest.raises(CodecError, match="zstd stream"):
            stream.decode_into(memoryview(bad), memoryview(bytearray(size)))
