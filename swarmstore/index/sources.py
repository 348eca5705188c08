"""Vectors of stored things: reads a model version or a dataset and embeds it.

Model versions stream their tensors (``iter_tensors``: memory stays near the
decode window, not the model) through ``tensor_statistics``; metrics and
hyperparameters come from the version row. Datasets are embedded from their
record when the store can load it (``dataset_loader``), otherwise from the
lineage node's properties alone; such vectors carry the embedder id
``DATASET_EMBEDDER_ID + LINEAGE_ONLY`` so that ``check`` can say that a
``reindex`` would improve them (see ``Indexer``: rows are never skipped, so
the watermark never waits on a record type this build cannot read).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from swarmstore.errors import NotFoundError
from swarmstore.index.embedder import DATASET_EMBEDDER_ID, embed_dataset, embed_model
from swarmstore.index.embedder import tensor_statistics as stats_of
from swarmstore.index.lance import DatasetVector, ModelVector
from swarmstore.meta.engine import MetaStore
from swarmstore.models import queries as q
from swarmstore.models.service import ModelVersionService

LINEAGE_ONLY = "+lineage-only"
#: Version metadata keys that describe storage, not performance.
_NOT_METRICS = frozenset(
    {"modelSize", "storedSize", "model_size", "stored_size", "trainingEpochs", "training_epochs"}
)
#: ``dataset_loader(swarm_id, dataset_id, version)`` -> the record (pydantic or
#: mapping), or None when it cannot be loaded.
DatasetLoader = Callable[[str, str, str | None], Any]


def metrics_of(meta: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in meta.items():
        if key in _NOT_METRICS or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            out[key] = float(value)
    return out


class StoreVectorSource:
    """Makes ``ModelVector`` / ``DatasetVector`` rows from what the store holds."""

    def __init__(
        self,
        meta: MetaStore,
        models: ModelVersionService,
        dataset_loader: DatasetLoader | None = None,
    ) -> None:
        self._meta = meta
        self._models = models
        self._dataset_loader = dataset_loader

    def model_vector(self, swarm_id: str, model_id: str, version: str) -> ModelVector | None:
        """The version's vector, or None when it is gone (deleted or never stored)."""
        with self._meta.read() as session:
            model = q.find_model(session, swarm_id, model_id)
            row = q.find_version(session, model.pk, version) if model is not None else None
            if row is None:
                return None
            architecture = row.architecture or (model.architecture if model else "")
            hyperparameters = dict(row.hyperparameters or {})
            metrics = metrics_of(dict(row.meta or {}))
        specs: list[tuple[str, str, tuple[int, ...]]] = []
        statistics: dict[str, dict[str, Any]] = {}
        try:
            for group, name, tensor in self._models.iter_tensors(swarm_id, model_id, version):
                if group == "state":  # optimizer / RNG state says nothing about the model
                    continue
                full = name if group == "weights" else f"{group}/{name}"
                specs.append((full, str(tensor.dtype).removeprefix("torch."), tuple(tensor.shape)))
                statistics[full] = stats_of(tensor)
        except NotFoundError:
            return None
        vector = embed_model(
            architecture=architecture,
            hyperparameters=hyperparameters,
            tensors=specs,
            statistics=statistics,
            metrics=metrics,
        )
        accuracy = metrics.get("accuracy")
        return ModelVector(
            id="",  # the caller sets the node key
            swarm_id=swarm_id,
            vector=vector,
            model_id=model_id,
            version=version,
            architecture=architecture or None,
            accuracy=accuracy,
        )

    def dataset_vector(
        self, swarm_id: str, dataset_id: str, version: str | None, props: Mapping[str, Any]
    ) -> DatasetVector:
        """From the dataset record when loadable, else from the lineage ``props``."""
        record = self._load_dataset(swarm_id, dataset_id, version)
        source = _as_mapping(record) if record is not None else dict(props)
        features = dataset_features(source)
        embedder = DATASET_EMBEDDER_ID if record is not None else DATASET_EMBEDDER_ID + LINEAGE_ONLY
        return DatasetVector(
            id="",
            swarm_id=swarm_id,
            vector=embed_dataset(**features),
            name=features["name"],
            version=version,
            data_type=features["data_type"],
            embedder=embedder,
        )

    def _load_dataset(self, swarm_id: str, dataset_id: str, version: str | None) -> Any:
        if self._dataset_loader is None:
            return None
        try:
            return self._dataset_loader(swarm_id, dataset_id, version)
        except (NotFoundError, NotImplementedError, AttributeError, TypeError):
            return None


def _as_mapping(record: Any) -> dict[str, Any]:
    if isinstance(record, Mapping):
        return dict(record)
    dump = getattr(record, "model_dump", None)
    if callable(dump):
        return dict(dump(exclude={"samples"}))
    return dict(vars(record))


def _get(mapping: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if isinstance(mapping, Mapping) and mapping.get(name) is not None:
            return mapping[name]
    return None


def dataset_features(source: Mapping[str, Any]) -> dict[str, Any]:
    """``embed_dataset`` keyword arguments from a dataset record or lineage props
    (snake_case or camelCase keys; anything missing is left out)."""
    stats = _get(source, "statistics") or {}
    stats = stats if isinstance(stats, Mapping) else {}
    distribution = _get(stats, "data_distribution", "dataDistribution") or {}
    dims = _get(stats, "input_dimensions", "inputDimensions") or []
    preprocessing = _get(source, "preprocessing") or {}
    tags = [str(t) for t in (_get(source, "tags") or []) if isinstance(t, str)]
    if isinstance(preprocessing, Mapping):
        tags += [str(a) for a in preprocessing.get("augmentation") or []]
        if preprocessing.get("normalization"):
            tags.append(f"norm {preprocessing['normalization']}")
    if _get(source, "format"):
        tags.append(str(source["format"]))
    samples = _get(stats, "total_samples", "totalSamples")
    if samples is None:
        samples = _get(source, "num_samples", "numSamples", "sample_count")
    numbers = {
        k: float(v)
        for k, v in stats.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return {
        "name": str(_get(source, "name") or "") or None,
        "data_type": str(_get(source, "data_type", "dataType") or "") or None,
        "num_samples": int(samples) if isinstance(samples, int | float) else None,
        "schema": {f"input_{i}": str(d) for i, d in enumerate(dims)} or None,
        "label_distribution": {
            str(k): float(v) for k, v in distribution.items() if isinstance(v, int | float)
        }
        if isinstance(distribution, Mapping)
        else None,
        "tags": tags,
        "statistics": numbers,
    }
