"""Training datasets: store, read, versions, splits, imports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# registers the torch ``SampleDataset`` that ``TrainingDataset.torch_dataset`` builds
import swarmstore.datasets.torch_dataset  # noqa: F401  (records import no torch)
from swarmstore.datasets import intake as imp
from swarmstore.datasets.service import DatasetService, SplitPolicy
from swarmstore.datasets.splits import DEFAULT_FRACTIONS, Fractions
from swarmstore.facade.base import FacadeBase
from swarmstore.records.dataset import DataFormat, DatasetVersionInfo, DataType, TrainingDataset


class DatasetsAPI(FacadeBase):
    _datasets: DatasetService

    def _attach_datasets(self) -> None:
        """Called once at the end of the manager's ``__init__``."""
        self._datasets = DatasetService(self._meta, self._blobs, self._events)

    def _detach_datasets(self) -> None:
        """Called once at the start of ``close``, before the pool and stores shut."""

    def store_training_dataset(
        self,
        swarm_id: str,
        dataset: TrainingDataset | Mapping[str, Any],
        *,
        split_fractions: Fractions = DEFAULT_FRACTIONS,
        split_seed: int = 0,
        stratify: bool = False,
    ) -> TrainingDataset:
        """Store a dataset version (the seed's camelCase dict or a ``TrainingDataset``).

        Samples go to the blob store as Parquet. ``statistics`` and
        ``qualityScore`` are computed from the samples (fields you set win);
        without ``splits`` the store makes seeded, disjoint, complete ones
        (``split_fractions``, ``split_seed``, optionally stratified by label).
        Versions: see ``swarmstore.datasets.service``. Raises
        ``InvalidSplitError`` (overlap, out of range), ``DatasetVersionExistsError``,
        ``DatasetNotFoundError`` (unknown parent) and other ``InvalidRecordError``s
        before anything is written; fires ``training_dataset_stored``.
        """
        self._live()
        policy = SplitPolicy(fractions=split_fractions, seed=split_seed, stratify=stratify)
        return self._datasets.store(swarm_id, dataset, splits=policy)

    def get_training_dataset(
        self,
        swarm_id: str,
        dataset_id: str,
        version: str | None = None,
        *,
        include_samples: bool = True,
    ) -> TrainingDataset:
        """A version (the latest when None) with its samples, verified on read.

        ``record.samples.as_array()`` stacks arrays; ``record.torch_dataset(split)``
        is a ``torch.utils.data.Dataset``. ``DatasetNotFoundError`` when unknown."""
        self._live()
        return self._datasets.get(swarm_id, dataset_id, version, include_samples=include_samples)

    def list_dataset_versions(self, swarm_id: str, dataset_id: str) -> list[DatasetVersionInfo]:
        """Every version of a dataset, oldest first."""
        self._live()
        return self._datasets.list_versions(swarm_id, dataset_id)

    def list_training_datasets(self, swarm_id: str) -> list[dict[str, Any]]:
        """``{id, versions, latestVersion}`` of every dataset in the swarm."""
        self._live()
        return self._datasets.list_datasets(swarm_id)

    def import_training_dataset(
        self,
        swarm_id: str,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        dataset_id: str | None = None,
        name: str | None = None,
        data_type: DataType | None = None,
        sample_format: DataFormat | None = None,
        deduplicate: bool = False,
        description: str = "",
        preprocessing: Mapping[str, Any] | None = None,
        version: str | None = None,
        parent_version: str | None = None,
        split_fractions: Fractions = DEFAULT_FRACTIONS,
        split_seed: int = 0,
        stratify: bool = False,
        **reader_options: Any,
    ) -> TrainingDataset:
        """Read a JSONL, CSV or text file (``format`` from the suffix when None) and
        store it as a dataset version (id and name default to the file's stem).

        ``reader_options`` go to ``swarmstore.datasets.read_jsonl`` / ``read_csv``
        / ``read_text`` (``input_key``, ``label_key``, ``input_columns``,
        ``label_column``, ...). A bad line raises ``ImportFormatError`` with its
        line number; ``deduplicate`` drops exact duplicates (first kept).
        Nothing is written on error."""
        self._live()
        source = Path(path)
        fmt = imp.file_format(source, format)
        samples = imp.read_file(source, fmt, reader_options)
        samples, removed = imp.dedupe(samples, deduplicate)
        fields: dict[str, Any] = {"description": description}
        if preprocessing is not None:
            fields["preprocessing"] = dict(preprocessing)
        if version is not None:
            fields["version"] = version
        if parent_version is not None:
            fields["parentVersion"] = parent_version
        record = imp.build_record(
            source,
            samples,
            dataset_id=dataset_id,
            name=name,
            data_type=data_type,
            sample_format_=sample_format,
            fields=fields,
        )
        policy = SplitPolicy(fractions=split_fractions, seed=split_seed, stratify=stratify)
        provenance = {
            "importedFrom": source.name,
            "fileFormat": fmt,
            "removedDuplicates": len(removed),
        }
        return self._datasets.store(swarm_id, record, splits=policy, provenance=provenance)
