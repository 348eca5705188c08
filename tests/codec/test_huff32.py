"""The ``huff32`` coder (fp32 deltas coded whole): C decoder == Python twin ==
input for any 4-byte elements, the fused restore adds them onto the base, bad
streams raise without writing outside the output, and the codec picks it for
the deltas it decodes faster (few elements needing raw bits)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmstore.codec import huffman
from swarmstore.codec.delta import Delta
from swarmstore.codec.huffman import Huffman32, _h32_parts, _unpack_lengths, decode32_python
from swarmstore.codec.native import KERNELS
from swarmstore.errors import CodecError

FAST = settings(deadline=None, max_examples=80)
native = pytest.mark.skipif(KERNELS is None, reason="C kernels not built")


@st.composite
def deltas32(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """(base, delta) of 4-byte elements: zero runs, small values, every bit
    length up to 32 (the class escapes), or random bits."""
    n = draw(st.integers(0, 3000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = draw(st.sampled_from(["random", "classes", "small", "mixed"]))
    if shape == "random":
        z = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype("<u4")
    else:
        bits = rng.integers(0, 33, n)
        wide = rng.integers(0, 1 << 32, n, dtype=np.uint64) >> (32 - bits).astype(np.uint64)
        small = rng.geometric(0.2, n) % 223
        p_small = {"classes": 0.0, "small": 0.97, "mixed": 0.6}[shape]
        z = np.where(rng.random(n) < p_small, small, wide).astype("<u4")
        z[rng.random(n) < draw(st.floats(0.0, 0.9))] = 0
    if n and draw(st.booleans()):
        start = int(rng.integers(0, n))
        z[start : start + int(rng.integers(0, 1000))] = 0
    base = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype("<u4")
    return base.view(np.uint8), z.view(np.uint8)


@native
@FAST
@given(deltas32(), st.sampled_from(["sub", "xor"]))
def test_huff32_round_trip_materialized_applied_and_python_twin(
    case: tuple[np.ndarray, np.ndarray], op: str
) -> None:
    base, z = case
    stream = Huffman32().encode(z.data)
    out = np.empty_like(z)
    Huffman32().decode_into(memoryview(stream), out.data)
    assert out.tobytes() == z.tobytes()
    lengths, sizes, body = _h32_parts(memoryview(stream))
    twin = np.empty_like(z)
    decode32_python(body, sizes, _unpack_lengths(lengths), twin)
    assert twin.tobytes() == z.tobytes()
    applied = base.copy()  # the fused restore: delta added onto the base in place
    Huffman32().apply_into(memoryview(stream), applied.data, op)
    expected = z.copy()
    Delta(op, 4).decode_inplace_numpy(expected, base)
    assert applied.tobytes() == expected.tobytes()


@native
@FAST
@given(deltas32())
def test_huff32_size_is_known_before_encoding(case: tuple[np.ndarray, np.ndarray]) -> None:
    """``h32_size`` (what the codec compares with the byte planes) is the encoded
    size to within the 4 streams' padding bytes."""
    _, z = case
    counts = huffman.h32_token_counts(z)
    size, lengths = huffman.h32_size(counts, z.size // 4)
    actual = len(Huffman32().encode_counted(z, lengths))
    assert actual <= size <= actual + 4


@native
def test_huff32_corrupt_streams_raise() -> None:
    rng = np.random.default_rng(2)
    z = np.where(rng.random(4000) < 0.7, rng.integers(0, 40, 4000), rng.integers(0, 1 << 20, 4000))
    raw = z.astype("<u4").view(np.uint8)
    stream = Huffman32().encode(raw.data)
    out = np.empty(raw.size, np.uint8)
    for bad in (stream[:50], stream[:-1], stream + b"\0"):
        with pytest.raises(CodecError):
            Huffman32().decode_into(memoryview(bad), out.data)
    for size in (out.size + 4, out.size - 4, out.size + 1):
        with pytest.raises(CodecError):
            Huffman32().apply_into(memoryview(stream), np.zeros(size, np.uint8).data, "sub")
    token0 = bytearray(stream)  # token 0 is unused: a code for it is corruption
    token0[0] = (token0[0] & 0xF0) | 5
    with pytest.raises(CodecError):
        Huffman32().decode_into(memoryview(bytes(token0)), out.data)
    with pytest.raises(CodecError):
        decode32_python(*_twin_args(bytes(token0)), out)


def _twin_args(stream: bytes) -> tuple[memoryview, tuple[int, ...], np.ndarray]:
    lengths, sizes, body = _h32_parts(memoryview(stream))
    return body, sizes, _unpack_lengths(lengths)


@native
@settings(deadline=None, max_examples=150)
@given(st.data())
def test_huff32_garbled_streams_raise_or_decode_within_bounds(data: st.DataObject) -> None:
    """Flipped bytes anywhere (lengths, sizes, codes, raw bits) never read or
    write outside the buffers: the decoder raises CodecError or produces some
    bytes (the frame checksum then catches them)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = data.draw(st.integers(1, 6000))
    z = np.where(rng.random(n) < 0.6, rng.geometric(0.3, n), rng.integers(0, 1 << 24, n))
    raw = z.astype("<u4").view(np.uint8)
    stream = bytearray(Huffman32().encode(raw.data))
    for _ in range(data.draw(st.integers(1, 4))):
        stream[data.draw(st.integers(0, len(stream) - 1))] ^= data.draw(st.integers(1, 255))
    guard = np.zeros(raw.size + 64, np.uint8)  # 32 bytes of guard on each side
    target = guard[32:-32]
    try:
        if data.draw(st.booleans()):
            Huffman32().apply_into(memoryview(bytes(stream)), target.data, "sub")
        else:
            Huffman32().decode_into(memoryview(bytes(stream)), target.data)
    except CodecError:
        pass
    assert not guard[:32].any() and not guard[-32:].any()


def _embedding_step(rows: int, touched: int, seed: int) -> tuple[bytes, bytes]:
    """An fp32 embedding table after AdamW steps: every row decays by a few ulps,
    the ``touched`` rows (tokens in the batch) move by ~1e-4."""
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, 64, generator=gen) * 0.05
    moved = w * (1 - 8 * 2e-7)
    hit = torch.randperm(rows, generator=gen)[:touched]
    moved[hit] -= 1e-4 * torch.randn(touched, 64, generator=gen)
    return w.numpy().tobytes(), moved.numpy().tobytes()


@native
def test_codec_picks_huff32_for_decayed_rows_and_planes_for_dense_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Few elements needing raw bits: ``huff32``, restored in place bit-exactly;
    every element moved far (a dense layer's step): byte planes, whose decoder
    is faster there. A host without the kernels decodes ``huff32`` with the
    Python twin and never writes it."""
    from swarmstore.codec import CodecPolicy, decode_chunk, decode_chunk_into, encode_chunk
    from swarmstore.codec import native as nat

    base, raw = _embedding_step(2000, 100, seed=4)
    enc = encode_chunk(raw, "float32", CodecPolicy("auto"), base=base)
    assert enc.is_delta and enc.codec_name.endswith("delta.sub>huff32")
    out = bytearray(base)
    decode_chunk_into(enc.frame, "float32", out, out)
    assert out == raw

    dense_base, dense = _embedding_step(2000, 2000, seed=5)
    planes = encode_chunk(dense, "float32", CodecPolicy("auto"), base=dense_base)
    assert planes.is_delta and "huff32" not in planes.codec_name
    assert decode_chunk(planes.frame, "float32", len(dense), base=dense_base) == dense

    with monkeypatch.context() as m:
        m.setattr(nat, "KERNELS", None)
        assert decode_chunk(enc.frame, "float32", len(raw), base=base) == raw
        plain = encode_chunk(raw, "float32", CodecPolicy("auto"), base=base)
        assert "huff32" not in plain.codec_name
    assert decode_chunk(plain.frame, "float32", len(raw), base=base) == raw
