"""Two hashes, two jobs.

- ``raw_hash``: xxh3-128 of a chunk's raw bytes, checked on every read (far
  faster than decoding, so verification is never the bottleneck). It guards against corruption,
  not adversaries.
- ``blob_key``: BLAKE3-256 of the encoded frame, the content address. Being
  cryptographic, two different frames never share a key, across swarms too.
"""

from __future__ import annotations

import blake3
import xxhash


def raw_hash(data: bytes | bytearray | memoryview) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def blob_key(frame: bytes | bytearray | memoryview) -> str:
    return blake3.blake3(frame).hexdigest()
