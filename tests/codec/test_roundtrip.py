"""Round trips of every dtype and policy, full frames and deltas."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmstore.codec import (
    CodecPolicy,
    Compression,
    decode_chunk,
    decode_chunk_into,
    encode_chunk,
    frame_codec_name,
)
from swarmstore.dtypes import DTYPES
from swarmstore.errors import CodecError

POLICIES: list[Compression] = ["auto", "max", "fast", "none"]
FAST = settings(deadline=None, max_examples=60)


@st.composite
def chunks(draw: st.DrawFn, dtype: str | None = None) -> tuple[str, bytes]:
    """(dtype, raw bytes): random bits, a few repeated bit patterns, or zeros; up
    to 300 elements, or (generated from a drawn seed) just over the 8 KiB up to
    which a full frame is one zstd stream, so planes and their coders run too."""
    name = dtype or draw(st.sampled_from(sorted(DTYPES)))
    width = DTYPES[name].itemsize
    shape = draw(st.sampled_from(["random", "palette", "zeros"]))
    if draw(st.integers(0, 3)) == 0:
        n = 8192 // width + draw(st.integers(1, 64))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        if shape == "random":
            return name, rng.bytes(n * width)
        if shape == "palette":
            palette = rng.integers(0, 256, (draw(st.integers(1, 4)), width), dtype=np.uint8)
            return name, palette[rng.integers(0, len(palette), n)].tobytes()
        return name, bytes(n * width)
    n = draw(st.integers(0, 300))
    if shape == "random":
        raw = draw(st.binary(min_size=n * width, max_size=n * width))
    elif shape == "palette":
        palette = draw(st.lists(st.binary(min_size=width, max_size=width), min_size=1, max_size=4))
        picks = draw(st.lists(st.integers(0, len(palette) - 1), min_size=n, max_size=n))
        raw = b"".join(palette[i] for i in picks)
    else:
        raw = bytes(n * width)
    return name, raw


def _mutate(raw: bytes, width: int, data: st.DataObject) -> bytes:
    out = bytearray(raw)
    n = len(raw) // width
    for _ in range(data.draw(st.integers(0, min(n, 20)))):
        i = data.draw(st.integers(0, n - 1))
        out[i * width : (i + 1) * width] = data.draw(st.binary(min_size=width, max_size=width))
    return bytes(out)


@FAST
@given(chunk=chunks(), policy=st.sampled_from(POLICIES))
def test_full_round_trip(chunk: tuple[str, bytes], policy: Compression) -> None:
    dtype, raw = chunk
    encoded = encode_chunk(raw, dtype, CodecPolicy(policy))
    assert not encoded.is_delta
    out = decode_chunk(encoded.frame, dtype, len(raw))
    assert isinstance(out, bytearray) and out == raw
    assert frame_codec_name(encoded.frame)


@FAST
@given(chunk=chunks(), policy=st.sampled_from(POLICIES), data=st.data())
def test_delta_round_trip(
    chunk: tuple[str, bytes], policy: Compression, data: st.DataObject
) -> None:
    dtype, base = chunk
    width = DTYPES[dtype].itemsize
    if data.draw(st.booleans()):
        target = _mutate(base, width, data)
    elif len(base) <= 4096:
        target = data.draw(st.binary(min_size=len(base), max_size=len(base)))
    else:
        target = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).bytes(len(base))
    encoded = encode_chunk(target, dtype, CodecPolicy(policy), base=base)
    out = decode_chunk(encoded.frame, dtype, len(target), base=base if encoded.is_delta else None)
    assert out == target


@FAST
@given(chunk=chunks(), policy=st.sampled_from(POLICIES), data=st.data())
def test_delta_applied_in_place_over_its_base(
    chunk: tuple[str, bytes], policy: Compression, data: st.DataObject
) -> None:
    """A restore decodes the base into the tensor's slot, then adds the delta there:
    the same bytes as decoding into a fresh buffer."""
    dtype, base = chunk
    target = _mutate(base, DTYPES[dtype].itemsize, data)
    encoded = encode_chunk(target, dtype, CodecPolicy(policy), base=base)
    slot = bytearray(base)
    decode_chunk_into(encoded.frame, dtype, slot, base=slot if encoded.is_delta else None)
    assert slot == target


def test_in_place_chain_step_with_a_wrong_base_fails_only_when_verified() -> None:
    rng = np.random.default_rng(3)
    base = rng.standard_normal(4096).astype(np.float32)
    target = (base + np.float32(1e-3)).tobytes()
    encoded = encode_chunk(target, "float32", CodecPolicy(), base=base.tobytes())
    assert encoded.is_delta
    wrong = bytearray((base * 2).tobytes())
    with pytest.raises(CodecError, match="checksum"):
        decode_chunk_into(encoded.frame, "float32", wrong, base=wrong)
    unchecked = bytearray((base * 2).tobytes())
    decode_chunk_into(encoded.frame, "float32", unchecked, base=unchecked, verify=False)
    assert unchecked != target  # the caller's own hash of the result must catch it


def _special(dtype: str) -> np.ndarray:
    np_dtypes: dict[str, type[np.floating[Any]]] = {
        "float16": np.float16,
        "float32": np.float32,
        "float64": np.float64,
    }
    np_dtype = np_dtypes[dtype]
    uint = {"float16": np.uint16, "float32": np.uint32, "float64": np.uint64}[dtype]
    info = np.finfo(np_dtype)
    values = np.array(
        [
            0.0,
            -0.0,
            np.inf,
            -np.inf,
            np.nan,
            info.tiny,
            info.tiny / 4,
            -info.smallest_subnormal,
            info.max,
            1.0,
        ],
        dtype=np_dtype,
    )
    bits = values.view(uint).copy()
    nan_payloads = (bits[4] | np.arange(1, 9, dtype=uint)).astype(uint)  # NaNs with payloads
    return np.concatenate([bits, nan_payloads, ~bits]).view(np.uint8)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("policy", POLICIES)
def test_special_values(dtype: str, policy: Compression) -> None:
    raw = np.tile(_special(dtype), 500).tobytes()
    base = np.roll(np.frombuffer(raw, np.uint8), DTYPES[dtype].itemsize).tobytes()
    for b in (None, base):
        encoded = encode_chunk(raw, dtype, CodecPolicy(policy), base=b)
        assert decode_chunk(encoded.frame, dtype, len(raw), base=b) == raw


@pytest.mark.parametrize(
    "dtype", ["bfloat16", "float32", "float16", "float64", "complex64", "int64"]
)
@pytest.mark.parametrize("policy", POLICIES)
def test_large_smooth_chunk(dtype: str, policy: Compression) -> None:
    """Big enough to exercise sampling windows; a realistic fine-tuning step as base."""
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    tdt = getattr(torch, dtype)
    if dtype == "int64":
        w = torch.randint(-1000, 1000, (200_000,), generator=gen)
        step = w + torch.randint(-2, 3, w.shape, generator=gen)
    else:
        w32 = torch.randn(200_000, generator=gen) * 0.05
        w = w32.to(tdt)
        step = (w32 - 2e-5 * torch.sign(torch.randn(200_000, generator=gen))).to(tdt)
    base = w.contiguous().view(torch.uint8).numpy().tobytes()
    raw = step.contiguous().view(torch.uint8).numpy().tobytes()
    full = encode_chunk(raw, dtype, CodecPolicy(policy))
    assert decode_chunk(full.frame, dtype, len(raw)) == raw
    if policy != "none" and dtype != "int64":
        assert len(full.frame) < len(raw)
    delta = encode_chunk(raw, dtype, CodecPolicy(policy), base=base)
    assert decode_chunk(delta.frame, dtype, len(raw), base=base) == raw
    assert len(delta.frame) <= len(full.frame) * 1.05


def test_identical_and_empty_chunks() -> None:
    raw = np.arange(10_000, dtype=np.float32).tobytes()
    for policy in POLICIES:
        encoded = encode_chunk(raw, "float32", CodecPolicy(policy), base=raw)
        assert decode_chunk(encoded.frame, "float32", len(raw), base=raw) == raw
        empty = encode_chunk(b"", "bfloat16", CodecPolicy(policy), base=b"")
        assert decode_chunk(empty.frame, "bfloat16", 0, base=b"") == bytearray()


def test_chain_of_50_deltas() -> None:
    rng = np.random.default_rng(1)
    weights = (rng.standard_normal(50_000) * 0.05).astype(np.float32)
    versions = [weights.tobytes()]
    for _ in range(50):
        weights = weights - np.float32(2e-5) * np.sign(rng.standard_normal(weights.size)).astype(
            np.float32
        )
        versions.append(weights.tobytes())
    frames = [
        encode_chunk(v, "float32", CodecPolicy(), base=p) for p, v in itertools.pairwise(versions)
    ]
    assert all(f.is_delta for f in frames)
    restored = bytes(
        decode_chunk(
            encode_chunk(versions[0], "float32", CodecPolicy()).frame, "float32", len(versions[0])
        )
    )
    for frame in frames:
        restored = bytes(decode_chunk(frame.frame, "float32", len(restored), base=restored))
    assert restored == versions[-1]


def test_accepts_memoryview_and_bytearray() -> None:
    arr = np.linspace(-1, 1, 4096, dtype=np.float32)
    for buf in (arr.data, bytearray(arr.tobytes()), memoryview(arr.tobytes())):
        encoded = encode_chunk(buf, "float32", CodecPolicy())
        assert decode_chunk(memoryview(encoded.frame), "float32", arr.nbytes) == arr.tobytes()
