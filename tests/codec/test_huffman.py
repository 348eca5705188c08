"""The ``huff`` coder: C decoder == Python twin == input, for any plane; code
lengths always form a prefix code within the length limit; bad streams raise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmstore.codec import huffman
from swarmstore.codec.huffman import MAX_LEN, TOKENS, Huffman, code_lengths, decode_python
from swarmstore.codec.native import KERNELS
from swarmstore.errors import CodecError

FAST = settings(deadline=None, max_examples=80)
native = pytest.mark.skipif(KERNELS is None, reason="C kernels not built")


@st.composite
def planes(draw: st.DrawFn) -> np.ndarray:
    """Empty, constant, random, or mostly one byte with small others and runs."""
    n = draw(st.integers(0, 3000))
    shape = draw(st.sampled_from(["random", "constant", "sparse", "runs"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if shape == "random":
        return rng.integers(0, 256, n, dtype=np.uint8)
    if shape == "constant":
        return np.full(n, draw(st.integers(0, 255)), dtype=np.uint8)
    fill = draw(st.integers(0, 255))
    p = draw(st.floats(0.3, 0.999)) if shape == "sparse" else 0.97
    plane = np.where(rng.random(n) < p, fill, rng.geometric(0.4, n) % 256).astype(np.uint8)
    if shape == "runs" and n:
        start = int(rng.integers(0, n))
        plane[start : start + int(rng.integers(0, 500))] = fill
    return plane


def _stream_parts(stream: bytes) -> tuple[memoryview, tuple[int, ...], int, np.ndarray]:
    view = memoryview(stream)
    lengths = np.empty(TOKENS, np.uint8)
    packed = np.frombuffer(view[1:133], np.uint8)
    lengths[0::2], lengths[1::2] = packed & 15, packed >> 4
    sizes = tuple(int(x) for x in np.frombuffer(view[133:149], "<u4"))
    return view[149:], sizes, view[0], lengths


@native
@FAST
@given(planes())
def test_round_trip_kernel_and_python_twin(plane: np.ndarray) -> None:
    stream = Huffman().encode(plane.data)
    out = np.empty_like(plane)
    Huffman().decode_into(memoryview(stream), out.data)
    assert out.tobytes() == plane.tobytes()
    body, sizes, fill, lengths = _stream_parts(stream)
    twin = np.empty_like(plane)
    decode_python(body, sizes, fill, lengths, twin)
    assert twin.tobytes() == plane.tobytes()


@FAST
@given(st.lists(st.integers(0, 10**9), min_size=TOKENS, max_size=TOKENS), st.integers(0, 60))
def test_code_lengths_are_a_bounded_prefix_code(counts: list[int], skew: int) -> None:
    c = np.array(counts, dtype=np.int64)
    c[: TOKENS // 2] //= 1 << min(skew, 30)  # long tails force the length limit
    lengths = code_lengths(c)
    assert int(lengths.max(initial=0)) <= MAX_LEN
    present = np.flatnonzero(c)
    assert (lengths[present] > 0).all() and (lengths[c == 0] == 0).all()
    if present.size > 1:
        assert sum(2.0 ** -int(v) for v in lengths[present]) <= 1.0


@native
def test_low_entropy_plane_is_small_and_beats_one_bit_per_byte() -> None:
    rng = np.random.default_rng(0)
    plane = np.where(rng.random(1 << 16) < 0.9, 0, rng.integers(1, 5, 1 << 16)).astype(np.uint8)
    stream = Huffman().encode(plane.data)
    assert len(stream) < plane.size / 8  # zero runs: under 1 bit per byte


@native
def test_corrupt_streams_raise() -> None:
    rng = np.random.default_rng(1)
    plane = np.where(rng.random(5000) < 0.7, 0, rng.integers(0, 9, 5000)).astype(np.uint8)
    stream = Huffman().encode(plane.data)
    out = np.empty_like(plane)
    for bad in (
        stream[:100],  # shorter than the header
        stream[:-1],  # sizes no longer match the body
        stream + b"\0",
        stream[:133] + (10**6).to_bytes(4, "little") + stream[137:],
    ):
        with pytest.raises(CodecError):
            Huffman().decode_into(memoryview(bad), out.data)
    over_full = bytearray(stream)
    over_full[1:133] = bytes([0x11] * 132)  # 264 one-bit codes: no prefix code
    with pytest.raises(CodecError):
        Huffman().decode_into(memoryview(bytes(over_full)), out.data)
    with pytest.raises(CodecError):  # a stream cut short of its elements
        Huffman().decode_into(memoryview(stream), np.empty(plane.size + 50, np.uint8).data)


@native
def test_frames_pick_huff_coders_for_a_fine_tuning_delta_and_decode_without_kernels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bf16 delta of many small steps codes its low plane with ``huff``; a host
    without the kernels still decodes it (Python twin), and never writes it."""
    from swarmstore.codec import CodecPolicy, decode_chunk, encode_chunk
    from swarmstore.codec import native as nat

    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(60_000, generator=gen) * 0.05
    moved = w - 5e-5 * torch.randn(60_000, generator=gen)
    base = w.to(torch.bfloat16).view(torch.uint8).numpy().tobytes()
    raw = moved.to(torch.bfloat16).view(torch.uint8).numpy().tobytes()
    enc = encode_chunk(raw, "bfloat16", CodecPolicy("auto"), base=base)
    assert enc.is_delta and "huff" in enc.codec_name
    with monkeypatch.context() as m:
        m.setattr(nat, "KERNELS", None)
        assert not huffman.available()
        assert decode_chunk(enc.frame, "bfloat16", len(raw), base=base) == raw
        plain = encode_chunk(raw, "bfloat16", CodecPolicy("auto"), base=base)
        assert "huff" not in plain.codec_name
    assert decode_chunk(plain.frame, "bfloat16", len(raw), base=base) == raw


@st.composite
def deltas16(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """(base, zigzag delta) of 2-byte elements: mostly 0 and small, runs, escapes."""
    n = draw(st.integers(0, 3000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    p_zero = draw(st.floats(0.0, 1.0))
    z = np.where(rng.random(n) < p_zero, 0, rng.geometric(0.3, n)).astype("<u2")
    big = rng.random(n) < draw(st.sampled_from([0.0, 0.01, 0.3]))
    z[big] = rng.integers(0, 1 << 16, int(big.sum()))  # escapes (any value)
    if n and draw(st.booleans()):
        start = int(rng.integers(0, n))
        z[start : start + int(rng.integers(0, 1000))] = 0
    base = rng.integers(0, 1 << 16, n).astype("<u2")
    return base.view(np.uint8), z.view(np.uint8)


@native
@FAST
@given(deltas16(), st.sampled_from(["sub", "xor"]))
def test_huff16_round_trip_materialized_applied_and_python_twin(
    case: tuple[np.ndarray, np.ndarray], op: str
) -> None:
    from swarmstore.codec.delta import Delta
    from swarmstore.codec.huffman import Huffman16, _h16_parts, _unpack_lengths, decode16_python

    base, z = case
    stream = Huffman16().encode(z.data)
    out = np.empty_like(z)
    Huffman16().decode_into(memoryview(stream), out.data)
    assert out.tobytes() == z.tobytes()
    lengths, sizes, escapes, esc_bytes, body = _h16_parts(memoryview(stream))
    twin = np.empty_like(z)
    decode16_python(body, sizes, esc_bytes, escapes, _unpack_lengths(lengths), twin)
    assert twin.tobytes() == z.tobytes()
    applied = base.copy()  # the fused restore: delta added onto the base in place
    Huffman16().apply_into(memoryview(stream), applied.data, op)
    expected = z.copy()
    Delta(op, 2).decode_inplace_numpy(expected, base)
    assert applied.tobytes() == expected.tobytes()


@native
def test_huff16_corrupt_streams_raise() -> None:
    from swarmstore.codec.huffman import Huffman16

    rng = np.random.default_rng(2)
    z = np.where(rng.random(4000) < 0.7, 0, rng.integers(1, 600, 4000)).astype("<u2")
    stream = Huffman16().encode(z.view(np.uint8).data)
    out = np.empty(z.size * 2, np.uint8)
    for bad in (stream[:50], stream[:-1], stream + b"\0"):
        with pytest.raises(CodecError):
            Huffman16().decode_into(memoryview(bad), out.data)
    for size in (out.size + 2, out.size - 2, out.size + 1):
        with pytest.raises(CodecError):
            Huffman16().apply_into(memoryview(stream), np.zeros(size, np.uint8).data, "sub")
    lost = bytearray(stream)  # one escape fewer than the codes ask for
    counts = np.frombuffer(bytes(lost[132:164]), "<u4").copy()
    q = int(np.flatnonzero(counts[4:])[0])
    counts[4 + q] -= 1
    lost[132:164] = counts.tobytes()
    at = 164 + 2 * int(counts[4 : 4 + q].sum())
    del lost[at : at + 2]
    with pytest.raises(CodecError):
        Huffman16().decode_into(memoryview(bytes(lost)), out.data)


@native
@FAST
@given(st.lists(st.integers(0, 10**12), min_size=TOKENS, max_size=TOKENS), st.integers(9, 11))
def test_code_lengths_kernel_matches_python(counts: list[int], limit: int) -> None:
    from swarmstore.codec.huffman import code_lengths_python

    c = np.array(counts, dtype=np.int64)
    c[::3] = 0
    c[1::5] //= 10**9  # small and equal weights: tie order matters
    assert code_lengths(c, limit).tolist() == code_lengths_python(c, limit).tolist()


@native
@settings(deadline=None, max_examples=150)
@given(st.data())
def test_garbled_streams_raise_or_decode_within_bounds(data: st.DataObject) -> None:
    """Flipped bytes anywhere (lengths, sizes, escapes, bits) never read or write
    outside the buffers: the decoders raise CodecError or produce some bytes
    (the frame checksum then catches them)."""
    from swarmstore.codec.huffman import Huffman16

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = data.draw(st.integers(1, 6000))
    z = np.where(rng.random(n) < 0.8, 0, rng.geometric(0.3, n)).astype("<u2")
    z[rng.random(n) < 0.01] = 4000
    for coder, raw in ((Huffman16(), z.view(np.uint8)), (Huffman(), z.view(np.uint8)[::2].copy())):
        stream = bytearray(coder.encode(raw.data))
        for _ in range(data.draw(st.integers(1, 4))):
            stream[data.draw(st.integers(0, len(stream) - 1))] ^= data.draw(st.integers(1, 255))
        guard = np.zeros(raw.size + 64, np.uint8)  # 32 bytes of guard on each side
        target = guard[32:-32]
        try:
            if isinstance(coder, Huffman16) and data.draw(st.booleans()):
                coder.apply_into(memoryview(bytes(stream)), target.data, "sub")
            else:
                coder.decode_into(memoryview(bytes(stream)), target.data)
        except CodecError:
            pass
        assert not guard[:32].any() and not guard[-32:].any()
