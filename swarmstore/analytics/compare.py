"""``compare_models``: benchmark scores of model versions side by side.

A version's scores come from, in rising precedence: its metadata
(``accuracy``, ``loss``), the final metrics of the experiment that
checkpointed it, its entry's ``benchmarkScores`` (for the entry's latest
version) and the entry's ``performance.byVersion`` scores. ``best`` names,
per metric, the version with the highest score (lowest for loss-like names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from swarmstore.analytics.model_analytics import _number, metric_mode
from swarmstore.analytics.queries import models as aq
from swarmstore.analytics.training_source import TrainingSource
from swarmstore.errors import InvalidQueryError
from swarmstore.meta.unit import Session
from swarmstore.models import queries as q


@dataclass(frozen=True)
class Comparison:
    """One row per version: ``modelId``, ``version``, ``scores`` and where each came from."""

    metrics: list[str]
    rows: list[dict[str, Any]]
    best: dict[str, str] = field(default_factory=dict)

    def table(self) -> dict[str, dict[str, float | None]]:
        """metric -> {"model@version": score}: the side-by-side view."""
        return {
            m: {f"{r['modelId']}@{r['version']}": r["scores"].get(m) for r in self.rows}
            for m in self.metrics
        }

    def to_arrow(self) -> pa.Table:
        data: dict[str, list[Any]] = {
            "modelId": [r["modelId"] for r in self.rows],
            "version": [r["version"] for r in self.rows],
        }
        for metric in self.metrics:
            data[metric] = [r["scores"].get(metric) for r in self.rows]
        schema = pa.schema(
            [("modelId", pa.string()), ("version", pa.string())]
            + [(m, pa.float64()) for m in self.metrics]
        )
        return pa.Table.from_pydict(data, schema=schema)


def parse_refs(
    models: str | Sequence[tuple[str, str]], versions: Sequence[str] | None
) -> list[tuple[str, str | None]]:
    if isinstance(models, str):
        if versions is None:
            return [(models, None)]
        if isinstance(versions, str) or not versions:
            raise InvalidQueryError("versions must be a non-empty list", field="versions")
        return [(models, v) for v in versions]
    if versions is not None:
        raise InvalidQueryError("give versions only with one model id", field="versions")
    refs = list(models)
    if not refs:
        raise InvalidQueryError("nothing to compare", field="models")
    for ref in refs:
        if not (isinstance(ref, tuple | list) and len(ref) == 2):
            raise InvalidQueryError(f"{ref!r} is not a (model_id, version) pair", field="models")
    return [(str(m), str(v)) for m, v in refs]


def compare(
    session: Session,
    training: TrainingSource,
    swarm_id: str,
    refs: list[tuple[str, str | None]],
    metrics: Sequence[str] | None,
) -> Comparison:
    rows: list[dict[str, Any]] = []
    for model_id, version in refs:
        model = q.require_model(session, swarm_id, model_id)
        if version is None:
            chosen = q.list_versions(session, model.pk)
        else:
            chosen = [q.require_version(session, model, version)]
        entry = aq.registry_entry(session, model.pk)
        record = entry.record if entry is not None else {}
        performance = record.get("performance", {})
        final = training.final_metrics_by_version(session, swarm_id, model_id)
        for row in chosen:
            scores: dict[str, float] = {}
            sources: dict[str, str] = {}
            layers = [
                ("metadata", {k: row.meta.get(k) for k in ("accuracy", "loss")}),
                ("experiment", final.get(row.version, {})),
                (
                    "registry",
                    performance.get("benchmarkScores", {})
                    if record.get("latestVersion") == row.version
                    else {},
                ),
                ("registry.byVersion", performance.get("byVersion", {}).get(row.version, {})),
            ]
            for source, values in layers:
                for key, value in values.items():
                    number = _number(value)
                    if number is not None:
                        scores[key], sources[key] = number, source
            rows.append(
                {"modelId": model_id, "version": row.version, "scores": scores, "sources": sources}
            )
    names = list(metrics) if metrics is not None else sorted({k for r in rows for k in r["scores"]})
    for result in rows:
        result["scores"] = {m: result["scores"].get(m) for m in names}
    best: dict[str, str] = {}
    for metric in names:
        scored = [r for r in rows if r["scores"][metric] is not None]
        if scored:
            pick = max if metric_mode(metric) == "max" else min
            top = pick(scored, key=lambda r: r["scores"][metric])
            best[metric] = f"{top['modelId']}@{top['version']}"
    return Comparison(names, rows, best)
