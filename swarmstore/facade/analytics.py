"""Analytics, lifecycle stats, the query API and Arrow export.

Queries take the small filter language of ``swarmstore.analytics.queries.filters``
(``where={"hyperparameters.learningRate": ("<", 0.01), "tags": "baseline"}``,
``order_by="-finalMetrics.accuracy"``, ``limit=10``) and run as one SQL
SELECT each. Targets: ``model_versions``, ``deployments``, ``registry``,
``audit`` and, with the training tables, ``experiments``, ``metrics`` and
``datasets``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pyarrow as pa

from swarmstore.analytics.compare import Comparison, compare, parse_refs
from swarmstore.analytics.lifecycle import DEFAULT_RECENT, lifecycle_stats
from swarmstore.analytics.model_analytics import model_analytics
from swarmstore.analytics.queries.run import run_query
from swarmstore.analytics.queries.targets import CORE_TARGETS, Target
from swarmstore.analytics.query import QueryResult
from swarmstore.analytics.training_source import TrainingSource, training_source
from swarmstore.errors import InvalidQueryError
from swarmstore.facade.base import FacadeBase
from swarmstore.ids import validate_id
from swarmstore.records.analytics import LifecycleStats, ModelAnalytics
from swarmstore.records.base import utc_now

Where = Mapping[str, Any] | None
OrderBy = str | Sequence[str] | None


class AnalyticsAPI(FacadeBase):
    _training_source: TrainingSource
    _targets: dict[str, Target]

    def _attach_analytics(self) -> None:
        """Called once at the end of the manager's ``__init__``."""
        self._training_source = training_source()
        self._targets = {**CORE_TARGETS, **self._training_source.targets()}

    def _detach_analytics(self) -> None:
        """Called once at the start of ``close``, before the pool and stores shut."""

    def get_neural_model_lifecycle_stats(
        self, swarm_id: str | None = None, *, recent: timedelta = DEFAULT_RECENT
    ) -> LifecycleStats:
        """The seed's lifecycle numbers (definitions in ``swarmstore.analytics.lifecycle``),
        for one swarm or, with ``swarm_id=None``, the whole store; SQL aggregates only."""
        self._live()
        if swarm_id is not None:
            validate_id("swarm_id", swarm_id)
        with self._meta.read() as session:
            return lifecycle_stats(
                session, self._training_source, swarm_id, now=utc_now(), recent=recent
            )

    def get_model_analytics(
        self,
        swarm_id: str,
        model_id: str,
        options: Mapping[str, bool] | None = None,
        *,
        include_experiments: bool = True,
        include_deployments: bool = True,
    ) -> ModelAnalytics:
        """Versions, metric trends across them, training runs, deployments and
        resource use of one model (``ModelNotFoundError`` if unknown).

        ``options`` takes the seed's ``{"includeExperiments": ..., "includeDeployments": ...}``
        (snake_case keys too) and overrides the keywords."""
        self._live()
        for key, value in (options or {}).items():
            if key in ("includeExperiments", "include_experiments"):
                include_experiments = bool(value)
            elif key in ("includeDeployments", "include_deployments"):
                include_deployments = bool(value)
            else:
                raise InvalidQueryError(f"unknown analytics option {key!r}", field=key)
        validate_id("swarm_id", swarm_id)
        validate_id("model id", model_id)
        with self._meta.read() as session:
            return model_analytics(
                session,
                self._training_source,
                swarm_id,
                model_id,
                include_experiments=include_experiments,
                include_deployments=include_deployments,
            )

    def compare_models(
        self,
        swarm_id: str,
        models: str | Sequence[tuple[str, str]],
        versions: Sequence[str] | None = None,
        *,
        metrics: Sequence[str] | None = None,
    ) -> Comparison:
        """Scores of versions side by side: ``[(model_id, version), ...]`` or one
        model id with ``versions`` (all its versions when None). See
        ``swarmstore.analytics.compare`` for where scores come from."""
        self._live()
        validate_id("swarm_id", swarm_id)
        refs = parse_refs(models, versions)
        for model_id, version in refs:
            validate_id("model id", model_id)
            if version is not None:
                validate_id("version", version)
        with self._meta.read() as session:
            return compare(session, self._training_source, swarm_id, refs, metrics)

    # -- queries ----------------------------------------------------------------

    def query(
        self,
        target: str,
        swarm_id: str | None = None,
        *,
        where: Where = None,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
        columns: Sequence[str] | None = None,
    ) -> QueryResult:
        """Filtered, ordered, limited rows of ``target``; ``.to_arrow()`` exports them."""
        self._live()
        found = self._targets.get(target) if isinstance(target, str) else None
        if found is None:
            raise InvalidQueryError(
                f"unknown query target {target!r}; known: {sorted(self._targets)}",
                field="target",
            )
        with self._meta.read() as session:
            return run_query(
                session,
                found,
                swarm_id=swarm_id,
                where=where,
                order_by=order_by,
                limit=limit,
                offset=offset,
                columns=columns,
            )

    def query_model_versions(
        self,
        swarm_id: str | None = None,
        *,
        where: Where = None,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> QueryResult:
        """Model versions by hyperparameter, metadata metric (``accuracy``), tag, …"""
        return self.query(
            "model_versions",
            swarm_id,
            where=where,
            order_by=order_by,
            limit=limit,
            offset=offset,
        )

    def query_experiments(
        self,
        swarm_id: str | None = None,
        *,
        where: Where = None,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> QueryResult:
        """Experiments by hyperparameter, final metric, tag, status, …"""
        return self.query(
            "experiments", swarm_id, where=where, order_by=order_by, limit=limit, offset=offset
        )

    def export_table(
        self,
        target: str,
        swarm_id: str | None = None,
        *,
        where: Where = None,
        order_by: OrderBy = None,
        limit: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """``query(...).to_arrow()``: a typed ``pyarrow.Table`` (JSON columns as JSON text)."""
        return self.query(
            target, swarm_id, where=where, order_by=order_by, limit=limit, columns=columns
        ).to_arrow()
