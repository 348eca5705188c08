"""Convergence rules on constructed curves."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest

from swarmstore.analytics import ConvergenceRules, analyze_convergence
from swarmstore.records.experiment import EpochMetrics

EPOCHS = np.arange(60)


def rows(train: Iterable[Any], val: Iterable[Any] | None = None) -> list[dict[str, Any]]:
    train = list(train)
    vals = list(val) if val is not None else [None] * len(train)
    out = []
    for i, (t, v) in enumerate(zip(train, vals, strict=True)):
        row: dict[str, Any] = {"epoch": i, "trainingLoss": float(t)}
        if v is not None:
            row["validationLoss"] = float(v)
        out.append(row)
    return out


def test_converging_curve() -> None:
    train = 0.1 + np.exp(-EPOCHS / 5)
    result = analyze_convergence(rows(train, train + 0.02))
    assert result.converged and not result.diverged
    assert result.overfitting_risk == 0.0
    assert result.best_epoch == 59


def test_still_improving_curve_has_not_converged() -> None:
    result = analyze_convergence(rows(2.0 - 0.03 * EPOCHS))
    assert not result.converged and not result.plateau_detected
    assert result.early_stopping_epoch is None


def test_diverging_curve() -> None:
    result = analyze_convergence(rows(1.0 + 0.1 * EPOCHS))
    assert result.diverged and not result.converged and not result.plateau_detected
    assert result.early_stopping_epoch == 0 and result.best_epoch == 0


def test_nan_loss_means_diverged() -> None:
    result = analyze_convergence(rows([1.0, 0.5, math.nan, math.nan]))
    assert result.diverged and not result.converged and result.best_epoch == 1


def test_overfitting_curve() -> None:
    train = 0.1 + np.exp(-EPOCHS / 5)
    val = 0.3 + np.exp(-EPOCHS / 5) + 0.03 * np.maximum(0, EPOCHS - 15)
    result = analyze_convergence(rows(train, val))
    assert result.overfitting_risk == 1.0
    assert not result.converged and not result.plateau_detected
    assert result.early_stopping_epoch is not None and abs(result.early_stopping_epoch - 13) <= 3


def test_mild_overfitting_gives_partial_risk() -> None:
    train = 1.0 - 0.01 * EPOCHS  # keeps falling
    val = np.full(60, 0.8)  # flat: the gap grows by 0.59 over 0.8 * 0.25 -> capped
    val[:5] = [1.2, 1.0, 0.9, 0.85, 0.8]
    mild = analyze_convergence(rows(train, val), rules=ConvergenceRules(overfit_scale=4.0))
    assert 0.0 < mild.overfitting_risk < 1.0


def test_plateau_then_flat() -> None:
    loss = np.where(EPOCHS < 20, 2.0 - 0.05 * EPOCHS, 1.0)
    result = analyze_convergence(rows(loss))
    assert result.plateau_detected and result.converged
    assert result.early_stopping_epoch == 20


def test_plateau_in_the_middle_is_still_detected() -> None:
    loss = np.concatenate([np.full(10, 1.0), 1.0 - 0.02 * np.arange(1, 31)])
    result = analyze_convergence(rows(loss))
    assert result.plateau_detected and not result.converged
    assert result.early_stopping_epoch == 0


def test_noisy_curve_around_a_floor_converges() -> None:
    rng = np.random.default_rng(0)
    loss = 0.5 + np.exp(-EPOCHS / 5) + rng.normal(0, 0.002, EPOCHS.size)
    result = analyze_convergence(rows(loss, loss + 0.05), rules=ConvergenceRules(window=10))
    assert result.converged and result.plateau_detected and not result.diverged
    assert result.overfitting_risk < 0.2


def test_missing_validation_values_are_skipped() -> None:
    train = 0.1 + np.exp(-EPOCHS / 5)
    val = [None if i % 3 else float(v) for i, v in enumerate(train + 0.1)]
    result = analyze_convergence(rows(train, val))
    assert result.converged and result.best_epoch is not None and result.best_epoch % 3 == 0


@pytest.mark.parametrize("history", [[], rows([1.0]), rows([1.0, 0.9, 0.8])])
def test_short_histories_are_neutral(history: list[dict[str, Any]]) -> None:
    result = analyze_convergence(history)
    assert not result.converged and not result.plateau_detected
    assert result.overfitting_risk == 0.0 and result.early_stopping_epoch is None


def test_accepts_records_and_returns_a_seed_shaped_result() -> None:
    history = [EpochMetrics(epoch=i, training_loss=1.0 / (i + 1)) for i in range(8)]
    data = analyze_convergence(history).to_json_dict()
    assert {"converged", "plateauDetected", "overfittingRisk", "earlyStoppingEpoch"} <= set(data)


def test_rules_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        ConvergenceRules(patience=0)
