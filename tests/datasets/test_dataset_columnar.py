"""Columnar encoding round-trips samples bit-exactly (Hypothesis)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmstore.datasets.columnar import (
    decode_samples,
    encode_samples,
    samples_to_table,
    table_to_samples,
)
from swarmstore.errors import CodecError, InvalidRecordError
from swarmstore.records.dataset import DatasetSamples

DTYPES = [
    "|b1",
    "|u1",
    "|i1",
    "<u2",
    ">i2",
    "<i4",
    "<u8",
    "<i8",
    "<f2",
    "<f4",
    ">f4",
    "<f8",
    ">f8",
    "<c8",
    "<c16",
]


@st.composite
def ndarrays(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    raw = draw(
        st.binary(
            min_size=dtype.itemsize * math.prod(shape), max_size=dtype.itemsize * math.prod(shape)
        )
    )
    if dtype.kind == "b":
        raw = bytes(b & 1 for b in raw)
    return (
        np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    )  # any bit pattern: NaN payloads, -0.0


values = st.one_of(ndarrays(), st.binary(max_size=40), st.text(max_size=20))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def sample_sets(draw: st.DrawFn) -> DatasetSamples:
    n = draw(st.integers(0, 6))

    def column(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(st.none() | st.lists(strategy, min_size=n, max_size=n))

    return DatasetSamples(
        inputs=draw(st.lists(values, min_size=n, max_size=n)),
        outputs=column(st.none() | values),
        labels=column(st.none() | st.text(max_size=6)),
        metadata=column(st.dictionaries(st.text(max_size=5), json_values, max_size=3)),
    )


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    return type(a) is type(b) and a == b


def same_samples(a: DatasetSamples, b: DatasetSamples) -> bool:
    if (a.outputs is None) != (b.outputs is None):
        return False
    pairs = list(zip(a.inputs, b.inputs, strict=True))
    pairs += list(zip(a.outputs or [], b.outputs or [], strict=True))
    return (
        all(same_value(x, y) for x, y in pairs)
        and a.labels == b.labels
        and a.metadata == b.metadata
    )


@settings(max_examples=40, deadline=None)
@given(sample_sets())
def test_parquet_round_trip_is_exact(samples: DatasetSamples) -> None:
    back = decode_samples(encode_samples(samples))
    assert len(back) == len(samples) and same_samples(samples, back)


@settings(max_examples=25, deadline=None)
@given(sample_sets())
def test_arrow_table_round_trip_is_exact(samples: DatasetSamples) -> None:
    assert same_samples(samples, table_to_samples(samples_to_table(samples)))


def test_graph_edge_lists_and_surrogates() -> None:
    edges = np.array([[0, 1], [1, 2], [2, 0]], dtype=np.int64)
    samples = DatasetSamples(inputs=[edges, "lone \ud800 surrogate"], labels=["g", None])
    back = decode_samples(encode_samples(samples, compression="none"))
    assert same_samples(samples, back)


def test_none_and_empty_columns_stay_distinct() -> None:
    back = decode_samples(encode_samples(DatasetSamples(inputs=[], labels=[])))
    assert back.labels == [] and back.outputs is None and back.metadata is None


def test_foreign_or_broken_bytes_raise_codec_error() -> None:
    with pytest.raises(CodecError):
        decode_samples(b"not parquet")
    with pytest.raises(CodecError):
        table_to_samples(pa.table({"inputs": [1, 2]}))


def test_metadata_must_be_json() -> None:
    with pytest.raises(InvalidRecordError, match="metadata of sample 0"):
        samples_to_table(DatasetSamples(inputs=["x"], metadata=[{"when": object()}]))
