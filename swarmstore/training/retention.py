"""Retention policies: small objects that each name the checkpoints they keep.

As in orbax, policies combine: a checkpoint survives when any policy keeps
it. Each policy sees the auto-checkpoints of one model, oldest first, and
returns the versions it keeps; ``prune_plan`` returns the ones to free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from swarmstore.training.catalog import CheckpointInfo
from swarmstore.training.options import MetricMode, RetentionOptions


class RetentionPolicy(Protocol):
    def keep(self, checkpoints: Sequence[CheckpointInfo]) -> set[str]: ...


@dataclass(frozen=True, slots=True)
class KeepLast:
    n: int

    def keep(self, checkpoints: Sequence[CheckpointInfo]) -> set[str]:
        return {c.version for c in checkpoints[-self.n :]}


@dataclass(frozen=True, slots=True)
class KeepBest:
    metric: str
    k: int
    mode: MetricMode = "min"

    def keep(self, checkpoints: Sequence[CheckpointInfo]) -> set[str]:
        ranked = [
            (score, c.version)
            for c in checkpoints
            if (score := c.score(self.metric, self.mode)) is not None
        ]
        # stable: among equal scores the older checkpoint wins, as a run's first best does
        ranked.sort(key=lambda item: item[0])
        return {version for _score, version in ranked[: self.k]}


@dataclass(frozen=True, slots=True)
class KeepEvery:
    m: int

    def keep(self, checkpoints: Sequence[CheckpointInfo]) -> set[str]:
        return {c.version for c in checkpoints if c.index % self.m == 0}


def policies_from(options: RetentionOptions) -> list[RetentionPolicy]:
    found: list[RetentionPolicy] = []
    if options.keep_last is not None:
        found.append(KeepLast(options.keep_last))
    if options.keep_best is not None and options.metric:
        found.append(KeepBest(options.metric, options.keep_best, options.mode))
    if options.keep_every is not None:
        found.append(KeepEvery(options.keep_every))
    return found


def prune_plan(
    checkpoints: Sequence[CheckpointInfo], policies: Sequence[RetentionPolicy]
) -> list[str]:
    """Versions to free, oldest first. Empty without policies; never the newest."""
    if not policies or not checkpoints:
        return []
    kept = {checkpoints[-1].version}
    for policy in policies:
        kept |= policy.keep(checkpoints)
    return [c.version for c in checkpoints if c.version not in kept]
