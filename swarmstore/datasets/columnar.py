"""Samples <-> Arrow table <-> Parquet bytes, bit-exact and without pickle.

Layout (format ``swarmstore.samples/1``, written into the schema metadata so a
later version can still read it):

- ``inputs``: struct ``{kind, dtype, shape, data}`` per sample. ``kind`` is
  ``ndarray`` (``dtype`` is numpy's dtype string such as ``<f4``, ``data`` the
  C-order raw bytes, so NaN payloads and -0.0 survive), ``bytes`` or ``text``
  (UTF-8 with surrogatepass). Graph edge lists are ndarrays.
- ``outputs``: the same struct, null for a sample without output.
- ``labels``: nullable string.
- ``metadata``: the per-sample dict as JSON text (JSON values only: tuples
  come back as lists, non-string keys as strings).

A column is absent when the ``DatasetSamples`` field is None, so None and an
empty list stay distinct.
"""

from __future__ import annotations

import io
import json
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from swarmstore.errors import CodecError, InvalidRecordError
from swarmstore.records.dataset import ARRAY_KINDS, DatasetSamples

FORMAT_KEY = b"swarmstore.samples"
FORMAT_VERSION = b"1"

VALUE_TYPE = pa.struct(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("dtype", pa.string()),
        pa.field("shape", pa.list_(pa.int64())),
        pa.field("data", pa.large_binary(), nullable=False),
    ]
)

Compression = Literal["zstd", "lz4", "snappy", "gzip", "none"]


def _value_array(values: list[Any], *, nullable: bool) -> pa.StructArray:
    kinds: list[str | None] = []
    dtypes: list[str | None] = []
    shapes: list[list[int] | None] = []
    data: list[bytes | None] = []
    mask: list[bool] = []
    for index, value in enumerate(values):
        mask.append(value is None)
        if value is None:
            if not nullable:
                raise InvalidRecordError(f"input {index} is None")
            kinds.append("bytes")
            dtypes.append(None)
            shapes.append(None)
            data.append(b"")
        elif isinstance(value, np.ndarray):
            kinds.append("ndarray")
            dtypes.append(value.dtype.str)
            shapes.append(list(value.shape))
            data.append(value.tobytes(order="C"))
        elif isinstance(value, bytes):
            kinds.append("bytes")
            dtypes.append(None)
            shapes.append(None)
            data.append(value)
        elif isinstance(value, str):
            kinds.append("text")
            dtypes.append(None)
            shapes.append(None)
            data.append(value.encode("utf-8", "surrogatepass"))
        else:
            raise InvalidRecordError(f"sample {index}: cannot encode {type(value).__name__}")
    children = [
        pa.array(kinds, pa.string()),
        pa.array(dtypes, pa.string()),
        pa.array(shapes, pa.list_(pa.int64())),
        pa.array(data, pa.large_binary()),
    ]
    return pa.StructArray.from_arrays(
        children, fields=list(VALUE_TYPE), mask=pa.array(mask, pa.bool_()) if nullable else None
    )


def _decode_value(kind: str, dtype: str | None, shape: list[int] | None, data: bytes) -> Any:
    if kind == "text":
        return data.decode("utf-8", "surrogatepass")
    if kind == "bytes":
        return data
    if kind == "ndarray" and dtype is not None and shape is not None:
        np_dtype = np.dtype(dtype)
        if np_dtype.kind not in ARRAY_KINDS:
            raise CodecError(f"refusing non-numeric dtype {dtype!r}")
        return np.frombuffer(data, dtype=np_dtype).reshape(shape).copy()
    raise CodecError(f"unknown sample kind {kind!r}")


def _values(column: pa.ChunkedArray) -> list[Any]:
    array = column.combine_chunks()
    kinds = array.field("kind").to_pylist()
    dtypes = array.field("dtype").to_pylist()
    shapes = array.field("shape").to_pylist()
    data = array.field("data").to_pylist()
    valid = array.is_valid().to_pylist()
    return [
        _decode_value(k, d, s, b) if ok else None
        for k, d, s, b, ok in zip(kinds, dtypes, shapes, data, valid, strict=True)
    ]


def samples_to_table(samples: DatasetSamples) -> pa.Table:
    """The Arrow table of ``samples`` (layout in the module docstring)."""
    columns: dict[str, pa.Array] = {"inputs": _value_array(list(samples.inputs), nullable=False)}
    if samples.outputs is not None:
        columns["outputs"] = _value_array(list(samples.outputs), nullable=True)
    if samples.labels is not None:
        columns["labels"] = pa.array(samples.labels, pa.string())
    if samples.metadata is not None:
        texts = []
        for index, entry in enumerate(samples.metadata):
            try:
                texts.append(json.dumps(entry, ensure_ascii=False))
            except (TypeError, ValueError) as exc:
                raise InvalidRecordError(f"metadata of sample {index}: {exc}") from exc
        columns["metadata"] = pa.array(texts, pa.large_string())
    table = pa.table(columns)
    return table.replace_schema_metadata({FORMAT_KEY: FORMAT_VERSION})


def table_to_samples(table: pa.Table) -> DatasetSamples:
    """Inverse of ``samples_to_table``; raises ``CodecError`` for another format."""
    version = (table.schema.metadata or {}).get(FORMAT_KEY)
    if version != FORMAT_VERSION:
        raise CodecError(f"not a swarmstore samples table (format {version!r})")
    names = set(table.column_names)
    metadata = None
    if "metadata" in names:
        metadata = [json.loads(text) for text in table.column("metadata").to_pylist()]
    return DatasetSamples(
        inputs=_values(table.column("inputs")),
        outputs=_values(table.column("outputs")) if "outputs" in names else None,
        labels=table.column("labels").to_pylist() if "labels" in names else None,
        metadata=metadata,
    )


def encode_samples(samples: DatasetSamples, *, compression: Compression = "zstd") -> bytes:
    """Parquet bytes of ``samples``, ready for the blob store."""
    sink = io.BytesIO()
    pq.write_table(samples_to_table(samples), sink, compression=compression)
    return sink.getvalue()


def decode_samples(data: bytes) -> DatasetSamples:
    """Samples from ``encode_samples`` output; ``CodecError`` when unreadable."""
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as exc:
        raise CodecError(f"cannot read samples parquet: {exc}") from exc
    return table_to_samples(table)
