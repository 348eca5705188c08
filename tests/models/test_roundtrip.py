"""Every dtype and shape restores bit-exactly, through one or many chunks."""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmstore import InvalidRecordError, SwarmDatabaseManager
from swarmstore.dtypes import DTYPES
from tests.conftest import bits_equal, model_record

ALL_DTYPES = sorted(DTYPES)


def random_tensor(dtype_name: str, shape: tuple[int, ...], data: bytes) -> torch.Tensor:
    dtype = getattr(torch, dtype_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # complex32 is "experimental" in torch
        itemsize = torch.empty(0, dtype=dtype).element_size()
        count = int(np.prod(shape)) if shape else 1
        raw = (
            (data * (count * itemsize // max(1, len(data)) + 1))[: count * itemsize]
            if data
            else bytes(count * itemsize)
        )
        return (
            torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape)
            if count
            else torch.empty(shape, dtype=dtype)
        )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    dtype=st.sampled_from(ALL_DTYPES),
    shape=st.lists(st.integers(0, 9), min_size=0, max_size=3).map(tuple),
    data=st.binary(min_size=0, max_size=512),
)
def test_any_dtype_shape_and_bits_round_trip(
    tmp_path_factory: pytest.TempPathFactory, dtype: str, shape: tuple[int, ...], data: bytes
) -> None:
    tensor = random_tensor(dtype, shape, data)
    with (
        SwarmDatabaseManager.open(tmp_path_factory.mktemp("s"), durability="normal") as db,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", UserWarning)
        db.store_neural_model("s", model_record("v1", {"t": tensor}))
        back = db.get_neural_model("s", "model_001", "v1").weights["t"]
        assert bits_equal(back, tensor)


def test_special_float_values_keep_their_bits(db: SwarmDatabaseManager) -> None:
    payload_nan = torch.from_numpy(
        np.array([0x7FC00001, 0xFFC12345, 0x7F800001], dtype=np.uint32).view(np.float32)
    )
    specials = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), 1e-45, -1e-45, 3.4e38])
    weights = {
        "f32": torch.cat([payload_nan, specials]),
        "bf16": torch.cat([payload_nan, specials]).to(torch.bfloat16),
        "f16": torch.tensor([-0.0, 6e-8, float("nan"), 65504.0], dtype=torch.float16),
        "f64": torch.tensor([-0.0, 5e-324, float("nan")], dtype=torch.float64),
    }
    db.store_neural_model("s", model_record("v1", weights))
    back = db.get_neural_model("s", "model_001").weights
    for name, tensor in weights.items():
        assert bits_equal(back[name], tensor), name


def test_layouts_views_and_tied_weights(db: SwarmDatabaseManager) -> None:
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
    embedding = torch.randn(10, 4)
    weights = {
        "scalar": torch.tensor(3.5),
        "empty": torch.empty(0, 7),
        "transposed": base.t(),
        "strided": base[::2, 1::3],
        "view_a": base[:3],
        "view_b": base[3:],
        "embed.weight": embedding,
        "lm_head.weight": embedding,  # tied
        "requires_grad": torch.nn.Parameter(torch.ones(3)),
        "conj": torch.tensor([1 + 2j, 3 - 4j]).conj(),
    }
    db.store_neural_model("s", model_record("v1", weights))
    back = db.get_neural_model("s", "model_001").weights
    for name, tensor in weights.items():
        expected = tensor.detach().resolve_conj()
        assert bits_equal(back[name], expected.contiguous()), name
    assert back["lm_head.weight"] is back["embed.weight"]  # ties restored as ties


def test_large_tensor_spans_many_chunks(tmp_path: Path) -> None:
    tensor = torch.randn(3, 10_001)  # 120 KB over 16 KB chunks, last chunk partial
    with SwarmDatabaseManager.open(tmp_path, durability="normal", chunk_bytes=16384) as db:
        db.store_neural_model(
            "s", model_record("v1", {"big": tensor, "odd": torch.randn(4097, dtype=torch.float64)})
        )
        back = db.get_neural_model("s", "model_001").weights
        assert bits_equal(back["big"], tensor)
        changed = tensor.clone()
        changed[1, 5000] += 1
        db.store_neural_model("s", model_record("v2", {"big": changed}, parentVersion="v1"))
        assert bits_equal(db.get_neural_model("s", "model_001", "v2").weights["big"], changed)
        assert bits_equal(db.get_neural_model("s", "model_001", "v1").weights["big"], tensor)


def test_numpy_arrays_and_flat_buffers(db: SwarmDatabaseManager) -> None:
    arrays = {
        "a": np.arange(12, dtype=np.int16).reshape(3, 4),
        "b": np.array([1.5, -0.0], dtype=">f8"),
    }
    db.store_neural_model("s", model_record("np", arrays))
    back = db.get_neural_model("s", "model_001", "np").weights
    assert np.array_equal(back["a"].numpy(), arrays["a"])
    assert back["b"].numpy().tobytes() == arrays["b"].astype("<f8").tobytes()

    raw_w, raw_b = bytes(range(256)) * 3, b"\x00\x01\x02"
    db.store_neural_model("s", model_record("flat", raw_w, biases=raw_b))
    rec = db.get_neural_model("s", "model_001", "flat")
    assert rec.weights["flat"].numpy().tobytes() == raw_w
    assert rec.biases["flat"].numpy().tobytes() == raw_b

    db.store_neural_model("s", model_record("list", [0.5, 1.5, -2.0]))
    assert db.get_neural_model("s", "model_001", "list").weights["flat"].tolist() == [
        0.5,
        1.5,
        -2.0,
    ]


def _stored_frames(store_path: Path) -> tuple[set[str], set[str]]:
    """Names of the blob files and keys of the inline frames (kept in SQL)."""
    files = {p.name for p in (store_path / "blobs").rglob("*") if p.is_file()}
    conn = sqlite3.connect(store_path / "meta.sqlite3")
    try:
        inline = {row[0] for row in conn.execute("SELECT key FROM inline_frames")}
    finally:
        conn.close()
    return files, inline


def test_identical_tensors_are_stored_once_across_models_and_swarms(
    db: SwarmDatabaseManager, store_path: Path
) -> None:
    frozen = torch.randn(256, 256)
    db.store_neural_model("s1", model_record("v1", {"backbone": frozen, "head": torch.randn(4)}))
    first_files, first_inline = _stored_frames(store_path)
    second = db.store_neural_model(
        "s2",
        model_record("v1", {"backbone": frozen.clone(), "head": torch.randn(4)}, model_id="other"),
    )
    second_files, second_inline = _stored_frames(store_path)
    assert second_files == first_files and len(first_files) == 1  # the backbone, once
    assert len(second_inline - first_inline) == 1  # only the new head (small: kept in SQL)
    assert second.metadata.stored_size is not None and second.metadata.stored_size < 1024


def test_unchanged_tensor_in_next_version_writes_nothing(db: SwarmDatabaseManager) -> None:
    weights = {"frozen": torch.randn(64, 64), "trained": torch.randn(64)}
    db.store_neural_model("s", model_record("v1", weights))
    nxt = dict(weights, trained=weights["trained"] + 1)
    stored = db.store_neural_model("s", model_record("v2", nxt, parentVersion="v1"))
    assert stored.metadata.stored_size is not None and stored.metadata.stored_size < 64 * 4 + 200


@pytest.mark.embedded_only
def test_small_frames_commit_in_sql_and_big_ones_as_blob_files(tmp_path: Path) -> None:
    """Frames up to ``inline_frame_bytes`` are rows of ``inline_frames``; bigger
    ones are blob files; both restore bit-exactly in a fresh process-like reopen,
    and ``inline_frame_bytes=0`` writes every frame as a file."""
    gen = torch.Generator().manual_seed(3)
    weights = {
        "big": torch.randn(128, 256, generator=gen),  # 128 KB of noise: a file
        "bias": torch.randn(96, generator=gen),
        "norm": torch.ones(96),
    }
    for limit, files, inline in ((32 << 10, 1, 2), (0, 3, 0)):
        root = tmp_path / f"limit{limit}"
        with SwarmDatabaseManager.open(root, durability="normal", inline_frame_bytes=limit) as db:
            stored = db.store_neural_model("s", model_record("v1", weights))
        assert stored.metadata.stored_size is not None and stored.metadata.stored_size > 0
        found_files, found_inline = _stored_frames(root)
        assert (len(found_files), len(found_inline)) == (files, inline)
        with SwarmDatabaseManager.open(root, durability="normal") as db:
            back = db.get_neural_model("s", "model_001", "v1").weights
            assert all(bits_equal(back[k], v) for k, v in weights.items())
            assert db.check().ok and db.gc(grace_seconds=0).deleted == 0


def test_stored_size_counts_an_inline_frame_once(db: SwarmDatabaseManager) -> None:
    bias = torch.randn(64)
    first = db.store_neural_model("s", model_record("v1", {"a": bias, "b": bias.clone()}))
    again = db.store_neural_model("s", model_record("v2", {"a": bias.clone()}, model_id="m2"))
    frame = first.metadata.stored_size
    assert frame is not None and 0 < frame < 2 * 64 * 4  # one frame (~350 B) for both tensors
    assert again.metadata.stored_size == 0  # already stored, by another model


@pytest.mark.parametrize("limit", [-1, (1 << 20) + 1])
def test_inline_frame_bytes_out_of_range_is_refused(tmp_path: Path, limit: int) -> None:
    with pytest.raises(InvalidRecordError, match="inline_frame_bytes"):
        SwarmDatabaseManager.open(tmp_path, inline_frame_bytes=limit)
    assert not (tmp_path / "meta.sqlite3").exists()
