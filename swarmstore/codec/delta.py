"""``delta``: encode a chunk relative to the same chunk of a parent version.

``op="sub"``: the wrapping difference of the raw bit patterns read as unsigned
integers of ``width`` bytes, zigzag-coded so that small steps either way give
small numbers (leading zero bytes). ``op="xor"``: bitwise XOR. Both are exact
bijections given the base, so any bit pattern (NaN payloads, -0.0) survives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmstore.codec import native
from swarmstore.codec.registry import register
from swarmstore.errors import CodecError

_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_INT = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}
OPS = ("sub", "xor")


@register
@dataclass(frozen=True, slots=True)
class Delta:
    op: str
    width: int
    codec_id = "delta"

    @property
    def config(self) -> dict[str, Any]:
        return {"op": self.op, "width": self.width}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Delta:
        op, width = config["op"], config["width"]
        if op not in OPS or type(width) is not int or width not in _UINT or len(config) != 2:
            raise CodecError(f"bad delta config {config!r}")
        return cls(op, width)

    def encode(self, target: np.ndarray, base: np.ndarray) -> np.ndarray:
        """uint8 arrays of equal length (divisible by width) -> delta bytes (new array)."""
        kernels = native.KERNELS
        if kernels is not None:
            out = np.empty(target.size, dtype=np.uint8)
            kernels.delta(target, base, self.width, self.op == "sub", out)
            return out
        return self.encode_numpy(target, base)

    def encode_numpy(self, target: np.ndarray, base: np.ndarray) -> np.ndarray:
        t = target.view(_UINT[self.width])
        b = base.view(_UINT[self.width])
        if self.op == "xor":
            xored: np.ndarray = np.bitwise_xor(t, b).view(np.uint8)
            return xored
        s = np.subtract(t, b).view(_INT[self.width])
        z: np.ndarray = np.left_shift(s, 1)
        z ^= s >> (8 * self.width - 1)
        return z.view(np.uint8)

    def decode_inplace(self, delta: np.ndarray, base: np.ndarray) -> None:
        """Turn ``delta`` (uint8, writable) into the target, in place."""
        kernels = native.KERNELS
        if kernels is not None:
            kernels.undelta(delta, base, self.width, self.op == "sub")
            return
        self.decode_inplace_numpy(delta, base)

    def apply_planes(self, planes: list[np.ndarray], out: np.ndarray) -> None:
        """``out`` holds the base; add (or XOR) the delta given as its ``width``
        byte planes, in place: the chain step of a restore, one pass with the
        kernels."""
        kernels = native.KERNELS
        if kernels is not None:
            kernels.join_apply(planes, self.width, self.op == "sub", out)
            return
        self.apply_planes_numpy(planes, out)

    def apply_planes_numpy(self, planes: list[np.ndarray], out: np.ndarray) -> None:
        joined = np.empty(out.size, dtype=np.uint8)
        for b, plane in enumerate(planes):
            joined[b :: self.width] = plane
        self.decode_inplace_numpy(joined, out)
        out[:] = joined

    def decode_inplace_numpy(self, delta: np.ndarray, base: np.ndarray) -> None:
        d = delta.view(_UINT[self.width])
        b = base.view(_UINT[self.width])
        if self.op == "sub":
            sign = np.bitwise_and(d, 1)
            np.right_shift(d, 1, out=d)
            np.subtract(0, sign, out=sign)  # 0 or all ones (wrapping)
            d ^= sign
            np.add(d, b, out=d)
        else:
            np.bitwise_xor(d, b, out=d)
