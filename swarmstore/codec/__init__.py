"""Lossless tensor codec: raw chunk bytes <-> self-describing frames.

CONTRACT used by ``swarmstore.models`` (keep these names and meanings):

- ``CodecPolicy``: compression ("auto" | "max" | "fast" | "none"), threads.
- ``encode_chunk(raw, dtype, policy, base=None) -> EncodedFrame``: encode one
  chunk of a tensor's raw bytes. With ``base`` (the same chunk of the parent
  version, same dtype and length) the codec may return a delta frame; it returns
  whichever of delta / full frame is smaller. ``EncodedFrame.is_delta`` tells
  the caller whether decoding needs the base.
- ``decode_chunk(frame, dtype, raw_length, base=None) -> bytearray``: inverse;
  raises ``UnknownCodecError`` naming an unknown codec id, ``CodecError`` for a
  malformed frame, and ``CodecError`` when a delta frame is given no base.
- ``decode_chunk_into(frame, dtype, out, base=None) -> None``: the same, into
  the caller's writable buffer (``len(out)`` is the raw length); no allocation.
- ``new_raw_buffer(size) -> bytearray``: an output buffer a decode overwrites
  whole (not zeroed first).
- ``frame_codec_name(frame) -> str``: a short name of the frame's codec chain,
  recorded in the manifest for humans and stats.

Frames describe themselves (a header naming the codec chain and its config), so
any later swarmstore can decode what an earlier one wrote.

Modules, one transform each (zarr-style: registered id + JSON config):

- ``delta``: ``Delta(op="sub"|"xor", width)`` against the parent chunk;
- ``decay``: ``Decay(factor, steps)`` before a 4-byte ``sub`` delta: the base
  as AdamW's weight decay would leave it (``factor`` applied ``steps`` times,
  float32 rounding each), so parameters no gradient touched delta to zero;
- ``planes``: ``BytePlanes(width)`` byte-plane split of floating elements;
- ``coders``: per-plane stream coders ``raw``, ``zstd``, ``zstd-lit``
  (huffman-only zstd), ``lz4``; ``nibbles``: ``nibpairs`` (exponent bytes as
  4-bit codes, two per byte, then huffman); ``huffman``: ``huff`` (a plane as
  Huffman codes with runs of its commonest byte, decoded several bytes per
  table lookup), ``huff16`` and ``huff32`` (a 2- or 4-byte float delta coded
  whole -- small values, zero runs, escapes -- restored in one fused pass onto
  its base) -- delta coders chosen because they decode fast: restoring a delta
  should cost little more than its keyframe;
- ``frame``: frame layout and versioning; ``registry``: id -> class;
- ``choose``: which layout, delta and coders a chunk gets (from samples);
  ``pipeline``: encode/decode of one chunk with them.

Speed: the byte transforms (plane split/join with sign rotation, nibble
packing, delta) run as single-pass C kernels (``_kernels.c``, an optional
extension built by ``pip install``) or, where it did not build, as their numpy
twins; the frames are byte-identical either way (``native``), except that
only a host with the kernels writes ``huff``/``huff16``/``huff32`` (their fast decoders
are C; the Python twins decode them, slowly).

Every frame carries an xxh3 checksum of the raw chunk, so a garbled frame or a
wrong base is a ``CodecError``, never silently wrong bytes. Encode and decode
are safe to call from many threads at once; the heavy work (numpy, zstd)
releases the GIL.
"""

from __future__ import annotations

from swarmstore.codec import coders as coders  # registers the stream coders
from swarmstore.codec.pipeline import (
    CodecPolicy,
    Compression,
    EncodedFrame,
    decode_chunk,
    decode_chunk_into,
    encode_chunk,
    frame_codec_name,
    new_raw_buffer,
)

__all__ = [
    "CodecPolicy",
    "Compression",
    "EncodedFrame",
    "decode_chunk",
    "decode_chunk_into",
    "encode_chunk",
    "frame_codec_name",
    "new_raw_buffer",
]
