"""The element types swarmstore stores, described without importing torch.

A dtype is named as torch names it (``"bfloat16"``, ``"float8_e4m3fn"``). The
codec needs only the element width and whether byte planes pay off; the
safetensors adapter needs the safetensors code; numpy interop needs the numpy
name where one exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from swarmstore.errors import UnsupportedDtypeError

Kind = Literal["float", "int", "uint", "bool", "complex", "bits"]


@dataclass(frozen=True, slots=True)
class DTypeInfo:
    name: str
    itemsize: int
    kind: Kind
    safetensors: str | None = None
    numpy: str | None = None

    @property
    def is_floating(self) -> bool:
        """Floats (complex too) have sign/exponent bytes worth splitting into planes."""
        return self.kind in ("float", "complex")


_TABLE: tuple[DTypeInfo, ...] = (
    DTypeInfo("bool", 1, "bool", "BOOL", "bool"),
    DTypeInfo("uint8", 1, "uint", "U8", "uint8"),
    DTypeInfo("int8", 1, "int", "I8", "int8"),
    DTypeInfo("uint16", 2, "uint", "U16", "uint16"),
    DTypeInfo("int16", 2, "int", "I16", "int16"),
    DTypeInfo("uint32", 4, "uint", "U32", "uint32"),
    DTypeInfo("int32", 4, "int", "I32", "int32"),
    DTypeInfo("uint64", 8, "uint", "U64", "uint64"),
    DTypeInfo("int64", 8, "int", "I64", "int64"),
    DTypeInfo("float16", 2, "float", "F16", "float16"),
    DTypeInfo("bfloat16", 2, "float", "BF16"),
    DTypeInfo("float32", 4, "float", "F32", "float32"),
    DTypeInfo("float64", 8, "float", "F64", "float64"),
    DTypeInfo("float8_e4m3fn", 1, "float", "F8_E4M3"),
    DTypeInfo("float8_e4m3fnuz", 1, "float", "F8_E4M3FNUZ"),
    DTypeInfo("float8_e5m2", 1, "float", "F8_E5M2"),
    DTypeInfo("float8_e5m2fnuz", 1, "float", "F8_E5M2FNUZ"),
    DTypeInfo("float8_e8m0fnu", 1, "float", "F8_E8M0"),
    DTypeInfo("float4_e2m1fn_x2", 1, "float", "F4"),
    DTypeInfo("complex32", 4, "complex"),
    DTypeInfo("complex64", 8, "complex", "C64", "complex64"),
    DTypeInfo("complex128", 16, "complex", "C128", "complex128"),
    DTypeInfo("bits8", 1, "bits"),
    DTypeInfo("bits16", 2, "bits"),
    DTypeInfo("bits1x8", 1, "bits"),
    DTypeInfo("bits2x4", 1, "bits"),
    DTypeInfo("bits4x2", 1, "bits"),
)

DTYPES: dict[str, DTypeInfo] = {info.name: info for info in _TABLE}
_BY_NUMPY: dict[str, DTypeInfo] = {info.numpy: info for info in _TABLE if info.numpy}
_BY_SAFETENSORS: dict[str, DTypeInfo] = {
    info.safetensors: info for info in _TABLE if info.safetensors
}


def dtype_info(name: str) -> DTypeInfo:
    """Look up a dtype by its torch name; unknown names raise ``UnsupportedDtypeError``."""
    try:
        return DTYPES[name]
    except KeyError:
        raise UnsupportedDtypeError(f"dtype {name!r} cannot be stored bit-exactly") from None


def from_numpy_name(name: str) -> DTypeInfo:
    try:
        return _BY_NUMPY[name]
    except KeyError:
        raise UnsupportedDtypeError(f"numpy dtype {name!r} is not supported") from None


def from_safetensors_code(code: str) -> DTypeInfo:
    try:
        return _BY_SAFETENSORS[code]
    except KeyError:
        raise UnsupportedDtypeError(f"safetensors dtype {code!r} is not supported") from None
