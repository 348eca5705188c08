"""Frame layout: magic, version, a JSON header naming the codec chain, payload.

::

    b"SWC" | version (1 byte) | header length (u32 LE) | JSON header | payload

Version 2 header (keys sorted, compact JSON)::

    {"len": raw length, "xxh3": 64-bit xxh3 of the raw bytes (hex),
     "chain": [transform, ...]   # e.g. {"id":"delta","op":"sub","width":2},
                                 #      {"id":"planes","width":2}
     "streams": [coder, ...]     # one per plane, e.g. {"id":"zstd-lit"}, {"id":"raw"}
     "sizes": [bytes, ...]}      # encoded length of each stream, in payload order

New codecs get new names inside version 2 (e.g. ``nibpairs``, added after
``tests/codec/fixtures/legacy_frames_v2.json`` was written); an older reader
then fails with ``UnknownCodecError`` naming it, never with wrong bytes.

Version 1 (the placeholder codec) is still read: ``{"id": "raw" | "zstd"}``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from swarmstore.errors import CodecError

MAGIC = b"SWC"
VERSION = 2
_PREFIX = struct.Struct("<3sBI")


def pack(header: dict[str, Any], payloads: list[bytes | memoryview]) -> bytes:
    head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    return b"".join([_PREFIX.pack(MAGIC, VERSION, len(head)), head, *payloads])


def unpack(frame: bytes | bytearray | memoryview) -> tuple[int, dict[str, Any], memoryview]:
    """-> (version, header, payload view); raises ``CodecError`` if malformed."""
    view = memoryview(frame).cast("B")
    if len(view) >= 6 and bytes(view[:4]) == b"SWC1":  # placeholder codec's frames
        (head_len,) = struct.unpack("<H", view[4:6])
        start = 6
        version = 1
    else:
        if len(view) < _PREFIX.size:
            raise CodecError(f"frame too short ({len(view)} bytes)")
        magic, version, head_len = _PREFIX.unpack(view[: _PREFIX.size])
        if magic != MAGIC:
            raise CodecError("not a swarmstore frame (bad magic)")
        if version != VERSION:
            raise CodecError(f"unsupported frame version {version}")
        start = _PREFIX.size
    if start + head_len > len(view):
        raise CodecError("frame truncated inside its header")
    try:
        header = json.loads(bytes(view[start : start + head_len]))
    except ValueError as exc:
        raise CodecError(f"malformed frame header: {exc}") from None
    if not isinstance(header, dict):
        raise CodecError("malformed frame header: not an object")
    return version, header, view[start + head_len :]
