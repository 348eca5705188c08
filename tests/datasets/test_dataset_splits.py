"""Splits: disjoint, complete, reproducible, stratified proportions."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmstore.datasets.splits import make_splits, split_sizes, validate_splits
from swarmstore.records.dataset import DatasetSplits, InvalidSplitError

fractions = (
    st.tuples(st.integers(0, 10), st.integers(0, 10), st.integers(0, 10))
    .filter(lambda t: sum(t) > 0)
    .map(lambda t: tuple(x / sum(t) for x in t))
)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 300), fracs=fractions, seed=st.integers(0, 2**32 - 1))
def test_splits_are_disjoint_complete_and_sized(
    n: int, fracs: tuple[float, float, float], seed: int
) -> None:
    splits = make_splits(n, fracs, seed=seed)
    validate_splits(splits, n)
    sizes = (len(splits.training), len(splits.validation), len(splits.test))
    assert sizes == split_sizes(n, fracs)
    assert all(abs(size - f * n) < 1 for size, f in zip(sizes, fracs, strict=True))


@settings(max_examples=30, deadline=None)
@given(
    labels=st.lists(st.sampled_from(["a", "b", "c", None]), max_size=200),
    seed=st.integers(0, 1000),
)
def test_stratified_splits_keep_class_proportions(labels: list[str | None], seed: int) -> None:
    fracs = (0.6, 0.2, 0.2)
    splits = make_splits(len(labels), fracs, seed=seed, labels=labels)
    validate_splits(splits, len(labels))
    total = Counter(labels)
    for name, fraction in zip(("training", "validation", "test"), fracs, strict=True):
        in_split = Counter(labels[i] for i in getattr(splits, name))
        for label, count in total.items():
            assert abs(in_split[label] - fraction * count) < 1


def test_same_seed_same_splits_other_seed_other_splits() -> None:
    assert make_splits(1000, seed=7) == make_splits(1000, seed=7)
    assert make_splits(1000, seed=7) != make_splits(1000, seed=8)
    labels = ["x", "y"] * 50
    assert make_splits(100, seed=1, labels=labels) == make_splits(100, seed=1, labels=labels)


def test_fractions_by_name() -> None:
    splits = make_splits(10, {"training": 0.5, "test": 0.5}, seed=0)
    assert (len(splits.training), len(splits.validation), len(splits.test)) == (5, 0, 5)


@pytest.mark.parametrize("bad", [(0.5, 0.5, 0.5), (1.2, -0.2, 0.0), (0.5, 0.5), {"train": 1.0}])
def test_bad_fractions(bad: object) -> None:
    with pytest.raises(InvalidSplitError):
        make_splits(10, bad, seed=0)  # type: ignore[arg-type]


def test_validate_given_splits() -> None:
    splits = DatasetSplits(training=[0, 1], validation=[2], test=[3])
    validate_splits(splits, 4)
    with pytest.raises(InvalidSplitError, match="1 of 5 samples are in no split"):
        validate_splits(splits, 5)
    validate_splits(splits, 5, complete=False)
    with pytest.raises(InvalidSplitError, match="out of range"):
        validate_splits(splits, 3)
    with pytest.raises(InvalidSplitError, match="in both training and test"):
        DatasetSplits(training=[0, 1], test=[1])
