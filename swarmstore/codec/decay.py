"""``decay``: predict an fp32 chunk from its base by AdamW's weight decay.

AdamW multiplies every parameter by ``1 - lr * wd`` each step before its
gradient update (``p.mul_(1 - lr * wd)``), one float32 rounding per step. A
parameter no gradient touched -- an embedding row of a token the batches did
not hold -- is then exactly its base multiplied ``steps`` times by that
factor, yet its plain delta is a spread of small ulp counts (~2-5 bits per
element). Subtracting that prediction instead of the base leaves exact zeros
there, so fine-tuning deltas of embedding tables shrink most (figures in
``benchmarks/results/codec.md``).

In a frame the transform sits before ``delta`` and changes the base, not the
data: ``[decay, delta.sub]`` decodes as ``target = decay(base) + delta``.
Elements with an exponent field below 3 or of 255 (zero, subnormals, inf,
NaN) pass unchanged, and ``factor ** steps >= 0.5``, so no product is
subnormal and FTZ/DAZ modes cannot change a prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmstore.codec import native
from swarmstore.codec.registry import register
from swarmstore.errors import CodecError

MAX_STEPS = 64
_ULP_BELOW_ONE = 2.0**-24  # float32 spacing in [0.5, 1): factors are 1 - n * this
_PROBE = 2048  # sample elements each candidate prediction is tried on
_CLUSTER = 0.10  # least share of elements whose ratio sits on the decay peak
_MATCHES = 0.05  # least share of the probe a prediction must hit exactly
# Each float32 rounding moves an element's m (below) by at most ~1, so the
# elements one decay predicts sit within MAX_STEPS of each other, and a step
# count's factor within ~1 of the root through their median: a peak wider than
# that, or a slack that grows with m, only adds candidates (a large m, as Adam's
# exp_avg_sq decaying by beta2 gives, once made ~300,000 of them, a stall on every
# chunk: benchmarks/results/training_overhead.md).
_PEAK = 64.0
_SLACK = (0.6, 0.005, 1.1)  # per step count: min(a + b * center, c) around the root


@register
@dataclass(frozen=True, slots=True)
class Decay:
    factor: float  # a float32 value in [0.5, 1)
    steps: int
    codec_id = "decay"

    def __post_init__(self) -> None:
        factor, steps = self.factor, self.steps
        if (
            type(factor) is not float
            or type(steps) is not int
            or not 1 <= steps <= MAX_STEPS
            or not 0.5 <= factor < 1.0
            or float(np.float32(factor)) != factor
            or factor**steps < 0.5
        ):
            raise CodecError(f"bad decay config factor={factor!r} steps={steps!r}")

    @property
    def config(self) -> dict[str, Any]:
        return {"factor": self.factor, "steps": self.steps}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Decay:
        if set(config) != {"factor", "steps"}:
            raise CodecError(f"bad decay config {config!r}")
        return cls(config["factor"], config["steps"])

    def apply(self, base: np.ndarray, out: np.ndarray) -> None:
        """``out`` (uint8, may be ``base``) = the prediction of every element of ``base``."""
        if base.size != out.size or base.size % 4:
            raise CodecError(f"decay needs equal buffers of 4-byte elements, got {base.size}")
        kernels = native.KERNELS
        if kernels is not None:
            kernels.decay(base, self.factor, self.steps, out)
            return
        self.apply_numpy(base, out)

    def apply_numpy(self, base: np.ndarray, out: np.ndarray) -> None:
        """``apply``'s twin without the C kernels (same bits: IEEE float32 multiplies)."""
        bits = base.view(np.uint32)
        exponent = (bits >> 23) & 0xFF
        keep = (exponent < 3) | (exponent == 255)
        value = bits.view(np.float32).copy()
        factor = np.float32(self.factor)
        with np.errstate(all="ignore"):
            for _ in range(self.steps):
                np.multiply(value, factor, out=value)
        out.view(np.uint32)[:] = np.where(keep, bits, value.view(np.uint32))

    def predicted(self, base: np.ndarray) -> np.ndarray:
        out = np.empty_like(base)
        self.apply(base, out)
        return out


def detect(target: np.ndarray, base: np.ndarray) -> Decay | None:
    """The decay that predicts most elements of ``target`` (uint8 sample of fp32
    elements) from ``base`` exactly, or None when too few follow one.

    The ratios ``target / base`` of decayed elements pile up near ``factor **
    steps`` = 1 - m * 2**-24, and a float32 factor below 1 is 1 - n * 2**-24,
    so n is near ``(1 - (1 - m * 2**-24) ** (1 / steps)) * 2**24``: at most a
    few candidates per step count, tried on a small probe, the best few on a
    larger one.
    """
    t_bits, b_bits = target.view(np.uint32), base.view(np.uint32)
    exponent = (b_bits >> 23) & 0xFF
    usable = (exponent >= 3) & (exponent != 255) & (((t_bits >> 23) & 0xFF) != 255)
    t_bits, b_bits = t_bits[usable], b_bits[usable]
    if t_bits.size < 256:
        return None
    stride = -(-t_bits.size // (4 * _PROBE))  # spread over the sample: rows differ
    t_bits, b_bits = t_bits[::stride], b_bits[::stride]
    ratio = t_bits.view(np.float32).astype(np.float64) / b_bits.view(np.float32)
    m_each = (1.0 - ratio) / _ULP_BELOW_ONE
    decayed = m_each[(m_each > 0.25) & (m_each < 2.0**22)]
    if decayed.size < _CLUSTER * m_each.size:
        return None
    middle = float(np.median(decayed))
    near = decayed[np.abs(decayed - middle) <= max(3.0, min(0.1 * middle, _PEAK))]
    if near.size < _CLUSTER * m_each.size:
        return None
    m = float(np.median(near))
    small, large = _spread(t_bits.size, 128), _spread(t_bits.size, _PROBE)
    ranked = [c for _, c in _best(_candidates(m), t_bits[small], b_bits[small])[:4]]
    if not ranked:
        return None
    hits, best = _best(ranked, t_bits[large], b_bits[large])[0]
    return best if hits >= _MATCHES * large.size else None


def _spread(size: int, count: int) -> np.ndarray:
    """Up to ``count`` indices spread evenly over ``range(size)``."""
    return np.unique(np.linspace(0, size - 1, min(size, count)).astype(np.int64))


def _best(candidates: list[Decay], target: np.ndarray, base: np.ndarray) -> list[tuple[int, Decay]]:
    """``candidates`` by how many of ``base``'s elements each predicts exactly."""
    out = np.empty_like(base)
    scored: list[tuple[int, Decay]] = []
    for candidate in candidates:
        candidate.apply(base.view(np.uint8), out.view(np.uint8))
        scored.append((int(np.count_nonzero(out == target)), candidate))
    scored.sort(key=lambda hit: -hit[0])
    return scored


def _candidates(m: float) -> list[Decay]:
    """Decays whose ``factor ** steps`` is within rounding of 1 - m * 2**-24: per
    step count, the few float32 factors around that value's root (at most
    ``2 * _SLACK[2] + 1`` each, whatever m is)."""
    product = 1.0 - m * _ULP_BELOW_ONE
    if not 0.5 <= product < 1.0:
        return []
    low, per_center, most = _SLACK
    found: list[Decay] = []
    for steps in range(1, MAX_STEPS + 1):
        center = (1.0 - product ** (1.0 / steps)) / _ULP_BELOW_ONE
        slack = min(low + per_center * center, most)
        for n in range(max(1, int(np.ceil(center - slack))), int(np.floor(center + slack)) + 1):
            factor = 1.0 - n * _ULP_BELOW_ONE
            if factor >= 0.5 and factor**steps >= 0.5:
                found.append(Decay(factor, steps))
    return found
