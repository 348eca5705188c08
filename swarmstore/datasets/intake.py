"""Import JSONL, CSV and plain-text files as a dataset version.

The readers of ``swarmstore.datasets.importers`` validate line by line (a bad
line raises ``ImportFormatError`` naming ``path:line``) before anything is
written; exact duplicates are removed on request and counted in the
version's provenance (``removedDuplicates`` and their line-order indices).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from swarmstore.datasets.importers import read_csv, read_jsonl, read_text
from swarmstore.datasets.statistics import remove_duplicates
from swarmstore.errors import InvalidRecordError
from swarmstore.records.dataset import DataFormat, DatasetSamples, DataType

FileFormat = Literal["jsonl", "csv", "text"]
_SUFFIXES: dict[str, FileFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "text",
    ".text": "text",
}


def file_format(path: Path, given: str | None) -> FileFormat:
    if given is not None:
        if given not in ("jsonl", "csv", "text"):
            raise InvalidRecordError(f"format must be 'jsonl', 'csv' or 'text', not {given!r}")
        return given  # type: ignore[return-value]
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise InvalidRecordError(f"cannot tell the format of {path.name!r}; pass format=")
    return found


def read_file(path: Path, fmt: FileFormat, options: Mapping[str, Any]) -> DatasetSamples:
    try:
        if fmt == "jsonl":
            return read_jsonl(path, **options)
        if fmt == "csv":
            if path.suffix.lower() == ".tsv" and "delimiter" not in options:
                options = {**options, "delimiter": "\t"}
            return read_csv(path, **options)
        return read_text(path, **options)
    except TypeError as exc:  # an option the reader does not take
        raise InvalidRecordError(f"bad import option for {fmt}: {exc}") from None
    except FileNotFoundError:
        raise InvalidRecordError(f"no such file: {os.fspath(path)}") from None


def sample_format(samples: DatasetSamples) -> DataFormat:
    """text when every input is text, image when bytes, else tensor."""
    if samples.inputs and all(isinstance(v, str) for v in samples.inputs):
        return "text"
    if samples.inputs and all(isinstance(v, bytes) for v in samples.inputs):
        return "image"
    if all(isinstance(v, np.ndarray) for v in samples.inputs):
        return "tensor"
    raise InvalidRecordError("the file mixes text, bytes and numeric inputs; pass sample_format=")


def build_record(
    path: Path,
    samples: DatasetSamples,
    *,
    dataset_id: str | None,
    name: str | None,
    data_type: DataType | None,
    sample_format_: DataFormat | None,
    fields: Mapping[str, Any],
) -> dict[str, Any]:
    fmt = sample_format_ or sample_format(samples)
    labelled = samples.labels is not None or samples.outputs is not None
    return {
        **fields,
        "id": dataset_id or path.stem,
        "name": name or path.stem,
        "dataType": data_type or ("supervised" if labelled else "unsupervised"),
        "format": fmt,
        "samples": samples,
    }


def dedupe(samples: DatasetSamples, enabled: bool) -> tuple[DatasetSamples, list[int]]:
    return remove_duplicates(samples) if enabled else (samples, [])
