"""The ``decay`` prediction (AdamW's decoupled weight decay): the C kernel and
its numpy twin agree bit for bit on any fp32 bits, the detector recovers the
factor and step count of a real torch AdamW run, frames that use it restore
bit-exact (into a fresh buffer and in place), and bad configs or chains are
refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmstore.codec import CodecPolicy, decode_chunk, decode_chunk_into, encode_chunk
from swarmstore.codec import frame as framing
from swarmstore.codec import native as nat
from swarmstore.codec.choose import sample as _sample
from swarmstore.codec.decay import MAX_STEPS, Decay, _candidates, detect
from swarmstore.codec.native import KERNELS
from swarmstore.errors import CodecError

FAST = settings(deadline=None, max_examples=60)
native = pytest.mark.skipif(KERNELS is None, reason="C kernels not built")


@st.composite
def decays(draw: st.DrawFn) -> Decay:
    steps = draw(st.integers(1, 64))
    n = draw(st.integers(1, 4000))
    factor = 1.0 - n * 2.0**-24
    if factor**steps < 0.5:
        steps = 1
    return Decay(factor, steps)


@st.composite
def fp32_bits(draw: st.DrawFn) -> np.ndarray:
    """Random bit patterns mixed with zeros, subnormals, the smallest normals,
    inf and NaN payloads: every exponent field the guard must handle."""
    n = draw(st.integers(0, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bits = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype("<u4")
    special = np.array(
        [0, 0x80000000, 1, 0x007FFFFF, 0x00800000, 0x01000000, 0x01800000, 0x7F800000,
         0xFF800000, 0x7FC00001, 0xFFFFFFFF, 0x3F800000, 0x7F7FFFFF],
        dtype="<u4",
    )  # fmt: skip
    if n:
        picks = rng.random(n) < 0.3
        bits[picks] = special[rng.integers(0, special.size, int(picks.sum()))]
    return bits


@native
@FAST
@given(decays(), fp32_bits())
def test_kernel_matches_numpy_twin_on_any_bits(decay: Decay, bits: np.ndarray) -> None:
    fast, twin = np.empty_like(bits), np.empty_like(bits)
    decay.apply(bits.view(np.uint8), fast.view(np.uint8))
    decay.apply_numpy(bits.view(np.uint8), twin.view(np.uint8))
    assert fast.tobytes() == twin.tobytes()
    exponent = (bits >> 23) & 0xFF
    guarded = (exponent < 3) | (exponent == 255)
    assert (fast[guarded] == bits[guarded]).all()  # zeros, subnormals, inf, NaN: unchanged


def _adamw_embeddings(steps: int, lr: float = 1e-3, wd: float = 0.05) -> tuple[np.ndarray, ...]:
    """A real torch AdamW run on an embedding whose batches touch a few rows."""
    torch.manual_seed(0)
    table = torch.nn.Embedding(4096, 64)
    optimizer = torch.optim.AdamW(table.parameters(), lr=lr, weight_decay=wd)
    before = table.weight.detach().clone()
    for _ in range(steps):
        tokens = torch.randint(0, 64, (32,))  # rows 64.. never get a gradient
        optimizer.zero_grad()
        table(tokens).pow(2).sum().backward()
        optimizer.step()
    after = table.weight.detach().clone()
    return before.numpy().ravel(), after.numpy().ravel()


@pytest.mark.parametrize("steps", [1, 3, 8])
def test_detect_finds_adamws_factor_and_steps(steps: int) -> None:
    base, target = _adamw_embeddings(steps)
    found = detect(_sample(target.view(np.uint8), 4), _sample(base.view(np.uint8), 4))
    assert found == Decay(float(np.float32(1 - 1e-3 * 0.05)), steps)
    predicted = found.predicted(base.view(np.uint8)).view(np.float32)
    untouched = slice(64 * 64, None)
    assert (predicted[untouched].view(np.uint32) == target[untouched].view(np.uint32)).all()


def _adam_second_moments(rows_touched: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Adam's ``exp_avg_sq`` of an embedding before and after ``steps`` more steps
    whose batches hold 32 of the first ``rows_touched`` rows, or every row when
    that is all of them (every row has state from a first step)."""
    torch.manual_seed(0)
    table = torch.nn.Embedding(1024, 64)
    optimizer = torch.optim.Adam(table.parameters(), lr=1e-3)

    def step(tokens: torch.Tensor) -> None:
        optimizer.zero_grad()
        table(tokens).pow(2).sum().backward()
        optimizer.step()

    step(torch.arange(1024))  # every row gets a second moment
    before = optimizer.state[table.weight]["exp_avg_sq"].clone()
    for _ in range(steps):
        step(torch.arange(1024) if rows_touched >= 1024 else torch.randint(0, rows_touched, (32,)))
    after = optimizer.state[table.weight]["exp_avg_sq"].clone()
    return before.numpy().ravel(), after.numpy().ravel()


def test_detect_finds_adams_second_moment_decay() -> None:
    """Rows without a gradient have ``exp_avg_sq *= beta2`` each step: a decay far
    larger than AdamW's (m ~ 3 * 16,777), found with as few candidates."""
    base, target = _adam_second_moments(rows_touched=64, steps=3)
    found = detect(_sample(target.view(np.uint8), 4), _sample(base.view(np.uint8), 4))
    assert found == Decay(float(np.float32(0.999)), 3)


def test_detect_declines_a_dense_second_moment() -> None:
    """Every row has a gradient every step: the ratios still crowd near
    beta2**steps, but none is an exact decay (this case once tried ~300,000
    candidates per chunk)."""
    base, target = _adam_second_moments(rows_touched=1024, steps=60)
    assert detect(_sample(target.view(np.uint8), 4), _sample(base.view(np.uint8), 4)) is None


@pytest.mark.parametrize("m", [0.5, 3.0, 27.0, 1e3, 5e4, 2.5e5, 4e6, 8e6])
def test_candidates_stay_few_for_any_decay_size(m: float) -> None:
    """At most three factors per step count, however large the decay: the
    detector's cost does not grow with m."""
    found = _candidates(m)
    assert len(found) <= 3 * MAX_STEPS
    for candidate in found:  # each within rounding of the decay it was built for
        product = float(np.float64(candidate.factor) ** candidate.steps)
        assert abs((1 - product) / 2.0**-24 - m) <= 3 * candidate.steps + 1e-3 * m


def test_detect_declines_dense_updates() -> None:
    rng = np.random.default_rng(1)
    base = rng.standard_normal(50_000).astype(np.float32)
    target = (base * (1 + 1e-3 * rng.standard_normal(base.size))).astype(np.float32)
    assert detect(target.view(np.uint8), base.view(np.uint8)) is None
    assert detect(base.view(np.uint8), base.view(np.uint8)) is None  # unchanged: no decay


@native
@pytest.mark.parametrize("policy", ["auto", "max"])
def test_decayed_chunk_restores_bit_exact(monkeypatch: pytest.MonkeyPatch, policy: str) -> None:
    base, target = _adamw_embeddings(4)
    encoded = encode_chunk(
        target.view(np.uint8), "float32", CodecPolicy(policy), base.view(np.uint8)
    )
    assert encoded.codec_name.startswith("decay>delta.sub>")
    raw = target.tobytes()
    assert decode_chunk(encoded.frame, "float32", len(raw), base.view(np.uint8)) == raw
    out = bytearray(base.tobytes())  # a chain step in place: out holds the base
    decode_chunk_into(encoded.frame, "float32", out, out)
    assert bytes(out) == raw
    # the prediction pays: 1 row in 64 touched, the rest exact
    assert len(encoded.frame) < 0.1 * len(raw)
    with monkeypatch.context() as m:  # a host without the kernels reads it, never writes it
        m.setattr(nat, "KERNELS", None)
        assert decode_chunk(encoded.frame, "float32", len(raw), base.view(np.uint8)) == raw
        plain = encode_chunk(target.view(np.uint8), "float32", CodecPolicy(policy), base.tobytes())
        assert "decay" not in plain.codec_name


def test_decay_is_only_tried_on_float32() -> None:
    base, target = _adamw_embeddings(2)
    as_bf16 = [torch.from_numpy(a).bfloat16().view(torch.uint8).numpy() for a in (base, target)]
    frame = encode_chunk(as_bf16[1], "bfloat16", CodecPolicy(), as_bf16[0])
    assert "decay" not in frame.codec_name


@pytest.mark.parametrize(
    "config",
    [
        {"factor": 1.0, "steps": 1},
        {"factor": 0.4, "steps": 1},
        {"factor": 0.99999999, "steps": 1},  # not a float32 value
        {"factor": 0.9999998211860657, "steps": 0},
        {"factor": 0.9999998211860657, "steps": 65},
        {"factor": 0.75, "steps": 3},  # 0.42: products could go subnormal
        {"factor": 0.9999998211860657, "steps": 1, "extra": 1},
        {"factor": 1, "steps": 1},
    ],
)
def test_bad_decay_configs_are_refused(config: dict[str, object]) -> None:
    with pytest.raises(CodecError, match="bad decay config"):
        Decay.from_config(config)


def _with_chain(frame: bytes, chain: list[dict[str, object]]) -> bytes:
    _, header, payload = framing.unpack(frame)
    return framing.pack({**header, "chain": chain}, [payload])


def test_decay_needs_a_sub_delta_of_four_bytes() -> None:
    base, target = _adamw_embeddings(2)
    frame = encode_chunk(target.view(np.uint8), "float32", CodecPolicy(), base.view(np.uint8))
    _, header, _ = framing.unpack(frame.frame)
    decay_spec, delta_spec = header["chain"]
    bad_chains = [
        [decay_spec],
        [{**delta_spec, "op": "xor"}, decay_spec],
        [decay_spec, {**delta_spec, "op": "xor"}],
    ]
    for chain in bad_chains:
        with pytest.raises(CodecError):
            decode_chunk(_with_chain(frame.frame, chain), "float32", target.nbytes, base.tobytes())
