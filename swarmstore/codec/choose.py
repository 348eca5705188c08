"""Choosing the codec chain for one chunk: the heuristics ``pipeline`` follows.

Every choice is made from small samples (order-0 entropy and trial compression
of a few evenly spread windows), so the expensive full-size compression runs
once per plane in the common case. Nothing here writes a frame: ``pipeline``
asks which layout, delta, and coders to use, then encodes with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmstore.codec import native
from swarmstore.codec.coders import Raw, Zstd, ZstdLiterals
from swarmstore.codec.decay import Decay, detect
from swarmstore.codec.delta import Delta
from swarmstore.codec.huffman import Huffman, h32_escapes
from swarmstore.codec.huffman import available as huffman_available
from swarmstore.codec.nibbles import NibblePairs, best_base
from swarmstore.codec.signbit import SignBitLast
from swarmstore.dtypes import dtype_info

_SAMPLE_WINDOWS = 4
_WINDOW = 8 * 1024  # elements per sample window
SMALL = 8 * 1024  # chunks up to this many bytes skip planes and sampling
_RAW_ENTROPY = {"fast": 7.6, "auto": 7.95, "max": 7.99}  # bits/byte above which a plane stays raw
# nibpairs when a plane's sample has 1.5..4.5 bits/byte and <= 0.2 % escapes: below
# that zstd's matches win (long zero runs), above it the escapes cost too much
_NIB_ENTROPY = (1.5, 4.5)
_NIB_ESCAPES = 0.002
_NIB_TRIAL_ESCAPES = 0.05  # other planes: nibpairs joins the sample trial up to 5 % escapes
_CONSTANT_ENTROPY = 0.02
# a delta plane of 0.3..3 bits/byte takes ``huff`` (multi-symbol decode, faster
# than zstd's huff0 there) when its sample is at most 20 % larger than the
# smallest coder's: restoring a delta should cost little more than its keyframe
_HUFF_ENTROPY = (0.3, 3.0)
_HUFF_SLACK = 1.2
# a 2-byte float delta coded whole (``huff16``) restores faster than as byte
# planes (one fused pass onto the base, zero runs skipped): taken when at most
# 10 % larger, or larger by at most 0.5 % of the raw chunk (near-empty deltas,
# where planes+zstd win on size but cost a full plane pass each)
_HUFF16_SLACK = (1.1, 0.005)
# a 4-byte float delta coded whole (``huff32``) restores faster than as byte
# planes when most of its elements are small (< 223 as zigzag: the rows a
# fine-tuning step did not touch, decayed by a few ulps); an element that needs
# raw bits costs about twice what it costs in raw byte planes, so it is taken
# only while at most 30 % of the elements do (or in a chunk of <= 8 KiB, where
# four plane streams cost more than any element), and within the huff16 slack
_HUFF32_ESCAPES = 0.3
# a delta plane of < 0.3 bits/byte (the top byte of a dense step's zigzag delta:
# nearly all zero) decodes faster from zstd's matches than from its literal
# coder; the bytes at stake are ~0.2 % of the plane, so zstd within 1.5x + 0.1 %
_NEAR_CONSTANT_SLACK = (1.5, 0.001)
# a delta plane above 7.2 bits/byte (an fp32 step's second byte once the chunk
# has drifted 3+ steps from its keyframe) would save < 10 % of itself under
# zstd's literal coder, whose decode then costs more than the whole keyframe
# chunk's: kept raw, such restores decode faster for ~2 % more bytes
_DELTA_RAW_ENTROPY = 7.2
# a delta frame is written without trying the full frame when its estimate is
# below this share of the full frame's
_DELTA_CLEAR_WIN = 0.9


# ---------------------------------------------------------------- sampling


def widths(dtype: str, length: int) -> tuple[int, int, bool]:
    """-> (plane width, delta width, floating) for a chunk of ``length`` bytes."""
    info = dtype_info(dtype)
    floating = info.is_floating
    component = info.itemsize // 2 if info.kind == "complex" else info.itemsize
    if component not in (1, 2, 4, 8) or length % component:
        component = 1
    return (component if floating else 1), component, floating


def _entropy(sample: np.ndarray, counts: np.ndarray | None = None) -> float:
    if sample.size == 0:
        return 0.0
    if counts is None:
        counts = _histogram(sample)
    p = counts[counts > 0] / sample.size
    return float(-(p * np.log2(p)).sum())


def _windows(n_elems: int) -> list[slice]:
    """A few evenly spread windows of elements (all of a small chunk)."""
    if n_elems <= _WINDOW * _SAMPLE_WINDOWS:
        return [slice(0, n_elems)]
    step = (n_elems - _WINDOW) / (_SAMPLE_WINDOWS - 1)
    starts = [int(i * step) for i in range(_SAMPLE_WINDOWS)]  # as np.linspace(...).astype(int)
    return [slice(s, s + _WINDOW) for s in starts]


def _histogram(sample: np.ndarray) -> np.ndarray:
    if native.KERNELS is not None:
        return np.frombuffer(native.KERNELS.histogram(sample), dtype=np.uint64).astype(np.int64)
    return np.bincount(sample, minlength=256)


def sample(data: np.ndarray, width: int) -> np.ndarray:
    """Contiguous copy of the sampled elements of ``data`` (uint8, length % width == 0)."""
    rows = data.reshape(-1, width)
    return np.concatenate([rows[w] for w in _windows(rows.shape[0])]).reshape(-1)


def plane_sample(plane: np.ndarray) -> np.ndarray:
    """The sampled bytes of one plane."""
    return np.concatenate([plane[w] for w in _windows(plane.size)])


def _estimate(sample: np.ndarray, width: int, total: int) -> float:
    """Rough encoded size (bytes) of ``total`` bytes like ``sample``, as planes (order-0)."""
    if sample.size == 0:
        return 0.0
    rows = sample.reshape(-1, width)
    bits = sum(min(_entropy(np.ascontiguousarray(rows[:, i])), 8.0) for i in range(width))
    return bits / 8.0 * total / width


# ---------------------------------------------------------------- layout


def is_small(length: int, mode: str, has_base: bool) -> bool:
    """A tiny chunk (a bias, a norm) goes as one zstd stream: per-plane choices
    cost more time than they could save bytes there."""
    return length <= SMALL and mode != "max" and not has_base


def rotates(width: int, policy: str) -> bool:
    """Sign-bit rotation puts the whole 8-bit exponent in the top plane: for 2-byte
    floats a slightly better ratio (the exponent's last bit shares a byte with the
    mantissa), for fp32 a sign-free exponent plane that ``nibpairs`` can code
    (faster than ``zstd-lit``); with the single-pass kernels it costs ~nothing.
    fp64 keeps the old choice (only "max" rotates)."""
    return width in (2, 4) or (width > 4 and policy == "max")


# ---------------------------------------------------------------- plane coders


def _candidates(
    policy: str, floating: bool, entropy: float, counts: np.ndarray, delta: bool = False
) -> list[Any]:
    raw_above = _DELTA_RAW_ENTROPY if delta and policy == "auto" else _RAW_ENTROPY[policy]
    if entropy > raw_above:
        return []
    base, escapes = best_base(counts)
    if _NIB_ENTROPY[0] <= entropy <= _NIB_ENTROPY[1] and escapes <= _NIB_ESCAPES:
        if policy != "max":  # an exponent plane: nibpairs, no trial needed
            return [NibblePairs(base)]
        return [NibblePairs(base), ZstdLiterals(), Zstd(3)]
    if policy != "max" and entropy < _CONSTANT_ENTROPY:
        return [Zstd(3)]  # (nearly) one value: any coder is ~0 bytes, zstd decodes fastest
    # below 1 bit/byte huffman cannot go under 1 bit per byte, but nibble pairs
    # can (two codes per symbol): on sparse delta planes they are 15-30% smaller
    nib = [NibblePairs(base)] if escapes <= _NIB_TRIAL_ESCAPES and policy != "fast" else []
    if policy == "fast":
        return [ZstdLiterals()] if floating and entropy > 1.0 else [Zstd(1)]
    if policy == "auto":
        if entropy < 2.0 or not floating:
            return [*nib, ZstdLiterals(), Zstd(3)]
        return [*nib, ZstdLiterals()]
    if entropy < 2.0:
        return [*nib, ZstdLiterals(), Zstd(3), Zstd(19)]
    return [*nib, ZstdLiterals(), Zstd(3)]


def plane_coders(sample: np.ndarray, policy: str, floating: bool, delta: bool) -> list[Any]:
    """The coders to try on a (non-empty) plane, from its ``sample``: the caller
    encodes the plane with each, in order, and keeps the smallest (raw if none
    is smaller). Several are left only under "max"; elsewhere a trial on the
    sample narrows them to one."""
    counts = _histogram(sample)
    entropy = _entropy(sample, counts)
    candidates = _candidates(policy, floating, entropy, counts, delta)
    fast = (
        delta
        and policy == "auto"
        and huffman_available()
        and _HUFF_ENTROPY[0] <= entropy <= _HUFF_ENTROPY[1]
    )
    if fast or (len(candidates) > 1 and policy != "max"):
        trial = np.ascontiguousarray(sample)
        sizes = {c: len(c.encode(trial.data)) for c in candidates}
        smallest = min(sizes, key=sizes.__getitem__) if sizes else Raw()
        candidates = [smallest]
        if fast:
            limit = _HUFF_SLACK * min(sizes.get(smallest, trial.size), trial.size)
            if len(Huffman().encode(trial.data)) <= limit:
                candidates = [Huffman()]
        elif delta and policy == "auto" and entropy < _HUFF_ENTROPY[0] and Zstd(3) in sizes:
            limit = _NEAR_CONSTANT_SLACK[0] * sizes[smallest] + _NEAR_CONSTANT_SLACK[1] * trial.size
            if sizes[Zstd(3)] <= limit:
                candidates = [Zstd(3)]
    return candidates


# ---------------------------------------------------------------- deltas


@dataclass(frozen=True, slots=True)
class DeltaOption:
    """One way to code a chunk against its base: ``op`` (``sub``/``xor``) over
    elements of ``width`` bytes, against the base itself or ``decay``'s
    prediction of it, with the sample's order-0 ``estimate`` of its size."""

    estimate: float
    op: str
    width: int
    decay: Decay | None = None


@dataclass(frozen=True, slots=True)
class DeltaPlan:
    """The delta codings to encode (best estimate first) and whether the best
    is clearly smaller than the full frame (then that is not tried)."""

    tried: list[DeltaOption]
    skip_full: bool


def delta_plan(
    data: np.ndarray, base: np.ndarray, dtype: str, plane_width: int, mode: str
) -> DeltaPlan:
    """Which deltas of ``data`` against ``base`` (same-size uint8 arrays) to try,
    chosen from samples: order-0 entropy of each candidate's planes."""
    n = data.size
    _, delta_width, floating = widths(dtype, n)
    kind = dtype_info(dtype).kind
    ops = ("xor",) if kind in ("bool", "bits") else ("sub", "xor")
    # int deltas (zigzag) leave zero high bytes: split them into planes too
    dwidth = 1 if kind in ("bool", "bits") else delta_width
    target_s, base_s = sample(data, dwidth), sample(base, dwidth)
    full_s = sample(data, plane_width)
    if floating and rotates(plane_width, mode):
        full_s = SignBitLast(plane_width).encode(full_s)
    full_cost = _estimate(full_s, plane_width, n)
    options = [
        DeltaOption(_estimate(Delta(op, dwidth).encode(target_s, base_s), dwidth, n), op, dwidth)
        for op in ops
    ]
    decay = _decay_for(kind, dwidth, mode, target_s, base_s)
    if decay is not None:  # AdamW-decayed parameters: subtract the prediction, not the base
        predicted = Delta("sub", 4).encode(target_s, decay.predicted(base_s))
        options.append(DeltaOption(_estimate(predicted, 4, n), "sub", dwidth, decay))
    options.sort(key=lambda o: o.estimate)
    tried = options if mode == "max" else options[:1]
    skip_full = mode != "max" and options[0].estimate < _DELTA_CLEAR_WIN * full_cost
    return DeltaPlan(tried, skip_full)


def _decay_for(
    kind: str, width: int, mode: str, target: np.ndarray, base: np.ndarray
) -> Decay | None:
    """A weight-decay prediction for an fp32 chunk's sample, when one fits. Only
    with the C kernels (as ``huff``): the numpy twin decodes such frames, but
    trying ~100 candidate predictions in numpy slows a delta encode too much."""
    if kind != "float" or width != 4 or mode not in ("auto", "max") or native.KERNELS is None:
        return None
    return detect(target, base)


def whole_delta_width(width: int, floating: bool, mode: str) -> int | None:
    """2 or 4 when a float delta of that element width may be coded whole
    (``huff16``/``huff32``, restored in one fused pass), else None."""
    if width in (2, 4) and floating and mode == "auto" and huffman_available():
        return width
    return None


def huff16_close(ours: int, planes: float, total: int) -> bool:
    """Whether ``huff16``'s ``ours`` bytes are close enough to the byte planes'
    (``planes`` bytes, for ``total`` raw bytes) to take it for its decode."""
    ratio, extra = _HUFF16_SLACK
    return ours <= max(ratio * planes, planes + extra * total)


def huff16_trial_sample(delta: np.ndarray) -> np.ndarray | None:
    """The sampled windows of a big 2-byte delta, on which the two codings are
    compared first (encoding every plane only to find ``huff16`` close enough
    doubled the cost of a delta encode); None where the sample is most of it."""
    trial = sample(delta, 2)
    return None if trial.size * 4 > delta.size else trial


def huff32_rejected(counts: np.ndarray, length: int) -> bool:
    """Whether too many of a 4-byte delta's elements need raw bits for ``huff32``."""
    return length > SMALL and h32_escapes(counts) > _HUFF32_ESCAPES * (length // 4)


def huff32_close(size: int, planes: float, length: int) -> bool:
    """Whether ``huff32``'s exact ``size`` is close enough to the byte planes'
    (the 148-byte header is close on a tiny chunk)."""
    ratio, extra = _HUFF16_SLACK
    return size <= max(ratio * planes, planes + max(extra * length, 256))


__all__ = [
    "SMALL",
    "DeltaOption",
    "DeltaPlan",
    "delta_plan",
    "huff16_close",
    "huff16_trial_sample",
    "huff32_close",
    "huff32_rejected",
    "is_small",
    "plane_coders",
    "plane_sample",
    "rotates",
    "sample",
    "whole_delta_width",
    "widths",
]
