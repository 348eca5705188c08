"""Lossless tensor codec: raw chunk bytes <-> self-describing frames.

CONTRACT used by ``swarmstore.checkpoints`` (keep these names and meanings):

- ``CodecPolicy``: compression ("auto" | "max" | "fast" | "none"), threads.
- ``encode_chunk(raw, dtype, policy, base=None) -> EncodedFrame``: encode one
  chunk of a tensor's raw bytes. With ``base`` (the same chunk of the parent
  version, same dtype and length) the codec may return a delta frame; it returns
  whichever of delta / full frame is smaller. ``EncodedFrame.is_delta`` tells
  the caller whether decoding needs the base.
- ``decode_chunk(frame, dtype, raw_length, base=None) -> bytearray``: inverse;
  raises ``UnknownCodecError`` naming an unknown codec id, ``CodecError`` for a
  malformed frame, and ``CodecError`` when a delta frame is given no base.
- ``frame_codec_name(frame) -> str``: a short name of the frame's codec chain,
  recorded in the manifest for humans and stats.

Frames describe themselves (a header naming the codec chain and its config), so
any later swarmstore can decode what an earlier one wrote.

This placeholder (zstd only) is replaced by the byte-plane / entropy / delta
codec of issue 3; the contract above stays.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Literal

import zstandard

from swarmstore.errors import CodecError, UnknownCodecError

Compression = Literal["auto", "max", "fast", "none"]
_MAGIC = b"SWC1"


@dataclass(frozen=True, slots=True)
class CodecPolicy:
    compression: Compression = "auto"
    threads: int = 0  # 0: all cores


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    frame: bytes
    is_delta: bool


def _pack(header: dict[str, object], payload: bytes) -> bytes:
    head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    return _MAGIC + struct.pack("<H", len(head)) + head + payload


def _unpack(frame: bytes | memoryview) -> tuple[dict[str, object], memoryview]:
    view = memoryview(frame)
    if len(view) < 6 or bytes(view[:4]) != _MAGIC:
        raise CodecError("not a swarmstore frame (bad magic)")
    (head_len,) = struct.unpack("<H", view[4:6])
    try:
        header = json.loads(bytes(view[6 : 6 + head_len]))
    except ValueError as exc:
        raise CodecError(f"malformed frame header: {exc}") from None
    return header, view[6 + head_len :]


def encode_chunk(
    raw: bytes | memoryview,
    dtype: str,
    policy: CodecPolicy,
    base: bytes | memoryview | None = None,
) -> EncodedFrame:
    data = bytes(raw)
    if policy.compression != "none":
        packed = zstandard.ZstdCompressor(level=3).compress(data)
        if len(packed) < len(data):
            return EncodedFrame(_pack({"id": "zstd"}, packed), False)
    return EncodedFrame(_pack({"id": "raw"}, data), False)


def decode_chunk(
    frame: bytes | memoryview,
    dtype: str,
    raw_length: int,
    base: bytes | memoryview | None = None,
) -> bytearray:
    header, payload = _unpack(frame)
    codec_id = str(header.get("id"))
    if codec_id == "raw":
        out = bytearray(payload)
    elif codec_id == "zstd":
        out = bytearray(zstandard.ZstdDecompressor().decompress(payload, max_output_size=raw_length))
    else:
        raise UnknownCodecError(codec_id)
    if len(out) != raw_length:
        raise CodecError(f"frame decoded to {len(out)} bytes, expected {raw_length}")
    return out


def frame_codec_name(frame: bytes | memoryview) -> str:
    header, _ = _unpack(frame)
    return str(header.get("id"))
