"""The ``.safetensors`` format, streamed tensor by tensor.

The format is an 8-byte little-endian header length, a JSON header (name →
dtype, shape, data_offsets; optional ``__metadata__``) and the raw bytes.
Writing and reading it here (instead of ``safetensors.torch.save_file`` /
``load_file``) keeps memory near one tensor on export and maps the file on
import instead of copying it; the tests check both ways against the
``safetensors`` library itself.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from swarmstore.dtypes import dtype_info, from_safetensors_code
from swarmstore.errors import InvalidRecordError, UnsupportedDtypeError
from swarmstore.models.manifest import TensorEntry
from swarmstore.models.tensors import TensorSource

_MAX_HEADER = 100 << 20


def _code(entry: TensorEntry) -> str:
    code = dtype_info(entry.dtype).safetensors
    if code is None:
        raise UnsupportedDtypeError(
            f"tensor {entry.name!r} has dtype {entry.dtype!r}, which safetensors cannot hold"
        )
    return code


def write_safetensors(
    path: Path,
    entries: list[tuple[str, TensorEntry]],
    tensors: Iterator[memoryview],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write ``entries`` (file name → manifest entry) whose bytes ``tensors``
    yields in the same order; temp file + fsync + rename, so a crash never
    leaves a half file under ``path``."""
    header: dict[str, object] = {}
    offset = 0
    for name, entry in entries:
        header[name] = {
            "dtype": _code(entry),
            "shape": list(entry.shape),
            "data_offsets": [offset, offset + entry.byte_length],
        }
        offset += entry.byte_length
    if metadata:
        header["__metadata__"] = metadata
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # align the data section as the reference writer does
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "wb") as out:
        out.write(struct.pack("<Q", len(head)))
        out.write(head)
        for (name, entry), data in zip(entries, tensors, strict=True):
            if data.nbytes != entry.byte_length:
                raise InvalidRecordError(
                    f"tensor {name!r} produced {data.nbytes} bytes, expected {entry.byte_length}"
                )
            out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)


def read_safetensors(
    path: Path, group: str = "weights"
) -> tuple[list[TensorSource], dict[str, str]]:
    """Map ``path`` and return sources viewing it (no copy) plus its metadata.

    A malformed file raises ``InvalidRecordError`` naming the file and what is wrong.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise InvalidRecordError(f"{path}: too short to be a safetensors file")
        (head_len,) = struct.unpack("<Q", prefix)
        if head_len > min(_MAX_HEADER, size - 8):
            raise InvalidRecordError(f"{path}: header length {head_len} exceeds the file")
        try:
            header = json.loads(handle.read(head_len))
        except ValueError as exc:
            raise InvalidRecordError(f"{path}: header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise InvalidRecordError(f"{path}: header is not an object")
    metadata = header.pop("__metadata__", None) or {}
    data_start = 8 + head_len
    data_len = size - data_start
    mapped = (
        np.memmap(path, dtype=np.uint8, mode="r", offset=data_start, shape=(data_len,))
        if data_len
        else np.empty(0, np.uint8)
    )
    sources = []
    for name, spec in sorted(header.items(), key=lambda kv: kv[1].get("data_offsets", [0])[0]):
        try:
            info = from_safetensors_code(spec["dtype"])
            shape = tuple(int(d) for d in spec["shape"])
            begin, end = (int(v) for v in spec["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRecordError(
                f"{path}: tensor {name!r} has a malformed entry ({exc})"
            ) from None
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not 0 <= begin <= end <= data_len or end - begin != count * info.itemsize:
            raise InvalidRecordError(
                f"{path}: tensor {name!r} offsets {begin}..{end} do not fit its shape or the file"
            )
        sources.append(
            TensorSource(group, name, info.name, shape, mapped[begin:end].data.cast("B"))
        )
    return sources, {str(k): str(v) for k, v in metadata.items()}


def export_names(entries: Iterable[TensorEntry]) -> list[tuple[str, TensorEntry]]:
    """File names for a version's tensors: weights as they are, other groups prefixed."""
    return [(e.name if e.group == "weights" else f"{e.group}/{e.name}", e) for e in entries]
