"""Seeded, reproducible train/validation/test splits and their validation.

Sizes come from the fractions by largest remainder, so they always add up to
the number of samples. Stratified splits apply that rule within each label
(missing labels form their own group), so every class keeps the fractions up
to one sample per class and split. The same ``(n, fractions, seed, labels)``
always gives the same splits (numpy's PCG64 generator).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from swarmstore.records.dataset import (
    SPLIT_NAMES,
    DatasetSplits,
    InvalidSplitError,
    SplitName,
    check_splits,
)

Fractions = Mapping[SplitName, float] | Sequence[float]
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)


def normalize_fractions(fractions: Fractions) -> tuple[float, float, float]:
    """(training, validation, test), each finite and >= 0, summing to 1 (±1e-9)."""
    if isinstance(fractions, Mapping):
        unknown = set(fractions) - set(SPLIT_NAMES)
        if unknown:
            raise InvalidSplitError(f"unknown split names {sorted(unknown)}", field="fractions")
        values = [float(fractions.get(name, 0.0)) for name in SPLIT_NAMES]
    else:
        values = [float(f) for f in fractions]
        if len(values) != 3:
            raise InvalidSplitError("give three fractions", field="fractions")
    if any(not math.isfinite(f) or f < 0 for f in values):
        raise InvalidSplitError(f"fractions must be finite and >= 0: {values}", field="fractions")
    if abs(sum(values) - 1.0) > 1e-9:
        raise InvalidSplitError(f"fractions sum to {sum(values)}, not 1", field="fractions")
    return values[0], values[1], values[2]


def split_sizes(n: int, fractions: Fractions) -> tuple[int, int, int]:
    """Largest-remainder sizes; ties go to the earlier split."""
    if n < 0:
        raise InvalidSplitError(f"sample count {n} is negative", field="n")
    shares = [f * n for f in normalize_fractions(fractions)]
    sizes = [math.floor(s) for s in shares]
    order = sorted(range(3), key=lambda i: (-(shares[i] - sizes[i]), i))
    for i in order[: n - sum(sizes)]:
        sizes[i] += 1
    return sizes[0], sizes[1], sizes[2]


def _cut(indices: np.ndarray, sizes: tuple[int, int, int]) -> list[list[int]]:
    a, b = sizes[0], sizes[0] + sizes[1]
    return [indices[:a].tolist(), indices[a:b].tolist(), indices[b:].tolist()]


def make_splits(
    n: int,
    fractions: Fractions = DEFAULT_FRACTIONS,
    *,
    seed: int = 0,
    labels: Sequence[str | None] | None = None,
) -> DatasetSplits:
    """Disjoint splits covering ``range(n)``, sorted; stratified when ``labels``."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[], [], []]
    if labels is None:
        groups = [np.arange(n)]
    else:
        if len(labels) != n:
            raise InvalidSplitError(f"{len(labels)} labels for {n} samples", field="labels")
        by_label: dict[str | None, list[int]] = {}
        for index, label in enumerate(labels):
            by_label.setdefault(label, []).append(index)
        # Sorted group order (None last) keeps the result independent of label order.
        keys = sorted(by_label, key=lambda k: (k is None, k or ""))
        groups = [np.asarray(by_label[k], dtype=np.int64) for k in keys]
    for group in groups:
        shuffled = rng.permutation(group)
        for part, chosen in zip(
            parts, _cut(shuffled, split_sizes(len(group), fractions)), strict=True
        ):
            part.extend(chosen)
    return DatasetSplits(
        training=sorted(parts[0]), validation=sorted(parts[1]), test=sorted(parts[2])
    )


def validate_splits(splits: DatasetSplits, total: int, *, complete: bool = True) -> None:
    """Raise ``InvalidSplitError`` unless the splits are disjoint, within
    ``range(total)`` and (when ``complete``) cover every sample."""
    check_splits(splits, total)
    if complete:
        covered = len(splits.training) + len(splits.validation) + len(splits.test)
        if covered != total:
            assigned = {*splits.training, *splits.validation, *splits.test}
            first = next(i for i in range(total) if i not in assigned)
            raise InvalidSplitError(
                f"{total - covered} of {total} samples are in no split (first: {first})",
                field="splits",
            )


def split_fractions(splits: DatasetSplits) -> dict[SplitName, float]:
    """Share of the assigned samples in each split (zeros when none are)."""
    sizes = {name: len(getattr(splits, name)) for name in SPLIT_NAMES}
    total = sum(sizes.values())
    return {name: (size / total if total else 0.0) for name, size in sizes.items()}
