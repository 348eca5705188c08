"""A loop's metrics as numbers, the headline accuracy/loss of a checkpoint, a run's final scores.

Loops name things their own way (``loss``, ``train_loss``, ``eval_loss``,
``val_acc``); a version's metadata has one ``accuracy`` and one ``loss``.
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


def final_scores(metrics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The finished model's scores: named fractions kept, the rest as custom metrics."""
    values = numeric(metrics)
    if not values:
        return None
    named = ("accuracy", "precision", "recall", "f1_score", "auc")
    out: dict[str, Any] = {}
    custom: dict[str, float] = {}
    for key, value in values.items():
        if not math.isfinite(value):
            continue
        if key in named and 0.0 <= value <= 1.0:
            out[key] = value
        else:
            custom[key] = value
    if custom:
        out["custom_metrics"] = custom
    return out
