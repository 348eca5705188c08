"""How analytics reads the training tables (experiments, datasets, metrics).

The analytics layer depends on this small interface, not on the training
tables' layout, so that registry and deployment analytics work whether or not
the training part of the schema is present. ``training_source()`` returns the
SQL-backed source when ``swarmstore.meta.tables_training`` declares the tables,
else ``NoTraining`` (zero experiments and datasets, no training targets).
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from swarmstore.meta.unit import Session

if TYPE_CHECKING:
    from swarmstore.analytics.queries.targets import Target


class TrainingSource(Protocol):
    available: bool

    def count_experiments(
        self, session: Session, swarm_id: str | None, *, since: datetime | None = None
    ) -> int: ...

    def count_datasets(self, session: Session, swarm_id: str | None) -> int: ...

    def experiments_of_model(
        self, session: Session, swarm_id: str, model_id: str
    ) -> list[dict[str, Any]]:
        """Summary dicts (ExperimentSummary fields, snake_case) plus ``resource_usage``."""
        ...

    def final_metrics_by_version(
        self, session: Session, swarm_id: str, model_id: str
    ) -> dict[str, dict[str, float]]:
        """Version -> numeric final metrics of the experiment that checkpointed it."""
        ...

    def targets(self) -> dict[str, Target]: ...


class NoTraining:
    """Stands in while the training tables do not exist."""

    available = False

    def count_experiments(
        self, session: Session, swarm_id: str | None, *, since: datetime | None = None
    ) -> int:
        return 0

    def count_datasets(self, session: Session, swarm_id: str | None) -> int:
        return 0

    def experiments_of_model(
        self, session: Session, swarm_id: str, model_id: str
    ) -> list[dict[str, Any]]:
        return []

    def final_metrics_by_version(
        self, session: Session, swarm_id: str, model_id: str
    ) -> dict[str, dict[str, float]]:
        return {}

    def targets(self) -> dict[str, Target]:
        return {}


def training_source() -> TrainingSource:
    try:
        module = importlib.import_module("swarmstore.analytics.queries.training")
    except ImportError:  # the training tables are not declared (yet)
        return NoTraining()
    source: TrainingSource = module.SqlTraining()
    return source
