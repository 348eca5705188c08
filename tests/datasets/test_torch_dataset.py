"""The torch Dataset wrapper yields tensors for every sample kind."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from swarmstore.datasets.splits import make_splits
from swarmstore.datasets.torch_dataset import MISSING_LABEL_INDEX, SampleDataset, split_datasets
from swarmstore.records.dataset import DatasetSamples


def test_arrays_and_labels_batch_through_a_dataloader() -> None:
    inputs = [np.full((3, 2), i, dtype=">f4") for i in range(10)]  # non-native byte order
    labels: list[str | None] = ["dog" if i % 2 else "cat" for i in range(10)]
    labels[3] = None
    dataset = SampleDataset(DatasetSamples(inputs=inputs, labels=labels))
    assert dataset.classes == ["cat", "dog"]
    x, y = next(iter(DataLoader(dataset, batch_size=4)))
    assert x.shape == (4, 3, 2) and x.dtype == torch.float32
    assert y.tolist() == [0, 1, 0, MISSING_LABEL_INDEX]


def test_outputs_bytes_and_text() -> None:
    samples = DatasetSamples(inputs=[b"\x01\x02", b""], outputs=[np.array([1.5]), None])
    x, y = SampleDataset(samples)[0]
    assert x.dtype == torch.uint8 and x.tolist() == [1, 2] and y.tolist() == [1.5]
    assert SampleDataset(samples)[1][0].numel() == 0
    text = SampleDataset(DatasetSamples(inputs=["hello"]), transform=str.upper)
    assert text[0] == "HELLO"


def test_split_datasets_share_classes() -> None:
    labels: list[str | None] = ["a" if i < 10 else "b" for i in range(20)]
    samples = DatasetSamples(inputs=[np.zeros(2)] * 20, labels=labels)
    parts = split_datasets(samples, make_splits(20, seed=0, labels=labels))
    assert sum(len(p) for p in parts.values()) == 20
    assert all(p.classes == ["a", "b"] for p in parts.values())
