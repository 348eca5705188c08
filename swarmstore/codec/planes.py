"""``planes``: regroup the bytes of fixed-width elements into byte planes.

For little-endian floats the last plane holds sign and high exponent bits (low
entropy), the first planes hold low mantissa bits (close to random). Splitting
lets each plane get the coder that suits it, and lets noise be stored raw.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmstore.codec import native
from swarmstore.codec.registry import register
from swarmstore.errors import CodecError

WIDTHS = (1, 2, 4, 8)
_LITTLE = sys.byteorder == "little"


@register
@dataclass(frozen=True, slots=True)
class BytePlanes:
    width: int
    codec_id = "planes"

    @property
    def config(self) -> dict[str, Any]:
        return {"width": self.width}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BytePlanes:
        width = config["width"]
        if type(width) is not int or width not in WIDTHS or len(config) != 1:
            raise CodecError(f"bad planes config {config!r}")
        return cls(width)

    def split(self, data: np.ndarray) -> list[np.ndarray]:
        """uint8 array (length divisible by width) -> ``width`` contiguous planes."""
        if self.width == 1:
            return [data]
        rows = data.reshape(-1, self.width)
        # one strided gather per plane: numpy does this far faster than a 2-D transpose copy
        return [np.ascontiguousarray(rows[:, i]) for i in range(self.width)]

    def join_into(self, planes: list[np.ndarray], out: np.ndarray) -> None:
        """``width`` uint8 planes (views: raw planes are never copied first) -> ``out``."""
        if self.width == 1:
            out[:] = planes[0]
            return
        if self.width == 2 and _LITTLE:  # 16-bit shift-or beats strided byte stores
            wide = out.view(np.uint16)
            np.left_shift(planes[1], 8, out=wide, dtype=np.uint16)
            np.bitwise_or(wide, planes[0], out=wide)
            return
        rows = out.reshape(-1, self.width)
        for i in range(self.width):
            rows[:, i] = planes[i]


# ------------------------------------------------------------ fused fast paths
# The chain ``signbit(w) > planes(w)`` (or ``planes(w)`` alone) computed with
# whole-array unsigned-integer passes: each plane is ``(x >> 8i)`` narrowed by
# a casting copy, and the join is ``x = x * 256 | plane`` -- contiguous SIMD
# passes, where strided byte gathers/stores run several times slower. Left shifts are
# written as multiplies (numpy vectorizes those for 16-bit lanes, not shifts).


def _wide(width: int) -> np.dtype:
    return np.dtype(f"<u{width}")


def split_into(data: np.ndarray, width: int, rotate: bool, out: np.ndarray) -> list[np.ndarray]:
    """Planes of ``data`` (uint8, length % width == 0) written into ``out``.

    ``rotate``: apply ``SignBitLast(width)`` first. Returns ``width`` contiguous
    views of ``out`` (plane ``i`` holds byte ``i`` of every element).
    """
    if width == 1:
        if rotate:
            raise CodecError("cannot rotate 1-byte elements")
        return [data]
    n = data.size // width
    planes = [out[i * n : (i + 1) * n] for i in range(width)]
    if native.KERNELS is not None:
        native.KERNELS.split(data, width, rotate, out)
    else:
        split_numpy(data, width, rotate, planes)
    return planes


def split_numpy(data: np.ndarray, width: int, rotate: bool, planes: list[np.ndarray]) -> None:
    """``split_into``'s numpy twin (width > 1)."""
    from swarmstore.codec.scratch import scratch_as

    n = data.size // width
    wide = _wide(width)
    x = data.view(wide)
    tmp = scratch_as("planes.tmp", n, wide)
    if rotate:
        rotated = scratch_as("planes.rot", n, wide)
        np.multiply(x, 2, out=rotated)
        np.right_shift(x, 8 * width - 1, out=tmp)
        np.bitwise_or(rotated, tmp, out=rotated)
        x = rotated
    np.copyto(planes[0], x, casting="unsafe")
    for i in range(1, width):
        np.right_shift(x, 8 * i, out=tmp)
        np.copyto(planes[i], tmp, casting="unsafe")


def join_planes_into(planes: list[np.ndarray], out: np.ndarray, width: int, rotate: bool) -> None:
    """Inverse of ``split_into``: uint8 ``planes`` (any buffers) -> ``out`` (uint8)."""
    if width == 1:
        if rotate:
            raise CodecError("cannot rotate 1-byte elements")
        out[:] = planes[0]
        return
    if native.KERNELS is not None:
        native.KERNELS.join(planes, rotate, out)
    else:
        join_numpy(planes, out, width, rotate)


def join_numpy(planes: list[np.ndarray], out: np.ndarray, width: int, rotate: bool) -> None:
    """``join_planes_into``'s numpy twin (width > 1)."""
    from swarmstore.codec.scratch import scratch_as

    n = out.size // width
    wide = _wide(width)
    x = out.view(wide)
    tmp = scratch_as("planes.tmp", n, wide)
    np.copyto(x, planes[width - 1], casting="unsafe")
    for i in range(width - 2, -1, -1):
        np.multiply(x, 256, out=x)
        np.copyto(tmp, planes[i], casting="unsafe")
        np.bitwise_or(x, tmp, out=x)
    if rotate:
        np.multiply(x, 1 << (8 * width - 1), out=tmp)  # lowest bit back to the sign
        np.right_shift(x, 1, out=x)
        np.bitwise_or(x, tmp, out=x)
