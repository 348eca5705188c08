"""Convergence analysis of a training history: the seed's ``convergenceAnalysis``.

The *monitored loss* is the validation loss where any epoch has one (epochs
without it are skipped), else the training loss. It is read up to its first
non-finite value. With the defaults of ``ConvergenceRules``:

- **improvement**: a value below ``best - max(min_delta, rel_delta * |best|)``.
- **earlyStoppingEpoch**: the best epoch at the moment ``patience`` epochs in a
  row have not improved (Keras/Lightning ``EarlyStopping``); None if never.
- **plateauDetected**: such a stall happened while the loss stayed within
  ``plateau_band * scale`` above its best, i.e. it went flat rather than up;
  ``scale = max(|best|, first - best)``.
- **converged**: at least ``window + 1`` points, not diverged, and the
  least-squares change of the loss over the last ``window + 1`` points is at
  most ``tolerance * |mean|`` of those points (a line fit, so noise around a
  floor still counts as converged while a steady decline or rise does not).
- **overfittingRisk**: from the best validation epoch on, the least-squares
  growth of the gap ``validation - training`` divided by
  ``overfit_scale * |best validation loss|``, clipped to [0, 1]; 0 without
  validation losses or with fewer than two epochs after the best.
- **diverged**: a non-finite training or monitored loss, or a last training
  loss above the first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from swarmstore.records.experiment import ConvergenceAnalysis, EpochMetrics

_TINY = 1e-12


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvergenceRules:
    """Thresholds of the rules above; a policy object so callers can tune one."""

    window: int = 5
    tolerance: float = 0.01
    patience: int = 5
    min_delta: float = 0.0
    rel_delta: float = 1e-3
    plateau_band: float = 0.05
    overfit_scale: float = 0.25

    def __post_init__(self) -> None:
        if self.window < 1 or self.patience < 1:
            raise ValueError("window and patience must be at least 1")


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def _fitted_change(points: Sequence[tuple[int, float]]) -> float:
    xs = [float(e) for e, _ in points]
    return _slope(xs, [y for _, y in points]) * (xs[-1] - xs[0])


def _as_entries(history: Sequence[EpochMetrics | Mapping[str, Any]]) -> list[EpochMetrics]:
    return [h if isinstance(h, EpochMetrics) else EpochMetrics.model_validate(h) for h in history]


def _monitored(entries: list[EpochMetrics]) -> tuple[list[tuple[int, float]], bool, bool]:
    """(finite points up to the first non-finite one, uses validation, cut short)."""
    use_val = any(e.validation_loss is not None for e in entries)
    points: list[tuple[int, float]] = []
    for entry in entries:
        value = entry.validation_loss if use_val else entry.training_loss
        if value is None:
            continue
        if not math.isfinite(value):
            return points, use_val, True
        points.append((entry.epoch, value))
    return points, use_val, False


def _early_stop_and_plateau(
    points: list[tuple[int, float]], rules: ConvergenceRules
) -> tuple[int | None, bool]:
    if not points:
        return None, False
    first = points[0][1]
    best_at, best = points[0]
    stalled: list[float] = []
    early: int | None = None
    plateau = False
    for epoch, value in points[1:]:
        if value < best - max(rules.min_delta, rules.rel_delta * abs(best)):
            best_at, best, stalled = epoch, value, []
            continue
        stalled.append(value)
        if len(stalled) >= rules.patience:
            if early is None:
                early = best_at
            scale = max(abs(best), first - best, _TINY)
            if max(stalled[-rules.patience :]) <= best + rules.plateau_band * scale:
                plateau = True
    return early, plateau


def _overfitting_risk(entries: list[EpochMetrics], rules: ConvergenceRules) -> float:
    pairs = [
        (e.epoch, float(e.training_loss or 0.0), e.validation_loss)
        for e in entries
        if e.validation_loss is not None
        and e.training_loss is not None
        and math.isfinite(e.validation_loss)
        and math.isfinite(e.training_loss)
    ]
    if len(pairs) < 2:
        return 0.0
    best_index = min(range(len(pairs)), key=lambda i: pairs[i][2])
    after = pairs[best_index:]
    if len(after) < 2:
        return 0.0
    growth = _fitted_change([(e, v - t) for e, t, v in after])
    denominator = rules.overfit_scale * max(abs(pairs[best_index][2]), _TINY)
    return min(1.0, max(0.0, growth / denominator))


def analyze_convergence(
    history: Sequence[EpochMetrics | Mapping[str, Any]],
    *,
    rules: ConvergenceRules | None = None,
) -> ConvergenceAnalysis:
    """Apply the module's rules to ``history`` (rows or their camelCase dicts,
    in epoch order). Empty or short histories give a neutral, unconverged result."""
    rules = rules or ConvergenceRules()
    entries = _as_entries(history)
    if not entries:
        return ConvergenceAnalysis()
    points, _, cut_short = _monitored(entries)
    train = [e.training_loss for e in entries if e.training_loss is not None]
    finite_train = [t for t in train if math.isfinite(t)]
    diverged = (
        cut_short or len(finite_train) < len(train) or (len(train) >= 2 and train[-1] > train[0])
    )
    early, plateau = _early_stop_and_plateau(points, rules)
    converged = False
    if not diverged and len(points) >= rules.window + 1:
        tail = points[-(rules.window + 1) :]
        mean = sum(y for _, y in tail) / len(tail)
        converged = abs(_fitted_change(tail)) <= rules.tolerance * max(abs(mean), _TINY)
    best_epoch = min(points, key=lambda p: p[1])[0] if points else None
    return ConvergenceAnalysis(
        converged=converged,
        plateau_detected=plateau,
        overfitting_risk=_overfitting_risk(entries, rules),
        early_stopping_epoch=early,
        best_epoch=best_epoch,
        diverged=diverged,
    )
