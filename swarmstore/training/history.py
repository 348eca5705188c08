"""A loop's metric names mapped onto the experiment's ``trainingHistory`` columns.

Loops name things their own way (``loss``, ``train_loss``, ``eval_loss``,
``val_acc``, ``lr``); the experiment record has five columns. Every metric
is also logged as a step metric under its own name, so nothing is lost.
Values a column cannot hold (a NaN accuracy) are left out of the row and
stay, flagged, in the step metrics and the checkpoint metadata.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

COLUMNS: dict[str, tuple[str, ...]] = {
    "training_loss": ("training_loss", "trainingLoss", "train_loss", "loss"),
    "validation_loss": ("validation_loss", "validationLoss", "val_loss", "eval_loss"),
    "training_accuracy": (
        "training_accuracy",
        "trainingAccuracy",
        "train_accuracy",
        "train_acc",
        "accuracy",
        "acc",
    ),
    "validation_accuracy": (
        "validation_accuracy",
        "validationAccuracy",
        "val_accuracy",
        "val_acc",
        "eval_accuracy",
    ),
    "learning_rate": ("learning_rate", "learningRate", "lr"),
}
_LOSSES = ("training_loss", "validation_loss")
_FRACTIONS = ("training_accuracy", "validation_accuracy")


def numeric(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    """The metrics that are numbers (tensors of one element included), as floats."""
    out: dict[str, float] = {}
    for name, value in (metrics or {}).items():
        if isinstance(value, bool):
            continue
        if hasattr(value, "item") and not isinstance(value, int | float):
            try:
                value = value.item()
            except (TypeError, ValueError, RuntimeError):
                continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[str(name)] = float(value)
    return out


def history_row(metrics: Mapping[str, float]) -> dict[str, float]:
    """The ``trainingHistory`` columns found in ``metrics`` that the record accepts."""
    row: dict[str, float] = {}
    for column, names in COLUMNS.items():
        value = next((metrics[n] for n in names if n in metrics), None)
        if value is None:
            continue
        if column in _LOSSES:
            if value == -math.inf:
                continue
        elif not math.isfinite(value) or value < 0:
            continue
        if column in _FRACTIONS and value > 1:
            continue
        row[column] = value
    return row


def headline(metrics: Mapping[str, float]) -> dict[str, float]:
    """``accuracy`` and ``loss`` for the version's metadata (finite values only)."""
    out: dict[str, float] = {}
    for key, column_names in (
        ("accuracy", COLUMNS["validation_accuracy"] + COLUMNS["training_accuracy"]),
        ("loss", COLUMNS["validation_loss"] + COLUMNS["training_loss"]),
    ):
        value = next((metrics[n] for n in column_names if n in metrics), None)
        if value is not None and math.isfinite(value):
            out[key] = value
    return out
