"""``signbit``: rotate each element left by one bit (sign bit to the bottom).

A little-endian bf16/fp32 element keeps sign + 7 exponent bits in its top byte
and the last exponent bit in the next one. Rotating puts the whole 8-bit
exponent in the top byte plane (low entropy, huffman-friendly) and the random
sign bit with the low mantissa bits -- ZipNN's "reorder_signbit".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from swarmstore.codec.registry import register
from swarmstore.errors import CodecError

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


@register
@dataclass(frozen=True, slots=True)
class SignBitLast:
    width: int
    codec_id = "signbit"

    @property
    def config(self) -> dict[str, Any]:
        return {"width": self.width}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SignBitLast:
        width = config["width"]
        if type(width) is not int or width not in _UINT or len(config) != 1:
            raise CodecError(f"bad signbit config {config!r}")
        return cls(width)

    def encode(self, data: np.ndarray) -> np.ndarray:
        """uint8 array -> new rotated uint8 array."""
        x = data.view(_UINT[self.width])
        y: np.ndarray = np.left_shift(x, 1)
        y |= x >> (8 * self.width - 1)
        return y.view(np.uint8)

    def decode_inplace(self, data: np.ndarray) -> None:
        y = data.view(_UINT[self.width])
        top = np.left_shift(y, 8 * self.width - 1)
        y >>= 1
        y |= top
