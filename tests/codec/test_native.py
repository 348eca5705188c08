"""The C kernels and their numpy twins compute the same bytes (frames never
depend on which ran), and the nibpairs coder round-trips any plane."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmstore.codec.native import KERNELS
from swarmstore.codec.nibbles import NibblePairs, best_base
from swarmstore.codec.planes import join_numpy, split_numpy
from swarmstore.errors import CodecError

FAST = settings(deadline=None, max_examples=80)
native = pytest.mark.skipif(KERNELS is None, reason="C kernels not built")


@st.composite
def planes_data(draw: st.DrawFn) -> tuple[int, bool, np.ndarray]:
    width = draw(st.sampled_from([2, 4, 8]))
    n = draw(st.integers(0, 200))
    raw = draw(st.binary(min_size=n * width, max_size=n * width))
    return width, draw(st.booleans()), np.frombuffer(raw, np.uint8)


@st.composite
def exponent_plane(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(0, 300))
    lo = draw(st.integers(0, 255))
    spread = draw(st.integers(1, 40))
    values = draw(st.lists(st.integers(lo, min(255, lo + spread)), min_size=n, max_size=n))
    return np.array(values, dtype=np.uint8)


@native
@FAST
@given(planes_data())
def test_split_and_join_kernels_match_numpy(case: tuple[int, bool, np.ndarray]) -> None:
    assert KERNELS is not None
    width, rotate, data = case
    n = data.size // width
    ref = np.empty(data.size, np.uint8)
    split_numpy(data, width, rotate, [ref[i * n : (i + 1) * n] for i in range(width)])
    got = np.empty(data.size, np.uint8)
    KERNELS.split(data, width, rotate, got)
    assert got.tobytes() == ref.tobytes()
    planes = [ref[i * n : (i + 1) * n] for i in range(width)]
    joined_c, joined_np = np.empty_like(data), np.empty_like(data)
    KERNELS.join(planes, rotate, joined_c)
    join_numpy(planes, joined_np, width, rotate)
    assert joined_c.tobytes() == joined_np.tobytes() == data.tobytes()


@native
@FAST
@given(exponent_plane(), st.integers(0, 255))
def test_nibble_kernels_match_numpy(plane: np.ndarray, base: int) -> None:
    assert KERNELS is not None
    coder = NibblePairs(base)
    pairs = (plane.size + 1) // 2
    ref_packed = np.empty(pairs, np.uint8)
    ref_escapes = coder.pack_numpy(plane, ref_packed)
    packed, escapes = np.empty(pairs, np.uint8), np.empty(plane.size, np.uint8)
    count = KERNELS.nib_pack(plane, base, packed, escapes)
    assert packed.tobytes() == ref_packed.tobytes()
    assert escapes[:count].tobytes() == ref_escapes
    out_c, out_np = np.empty_like(plane), np.empty_like(plane)
    KERNELS.nib_unpack(packed, base, memoryview(ref_escapes), out_c)
    coder.unpack_numpy(packed, memoryview(ref_escapes), out_np)
    assert out_c.tobytes() == out_np.tobytes() == plane.tobytes()
    if count:  # a missing escaped byte is an error, never a guess
        with pytest.raises(ValueError):
            KERNELS.nib_unpack(packed, base, memoryview(ref_escapes[:-1]), out_c)
        with pytest.raises(CodecError):
            coder.unpack_numpy(packed, memoryview(ref_escapes[:-1]), out_np)


@FAST
@given(exponent_plane())
def test_nibpairs_round_trip(plane: np.ndarray) -> None:
    base, _ = best_base(np.bincount(plane, minlength=256))
    coder = NibblePairs(base)
    stream = coder.encode(plane.data)
    out = np.empty_like(plane)
    coder.decode_into(memoryview(stream), out.data)
    assert out.tobytes() == plane.tobytes()
    with pytest.raises(CodecError):
        coder.decode_into(memoryview(stream[: len(stream) // 2]), out.data)


def test_best_base_covers_the_densest_window() -> None:
    counts = np.zeros(256, np.int64)
    counts[100:115] = 10
    counts[3] = 1
    base, escapes = best_base(counts)
    assert base == 100
    assert escapes == pytest.approx(1 / 151)


def _target_and_base(width: int, data: st.DataObject) -> tuple[np.ndarray, np.ndarray]:
    """Two random uint8 arrays of the same whole number of ``width``-byte elements."""
    n = data.draw(st.integers(0, 100)) * width
    target = np.frombuffer(data.draw(st.binary(min_size=n, max_size=n)), np.uint8)
    base = np.frombuffer(data.draw(st.binary(min_size=n, max_size=n)), np.uint8)
    return target, base


@native
@FAST
@given(st.sampled_from([1, 2, 4, 8]), st.sampled_from(["sub", "xor"]), st.data())
def test_delta_kernels_match_numpy(width: int, op: str, data: st.DataObject) -> None:
    from swarmstore.codec.delta import Delta

    assert KERNELS is not None
    target, base = _target_and_base(width, data)
    codec = Delta(op, width)
    ref = codec.encode_numpy(target, base)
    got = np.empty(target.size, np.uint8)
    KERNELS.delta(target, base, width, op == "sub", got)
    assert got.tobytes() == ref.tobytes()
    back = got.copy()
    KERNELS.undelta(back, base, width, op == "sub")
    ref_back = ref.copy()
    codec.decode_inplace_numpy(ref_back, base)
    assert back.tobytes() == ref_back.tobytes() == target.tobytes()


@native
@FAST
@given(st.sampled_from([1, 2, 4, 8]), st.sampled_from(["sub", "xor"]), st.data())
def test_join_apply_kernel_matches_numpy(width: int, op: str, data: st.DataObject) -> None:
    """Planes of a delta added onto the base in place: kernel == numpy twin == target."""
    from swarmstore.codec.delta import Delta

    assert KERNELS is not None
    target, base = _target_and_base(width, data)
    codec = Delta(op, width)
    delta = codec.encode_numpy(target, base)
    planes = [np.ascontiguousarray(delta[b::width]) for b in range(width)]
    by_kernel, by_numpy = base.copy(), base.copy()
    KERNELS.join_apply(planes, width, op == "sub", by_kernel)
    codec.apply_planes_numpy(planes, by_numpy)
    assert by_kernel.tobytes() == by_numpy.tobytes() == target.tobytes()


@native
@pytest.mark.parametrize("dtype", ["bfloat16", "float32", "float16", "float64"])
def test_frames_identical_and_cross_decodable_without_kernels(
    dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Realistic weights and a fine-tuning step: the numpy path writes the same
    frames as the kernels (except that only a host with the kernels picks the
    ``huff`` coder, whose fast decoder is C) and each decodes the other's."""
    from swarmstore.codec import CodecPolicy, decode_chunk, encode_chunk
    from swarmstore.codec import native as nat

    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(1)
    w32 = torch.randn(40_000, generator=gen) * 0.05
    step = w32 - 2e-5 * torch.sign(torch.randn(40_000, generator=gen))
    tdt = getattr(torch, dtype)
    base = w32.to(tdt).contiguous().view(torch.uint8).numpy().tobytes()
    raw = step.to(tdt).contiguous().view(torch.uint8).numpy().tobytes()
    for policy in ("auto", "fast", "max"):
        for b in (None, base):
            with_c = encode_chunk(raw, dtype, CodecPolicy(policy), base=b)
            with monkeypatch.context() as m:
                m.setattr(nat, "KERNELS", None)
                without = encode_chunk(raw, dtype, CodecPolicy(policy), base=b)
                assert "huff" not in without.codec_name
                if "huff" not in with_c.codec_name:
                    assert without.frame == with_c.frame
                assert decode_chunk(with_c.frame, dtype, len(raw), base=b) == raw
            assert decode_chunk(without.frame, dtype, len(raw), base=b) == raw
