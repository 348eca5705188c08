"""Frames written by an earlier swarmstore still decode bit-exactly.

``fixtures/legacy_frames_v2.json`` holds frames produced by the codec at commit
026c630 (frame version 2: signbit/planes/delta chains with raw, zstd and
zstd-lit streams) for every float policy, full and delta, plus int64;
``legacy_frames_v2_huff.json`` adds deltas with the ``huff`` and ``huff16``
coders. New codec names may be added; the meaning of these must never change.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from swarmstore.codec import decode_chunk, decode_chunk_into, frame_codec_name

FIXTURES = Path(__file__).parent / "fixtures"
CASES = json.loads((FIXTURES / "legacy_frames_v2.json").read_text())["cases"]
# frames with the huff (byte plane) and huff16 (whole 2-byte delta) coders, commit 372e576
HUFF_CASES = json.loads((FIXTURES / "legacy_frames_v2_huff.json").read_text())["cases"]


@pytest.mark.parametrize(
    "case", CASES + HUFF_CASES, ids=lambda c: f"{c['dtype']}-{c['policy']}-{c['name']}"
)
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


@pytest.mark.parametrize("case", HUFF_CASES, ids=lambda c: f"{c['dtype']}-{c['name']}")
def test_huff_frames_decode_without_kernels(
    case: dict[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host without the C kernels reads them through the Python twins."""
    from swarmstore.codec import native

    monkeypatch.setattr(native, "KERNELS", None)
    raw = base64.b64decode(str(case["raw"]))
    base = base64.b64decode(str(case["base"]))
    assert (
        decode_chunk(base64.b64decode(str(case["frame"])), str(case["dtype"]), len(raw), base)
        == raw
    )


def test_huff_fixture_covers_both_coders() -> None:
    names = {c["name"] for c in HUFF_CASES}
    assert any(n.endswith(">huff16") for n in names)
    assert any("planes4>" in n and "huff" in n.split(">")[-1].split("+") for n in names)
