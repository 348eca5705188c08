"""What the codec picks for a delta plane when restore time is at stake, besides bytes."""

from __future__ import annotations

from typing import Any

import numpy as np

from swarmstore.codec import CodecPolicy, decode_chunk, encode_chunk
from swarmstore.codec import frame as framing
from swarmstore.codec.delta import Delta


def _streams(frame: bytes) -> list[str]:
    header: dict[str, Any] = framing.unpack(frame)[1]
    return [str(s["id"]) for s in header["streams"]]


def _step(elements: int, seed: int, ulps: float) -> tuple[bytes, bytes]:
    """fp32 (base, target): every element moved by ~N(0, ``ulps``) units in the
    last place, as a fine-tuning step moves a dense layer."""
    rng = np.random.default_rng(seed)
    base = (rng.standard_normal(elements) * 0.05).astype(np.float32)
    moved = np.rint(rng.standard_normal(elements) * ulps).astype(np.int64)
    target = (base.view(np.uint32).astype(np.int64) + moved).astype(np.uint32)
    return base.tobytes(), target.tobytes()


def _second_byte_entropy(base: bytes, target: bytes) -> float:
    """Bits per byte of the second byte plane of the zigzag ``sub`` delta."""
    as_u8 = (np.frombuffer(b, np.uint8) for b in (target, base))
    plane = Delta("sub", 4).encode(*as_u8).reshape(-1, 4)[:, 1]
    p = np.bincount(plane, minlength=256) / plane.size
    return float(-(p[p > 0] * np.log2(p[p > 0])).sum())


def test_a_near_random_delta_plane_stays_raw_under_auto_not_under_max() -> None:
    """A step's second byte at ~7.5 bits/byte (a dense fp32 chunk 3+ steps from
    its keyframe): zstd's literal coder saves ~5 % of that plane and decodes
    slower than the whole keyframe chunk, so "auto" keeps it raw; "max" codes it."""
    base, target = _step(64 * 1024, seed=3, ulps=11_000)
    assert 7.2 < _second_byte_entropy(base, target) < 7.9
    auto = encode_chunk(target, "float32", CodecPolicy("auto"), base=base)
    smallest = encode_chunk(target, "float32", CodecPolicy("max"), base=base)
    assert auto.is_delta and smallest.is_delta
    assert _streams(auto.frame)[:2] == ["raw", "raw"]
    assert _streams(smallest.frame)[1] != "raw"
    assert len(smallest.frame) < len(auto.frame) <= 1.1 * len(smallest.frame)
    for encoded in (auto, smallest):
        assert decode_chunk(encoded.frame, "float32", len(target), base=base) == target


def test_a_delta_plane_well_below_random_is_still_coded_under_auto() -> None:
    """A step's second byte at ~6.5 bits/byte (a 1-step delta): worth ~20 % of the plane."""
    base, target = _step(64 * 1024, seed=4, ulps=5_000)
    assert 6 < _second_byte_entropy(base, target) < 7
    auto = encode_chunk(target, "float32", CodecPolicy("auto"), base=base)
    assert auto.is_delta and _streams(auto.frame)[1] != "raw"
    assert decode_chunk(auto.frame, "float32", len(target), base=base) == target
