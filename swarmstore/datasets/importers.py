"""Read JSONL, CSV and plain-text files into ``DatasetSamples``.

Each reader validates as it goes: the first bad line raises
``ImportFormatError`` whose message starts ``path:line:`` (as compilers do)
and whose ``path``/``line`` fields say where. ``deduplicate=True`` drops exact
duplicates (see ``statistics.remove_duplicates``), keeping first occurrences.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import DTypeLike

from swarmstore.datasets.statistics import remove_duplicates
from swarmstore.errors import InvalidRecordError
from swarmstore.records.dataset import DatasetSamples, coerce_sample

PathLike = str | os.PathLike[str]


class ImportFormatError(InvalidRecordError):
    """A line of an imported file cannot be read as a sample."""

    def __init__(self, path: PathLike, line: int | None, reason: str) -> None:
        where = f"{os.fspath(path)}:{line}" if line is not None else os.fspath(path)
        super().__init__(f"{where}: {reason}")
        self.path, self.line, self.reason = os.fspath(path), line, reason


def _finish(samples: DatasetSamples, deduplicate: bool) -> DatasetSamples:
    return remove_duplicates(samples)[0] if deduplicate else samples


def _value(raw: Any, dtype: DTypeLike | None) -> np.ndarray | bytes | str:
    value = coerce_sample(raw)
    if dtype is not None and isinstance(value, np.ndarray):
        value = value.astype(dtype)
    return value


def _label(raw: Any) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    raise ValueError(f"label must be a string or integer, got {type(raw).__name__}")


def read_jsonl(
    path: PathLike,
    *,
    input_key: str = "input",
    output_key: str | None = None,
    label_key: str | None = None,
    keep_metadata: bool = True,
    dtype: DTypeLike | None = None,
    deduplicate: bool = False,
) -> DatasetSamples:
    """One JSON object per line; blank lines are skipped.

    ``input_key`` holds text (a string), numbers (nested lists -> array, cast
    to ``dtype`` if given) or a tagged ``{"kind": "bytes", "data": base64}``.
    A missing label is None. With ``keep_metadata`` every other key goes to the
    sample's metadata dict."""
    inputs: list[Any] = []
    outputs: list[Any] = []
    labels: list[str | None] = []
    metadata: list[dict[str, Any]] = []
    used = {input_key, output_key, label_key}
    with open(path, "rb") as handle:
        for number, raw_line in enumerate(handle, start=1):
            try:
                text = raw_line.decode("utf-8")
                if not text.strip():
                    continue
                row = json.loads(text)
                if not isinstance(row, dict):
                    raise ValueError(f"expected a JSON object, got {type(row).__name__}")
                if input_key not in row:
                    raise ValueError(f"missing key {input_key!r}")
                inputs.append(_value(row[input_key], dtype))
                if output_key is not None:
                    out = row.get(output_key)
                    outputs.append(None if out is None else _value(out, dtype))
                if label_key is not None:
                    labels.append(_label(row.get(label_key)))
                metadata.append({k: v for k, v in row.items() if k not in used})
            except (UnicodeDecodeError, ValueError, TypeError) as exc:
                raise ImportFormatError(path, number, str(exc)) from exc
    samples = DatasetSamples(
        inputs=inputs,
        outputs=outputs if output_key is not None else None,
        labels=labels if label_key is not None else None,
        metadata=metadata if keep_metadata and any(metadata) else None,
    )
    return _finish(samples, deduplicate)


def _numbers(cells: Sequence[str], columns: Sequence[str], dtype: DTypeLike) -> np.ndarray:
    values: list[float] = []
    for column, cell in zip(columns, cells, strict=True):
        cell = cell.strip()
        try:
            values.append(float(cell) if cell else float("nan"))  # blank cell = missing
        except ValueError:
            raise ValueError(f"column {column!r}: {cell!r} is not a number") from None
    return np.asarray(values, dtype=dtype)


def read_csv(
    path: PathLike,
    *,
    input_columns: Sequence[str] | None = None,
    output_columns: Sequence[str] | None = None,
    label_column: str | None = None,
    input_kind: Literal["numeric", "text"] = "numeric",
    dtype: DTypeLike = "float32",
    delimiter: str = ",",
    deduplicate: bool = False,
) -> DatasetSamples:
    """A CSV file with a header row; one sample per record.

    Numeric inputs are the ``input_columns`` (default: every column that is not
    an output or the label) as a 1-D ``dtype`` array; a blank numeric cell is
    NaN (the quality report counts it). ``input_kind="text"`` takes exactly one
    input column as text. A blank label cell is a missing label."""
    outputs_wanted = list(output_columns or [])
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise ImportFormatError(path, 1, "empty file: a header row is required") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFormatError(path, 1, str(exc)) from exc
        position = {name: i for i, name in enumerate(header)}
        taken = {*outputs_wanted, label_column}
        chosen = list(input_columns or [c for c in header if c not in taken])
        for name in (*chosen, *outputs_wanted, *([label_column] if label_column else [])):
            if name not in position:
                raise ImportFormatError(path, 1, f"no column {name!r} in header {header}")
        if input_kind == "text" and len(chosen) != 1:
            raise ImportFormatError(path, 1, f"text input needs one column, got {chosen}")
        inputs: list[Any] = []
        outputs: list[Any] = []
        labels: list[str | None] = []
        number = 1
        try:
            for row in reader:
                number = reader.line_num
                if not row:
                    continue
                if len(row) != len(header):
                    raise ValueError(f"{len(row)} fields, header has {len(header)}")
                cells = [row[position[c]] for c in chosen]
                if input_kind == "text":
                    inputs.append(cells[0])
                else:
                    inputs.append(_numbers(cells, chosen, dtype))
                if outputs_wanted:
                    out_cells = [row[position[c]] for c in outputs_wanted]
                    outputs.append(_numbers(out_cells, outputs_wanted, dtype))
                if label_column is not None:
                    labels.append(row[position[label_column]].strip() or None)
        except (csv.Error, UnicodeDecodeError, ValueError) as exc:
            line = reader.line_num if isinstance(exc, csv.Error) else number
            raise ImportFormatError(path, line, str(exc)) from exc
    samples = DatasetSamples(
        inputs=inputs,
        outputs=outputs if outputs_wanted else None,
        labels=labels if label_column is not None else None,
    )
    return _finish(samples, deduplicate)


def read_text(
    path: PathLike, *, skip_blank: bool = True, deduplicate: bool = False
) -> DatasetSamples:
    """One text sample per line (UTF-8, line ending removed)."""
    inputs: list[str] = []
    for number, raw_line in enumerate(Path(path).read_bytes().splitlines(), start=1):
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFormatError(path, number, f"not UTF-8: {exc.reason}") from exc
        if skip_blank and not text.strip():
            continue
        inputs.append(text)
    return _finish(DatasetSamples(inputs=inputs), deduplicate)
