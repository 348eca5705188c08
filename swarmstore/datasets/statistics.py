"""Dataset statistics and the quality report behind ``qualityScore``.

Every defect is counted on its own (``QualityReport`` fields) so a low score can
be explained; the score formula is named by ``QualityReport.method`` (see
``swarmstore.records.dataset.QualityReport``). An empty dataset scores 0.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from swarmstore.records.dataset import DatasetSamples, DatasetStatistics, DataType, QualityReport

Sample = np.ndarray | bytes | str


def _shape(value: Sample) -> tuple[int, ...]:
    return value.shape if isinstance(value, np.ndarray) else (len(value),)


def sample_dimensions(values: Iterable[Sample | None]) -> list[int]:
    """Common shape of the values, -1 on axes whose length varies; ``[]`` when
    there are none or their ranks differ. Bytes and text count as 1-D."""
    shapes = [_shape(v) for v in values if v is not None]
    if not shapes or any(len(s) != len(shapes[0]) for s in shapes):
        return []
    return [axis[0] if len(set(axis)) == 1 else -1 for axis in zip(*shapes, strict=True)]


def _digest_value(h: Any, value: Sample | None) -> None:
    if value is None:
        h.update(b"N")
    elif isinstance(value, np.ndarray):
        h.update(f"A{value.dtype.str}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, bytes):
        h.update(b"B%d:" % len(value) + value)
    else:
        data = value.encode("utf-8", "surrogatepass")
        h.update(b"S%d:" % len(data) + data)


def sample_fingerprint(
    input_value: Sample, output: Sample | None = None, label: str | None = None
) -> bytes:
    """Hash of a sample's exact content (dtype and shape included): equal
    fingerprints mean exact duplicates."""
    h = hashlib.blake2b(digest_size=20)
    _digest_value(h, input_value)
    _digest_value(h, output)
    _digest_value(h, label)
    return h.digest()


def find_duplicates(samples: DatasetSamples) -> list[int]:
    """Indices of samples whose input, output and label equal an earlier sample's."""
    outputs = samples.outputs or [None] * len(samples)
    labels = samples.labels or [None] * len(samples)
    seen: set[bytes] = set()
    duplicates: list[int] = []
    for index, (x, y, label) in enumerate(zip(samples.inputs, outputs, labels, strict=True)):
        key = sample_fingerprint(x, y, label)
        if key in seen:
            duplicates.append(index)
        seen.add(key)
    return duplicates


def select_samples(samples: DatasetSamples, indices: Sequence[int]) -> DatasetSamples:
    """The samples at ``indices`` (in that order), every column kept aligned."""

    def pick(column: list[Any] | None) -> list[Any] | None:
        return None if column is None else [column[i] for i in indices]

    return DatasetSamples(
        inputs=[samples.inputs[i] for i in indices],
        outputs=pick(samples.outputs),
        labels=pick(samples.labels),
        metadata=pick(samples.metadata),
    )


def remove_duplicates(samples: DatasetSamples) -> tuple[DatasetSamples, list[int]]:
    """``(samples without exact duplicates, removed indices)``; the first
    occurrence of each sample is kept, order is preserved."""
    removed = find_duplicates(samples)
    if not removed:
        return samples, []
    dropped = set(removed)
    kept = [i for i in range(len(samples)) if i not in dropped]
    return select_samples(samples, kept), removed


def _non_finite(value: Sample | None) -> bool:
    return (
        isinstance(value, np.ndarray)
        and value.dtype.kind in "fc"
        and not bool(np.isfinite(value).all())
    )


def _empty(value: Sample | None) -> bool:
    if isinstance(value, np.ndarray):
        return value.size == 0
    if isinstance(value, str):
        return not value.strip()
    return value is not None and len(value) == 0


def class_imbalance(counts: Iterable[int]) -> float:
    """``1 - H / log(k)`` over the k classes present: 0 balanced, near 1 when one
    class dominates; 0 with fewer than two classes."""
    positive = [c for c in counts if c > 0]
    if len(positive) < 2 or len(set(positive)) == 1:
        return 0.0
    total = sum(positive)
    entropy = -sum(c / total * math.log(c / total) for c in positive)
    return min(1.0, max(0.0, 1.0 - entropy / math.log(len(positive))))


def labels_required(samples: DatasetSamples, data_type: DataType | None) -> bool:
    """Supervised data without ``outputs`` must have a label per sample."""
    return data_type == "supervised" and samples.outputs is None


def assess_quality(samples: DatasetSamples, *, require_labels: bool = False) -> QualityReport:
    """Count each defect separately and combine them into ``score``."""
    n = len(samples)
    outputs = samples.outputs or [None] * n
    unusable = set(find_duplicates(samples))
    duplicates = len(unusable)

    if samples.labels is not None:
        missing = [i for i, label in enumerate(samples.labels) if label is None]
    else:
        missing = list(range(n)) if require_labels else []
    if require_labels or samples.labels is not None:
        unusable.update(missing)

    non_finite = [i for i in range(n) if _non_finite(samples.inputs[i]) or _non_finite(outputs[i])]
    empty = [i for i in range(n) if _empty(samples.inputs[i]) or _empty(outputs[i])]
    unusable.update(non_finite, empty)

    counts = Counter(label for label in samples.labels or [] if label is not None)
    imbalance = class_imbalance(counts.values())
    usable = (n - len(unusable)) / n if n else 0.0
    return QualityReport(
        sample_count=n,
        duplicate_samples=duplicates,
        missing_labels=len(missing),
        non_finite_samples=len(non_finite),
        empty_samples=len(empty),
        class_count=len(counts),
        class_imbalance=imbalance,
        usable_fraction=usable,
        score=min(1.0, max(0.0, usable * (1.0 - 0.5 * imbalance))),
    )


def compute_statistics(
    samples: DatasetSamples, *, data_type: DataType | None = None
) -> DatasetStatistics:
    """The seed's statistics for ``samples``; ``dataDistribution`` counts labels."""
    report = assess_quality(samples, require_labels=labels_required(samples, data_type))
    counts = Counter(label for label in samples.labels or [] if label is not None)
    return DatasetStatistics(
        total_samples=len(samples),
        input_dimensions=sample_dimensions(samples.inputs),
        output_dimensions=None if samples.outputs is None else sample_dimensions(samples.outputs),
        data_distribution={label: float(counts[label]) for label in sorted(counts)},
        quality_score=report.score,
        quality=report,
    )
