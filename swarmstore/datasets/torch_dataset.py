"""A ``torch.utils.data.Dataset`` over ``DatasetSamples`` (the only module of
``swarmstore.datasets`` that imports torch).

Items are tensors: arrays become tensors of the same dtype and shape (byte
order made native), bytes become ``uint8`` vectors; text stays ``str`` because
a tensor cannot hold it (tokenize in ``transform``). The target is the output
tensor, or the label's class index as an ``int64`` scalar (``-100``, the
default ``ignore_index`` of ``CrossEntropyLoss``, for a missing label).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from swarmstore.records.dataset import (
    SPLIT_NAMES,
    DatasetSamples,
    DatasetSplits,
    SplitName,
    register_sample_dataset,
)

Target = Literal["auto", "outputs", "labels", "none"]
MISSING_LABEL_INDEX = -100


def to_tensor(value: np.ndarray | bytes | str) -> torch.Tensor | str:
    """A tensor copy of one sample value (text is returned unchanged)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return (
            torch.tensor(list(value), dtype=torch.uint8)
            if value
            else torch.empty(0, dtype=torch.uint8)
        )
    array = value if value.dtype.isnative else value.astype(value.dtype.newbyteorder("="))
    return torch.from_numpy(np.array(array, copy=True))


class SampleDataset(Dataset[Any]):
    """Map-style dataset over ``samples`` (optionally only ``indices``).

    ``target="auto"`` uses outputs when present, else labels, else none; items
    are ``(input, target)`` pairs, or the input alone without a target."""

    def __init__(
        self,
        samples: DatasetSamples,
        *,
        indices: Sequence[int] | None = None,
        target: Target = "auto",
        classes: Sequence[str] | None = None,
        transform: Callable[[Any], Any] | None = None,
    ) -> None:
        if target == "auto":
            target = "outputs" if samples.outputs is not None else "labels"
            if samples.labels is None and target == "labels":
                target = "none"
        if target == "outputs" and samples.outputs is None:
            raise ValueError("target='outputs' but the samples have no outputs")
        if target == "labels" and samples.labels is None:
            raise ValueError("target='labels' but the samples have no labels")
        self.samples = samples
        self.indices = list(range(len(samples))) if indices is None else list(indices)
        self.target = target
        found = sorted({label for label in samples.labels or [] if label is not None})
        self.classes: list[str] = list(classes) if classes is not None else found
        self.class_index: Mapping[str, int] = {name: i for i, name in enumerate(self.classes)}
        self.transform = transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> Any:
        index = self.indices[position]
        x: Any = to_tensor(self.samples.inputs[index])
        if self.transform is not None:
            x = self.transform(x)
        if self.target == "none":
            return x
        if self.target == "outputs":
            output = self.samples.outputs[index] if self.samples.outputs is not None else None
            return x, (None if output is None else to_tensor(output))
        label = self.samples.labels[index] if self.samples.labels is not None else None
        y = MISSING_LABEL_INDEX if label is None else self.class_index[label]
        return x, torch.tensor(y, dtype=torch.int64)


def split_datasets(
    samples: DatasetSamples, splits: DatasetSplits, **options: Any
) -> dict[SplitName, SampleDataset]:
    """One ``SampleDataset`` per split, sharing one class list."""
    classes = sorted({label for label in samples.labels or [] if label is not None})
    options.setdefault("classes", classes)
    return {
        name: SampleDataset(samples, indices=getattr(splits, name), **options)
        for name in SPLIT_NAMES
    }


# ``TrainingDataset.torch_dataset`` builds these (records import no torch).
register_sample_dataset(SampleDataset)
