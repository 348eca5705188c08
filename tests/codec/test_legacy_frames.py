"""Frames written by an earlier swarmstore still decode bit-exactly.

``fixtures/legacy_frames_v2.json`` holds frames produced by the codec at commit
026c630 (frame version 2: signbit/planes/delta chains with raw, zstd and
zstd-lit streams) for every float policy, full and delta, plus int64. New codec
names may be added; the meaning of these must never change.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from swarmstore.codec import decode_chunk, decode_chunk_into, frame_codec_name

CASES = json.loads((Path(__file__).parent / "fixtures" / "legacy_frames_v2.json").read_text())[
    "cases"
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['dtype']}-{c['policy']}-{c['name']}")
def test_legacy_frame_decodes(case: dict[str, str | None]) -> None:
    raw = base64.b64decode(str(case["raw"]))
    frame = base64.b64decode(str(case["frame"]))
    base = base64.b64decode(case["base"]) if case["base"] is not None else None
    dtype = str(case["dtype"])
    assert frame_codec_name(frame) == case["name"]
    assert decode_chunk(frame, dtype, len(raw), base=base) == raw
    out = bytearray(len(raw))
    decode_chunk_into(frame, dtype, memoryview(out), base=base)
    assert out == raw


def test_fixture_covers_every_legacy_chain() -> None:
    names = {c["name"] for c in CASES}
    for part in ("signbit2>planes2", "signbit4>planes4", "planes4>", "delta.sub>", "zstd-lit"):
        assert any(part in n for n in names), part
