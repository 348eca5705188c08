"""Statistics and each quality component on its own."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swarmstore.datasets.statistics import (
    assess_quality,
    class_imbalance,
    compute_statistics,
    find_duplicates,
    remove_duplicates,
    sample_dimensions,
)
from swarmstore.records.dataset import DatasetSamples


def arrays(n: int) -> list[np.ndarray]:
    return [np.full((2, 3), i, dtype=np.float32) for i in range(n)]


def test_clean_balanced_dataset_scores_one() -> None:
    samples = DatasetSamples(inputs=arrays(4), labels=["a", "b", "a", "b"])
    stats = compute_statistics(samples, data_type="supervised")
    assert stats.total_samples == 4 and stats.input_dimensions == [2, 3]
    assert stats.output_dimensions is None
    assert stats.data_distribution == {"a": 2.0, "b": 2.0}
    assert stats.quality_score == 1.0 and stats.quality is not None
    assert stats.quality.class_count == 2 and stats.quality.class_imbalance == 0.0


def test_duplicates_are_counted_and_removed() -> None:
    inputs = [*arrays(3), np.full((2, 3), 1, dtype=np.float32), np.ones((2, 3))]
    samples = DatasetSamples(inputs=inputs, labels=["a", "b", "c", "b", "b"])
    assert find_duplicates(samples) == [3]  # same values but another dtype is not exact
    report = assess_quality(samples)
    assert report.duplicate_samples == 1 and report.usable_fraction == pytest.approx(0.8)
    kept, removed = remove_duplicates(samples)
    assert removed == [3] and len(kept) == 4 and kept.labels == ["a", "b", "c", "b"]


def test_same_input_with_another_label_is_not_a_duplicate() -> None:
    samples = DatasetSamples(inputs=["x", "x"], labels=["a", "b"])
    assert find_duplicates(samples) == []


def test_missing_labels() -> None:
    samples = DatasetSamples(inputs=["a", "b", "c", "d"], labels=["x", None, "y", None])
    report = assess_quality(samples)
    assert report.missing_labels == 2 and report.usable_fraction == 0.5
    unlabeled = DatasetSamples(inputs=["a", "b"])
    assert compute_statistics(unlabeled, data_type="supervised").quality.missing_labels == 2  # type: ignore[union-attr]
    assert compute_statistics(unlabeled, data_type="unsupervised").quality_score == 1.0


def test_non_finite_values_in_inputs_or_outputs() -> None:
    inputs = arrays(4)
    inputs[1][0, 0] = math.nan
    outputs = [np.zeros(1), np.zeros(1), np.array([math.inf]), None]
    report = assess_quality(DatasetSamples(inputs=inputs, outputs=outputs))
    assert report.non_finite_samples == 2 and report.score == 0.5


def test_empty_samples() -> None:
    samples = DatasetSamples(inputs=["text", "   ", b"", np.zeros((0, 4)), b"x"])
    report = assess_quality(samples)
    assert report.empty_samples == 3 and report.usable_fraction == pytest.approx(0.4)


def test_class_imbalance_discounts_the_score() -> None:
    assert class_imbalance([5, 5, 5]) == 0.0
    assert class_imbalance([7]) == 0.0
    skewed = class_imbalance([99, 1])
    assert 0.9 < skewed < 1.0
    labels: list[str | None] = ["a" if i < 99 else "b" for i in range(100)]
    report = assess_quality(DatasetSamples(inputs=[f"s{i}" for i in range(100)], labels=labels))
    assert report.score == pytest.approx(1 - 0.5 * report.class_imbalance)


def test_empty_dataset_scores_zero() -> None:
    stats = compute_statistics(DatasetSamples())
    assert stats.total_samples == 0 and stats.quality_score == 0.0 and stats.input_dimensions == []


def test_dimensions_mark_varying_axes() -> None:
    assert sample_dimensions([np.zeros((2, 3)), np.zeros((4, 3))]) == [-1, 3]
    assert sample_dimensions([b"abc", b"abc"]) == [3]
    assert sample_dimensions(["ab", "abc"]) == [-1]
    assert sample_dimensions([np.zeros(2), np.zeros((2, 2))]) == []
    assert sample_dimensions([None, np.zeros(5)]) == [5]
