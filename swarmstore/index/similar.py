"""Ranked similarity matches with the reasons they matched.

Score: cosine similarity of the two 384-d vectors (1 = same direction), which
is what the vector index ranks by. Reasons come from the embedding's blocks
(``embedder.MODEL_BLOCKS``), compared block by block:

- ``architecture``: the architecture blocks (layer kinds, shapes, names,
  hyperparameters) agree to ``BLOCK_AGREES`` or the architecture labels match;
- ``weights``: the weight fingerprints agree to ``WEIGHTS_AGREE`` (random
  initialisations give ~0, a fine-tuned child ~1);
- ``performance``: both have metrics and their blocks agree;
- ``lineage``: the match is an ancestor or descendant of the target.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from swarmstore.errors import InvalidRecordError
from swarmstore.index import queries as src
from swarmstore.index.embedder import DATASET_BLOCKS, MODEL_BLOCKS
from swarmstore.index.lance import DATASET_TABLE, MODEL_TABLE, sql_literal
from swarmstore.lineage import queries as lineage_sql
from swarmstore.lineage.keys import parse_key
from swarmstore.meta import lineage as ln

log = logging.getLogger(__name__)
BLOCK_AGREES = 0.9
WEIGHTS_AGREE = 0.5
Relation = Literal["ancestor", "descendant", "lineage", "unrelated"]
RELATIONS: tuple[str, ...] = ("ancestor", "descendant", "lineage", "unrelated")


@dataclass(frozen=True)
class SimilarModel:
    """One match of ``find_similar_models``."""

    swarm_id: str
    model_id: str
    version: str
    score: float
    reasons: tuple[str, ...]
    architecture: str | None = None
    accuracy: float | None = None
    relation: str | None = None  # "parent", "ancestor (3 hops)", "child", ... or None
    block_scores: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SimilarDataset:
    """One match of ``find_similar_datasets``."""

    swarm_id: str
    dataset_id: str
    version: str | None
    score: float
    reasons: tuple[str, ...]
    name: str | None = None
    data_type: str | None = None
    relation: str | None = None
    block_scores: Mapping[str, float] = field(default_factory=dict)


def check_search_args(limit: object, threshold: object, relation: object = None) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise InvalidRecordError(f"limit must be an int in 1..10000, not {limit!r}")
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not -1.0 <= float(threshold) <= 1.0
    ):
        raise InvalidRecordError(f"threshold must be a number in -1..1, not {threshold!r}")
    if relation is not None and relation not in RELATIONS:
        raise InvalidRecordError(f"relation must be one of {RELATIONS} or None, not {relation!r}")


def block_scores(
    a: npt.NDArray[np.float32], b: npt.NDArray[np.float32], blocks: Mapping[str, slice]
) -> dict[str, float]:
    """Cosine similarity per block (0 where either side is empty)."""
    out: dict[str, float] = {}
    for name, where in blocks.items():
        x, y = a[where].astype(np.float64), b[where].astype(np.float64)
        nx, ny = float(np.linalg.norm(x)), float(np.linalg.norm(y))
        out[name] = float(x @ y / (nx * ny)) if nx > 1e-9 and ny > 1e-9 else 0.0
    return out


def relation_matches(relation: str | None, wanted: str | None) -> bool:
    if wanted is None:
        return True
    if wanted == "unrelated":
        return relation is None
    if wanted == "lineage":
        return relation is not None
    return relation is not None and relation.startswith(
        ("parent", "ancestor") if wanted == "ancestor" else ("child", "descendant")
    )


def relation_name(depth_up: int | None, depth_down: int | None) -> str | None:
    if depth_up is not None:
        return "parent" if depth_up == 1 else f"ancestor ({depth_up} hops)"
    if depth_down is not None:
        return "child" if depth_down == 1 else f"descendant ({depth_down} hops)"
    return None


def model_reasons(
    scores: Mapping[str, float],
    *,
    same_architecture: bool,
    both_have_metrics: bool,
    relation: str | None,
) -> tuple[str, ...]:
    reasons = []
    if same_architecture or scores["architecture"] >= BLOCK_AGREES:
        reasons.append("architecture")
    if scores["weight_fingerprint"] >= WEIGHTS_AGREE:
        reasons.append("weights")
    if both_have_metrics and scores["performance"] >= BLOCK_AGREES:
        reasons.append("performance")
    if relation is not None:
        reasons.append("lineage")
    return tuple(reasons)


def dataset_reasons(scores: Mapping[str, float], relation: str | None) -> tuple[str, ...]:
    reasons = [name for name in DATASET_BLOCKS if scores.get(name, 0.0) >= BLOCK_AGREES]
    if relation is not None:
        reasons.append("lineage")
    return tuple(reasons)


def has_metrics(vector: npt.NDArray[np.float32]) -> bool:
    return bool(np.any(vector[MODEL_BLOCKS["performance"]] != 0))


def rank(matches: Sequence[Any]) -> list[Any]:
    """Highest score first; ties by id so the order is deterministic."""
    return sorted(matches, key=lambda m: (-m.score, getattr(m, "model_id", ""), m.version or ""))


def find_similar_models(
    indexer: Any,
    queries: Any,
    swarm_id: str,
    model_id: str,
    version: str,
    *,
    limit: int,
    threshold: float,
    architecture: str | None,
    min_accuracy: float | None,
    relation: str | None,
) -> list[Any]:

    try:
        indexer.run_pending()
    except Exception:
        log.exception("index catch-up before a similarity search failed")
    key = ln.node_key(ln.MODEL_VERSION, swarm_id, model_id, version)
    vectors = indexer.vectors()
    stored = vectors.get_rows(MODEL_TABLE, [key], columns=("id", "vector", "architecture"))
    if key in stored:
        target = np.asarray(stored[key]["vector"], dtype=np.float32)
        target_arch = stored[key].get("architecture")
    else:  # not indexed yet (another process holds the index): embed it now
        row = indexer.source.model_vector(swarm_id, model_id, version)
        target, target_arch = np.asarray(row.vector, dtype=np.float32), row.architecture
    filters = []
    if architecture is not None:
        filters.append(f"architecture = {sql_literal(architecture)}")
    if min_accuracy is not None:
        filters.append(f"accuracy >= {float(min_accuracy)!r}")
    fetch = limit * (20 if relation else 4) + 1
    hits = vectors.search_rows(
        MODEL_TABLE,
        target,
        limit=fetch,
        swarm_id=swarm_id,
        where=" AND ".join(filters) or None,
        columns=("id", "model_id", "version", "architecture", "accuracy", "vector"),
    )
    ups = {(r.model_id, r.version): r.depth for r in queries.ancestors(swarm_id, model_id, version)}
    downs = {
        (r.model_id, r.version): r.depth for r in queries.descendants(swarm_id, model_id, version)
    }
    target_has_metrics = has_metrics(target)
    matches = []
    for hit in hits:
        if hit["id"] == key:
            continue
        score = 1.0 - float(hit["_distance"])
        if score < threshold:
            continue
        ref = (hit["model_id"], hit["version"])
        rel = relation_name(ups.get(ref), downs.get(ref))
        if not relation_matches(rel, relation):
            continue
        scores = block_scores(target, hit["vector"], MODEL_BLOCKS)
        reasons = model_reasons(
            scores,
            same_architecture=bool(target_arch) and hit["architecture"] == target_arch,
            both_have_metrics=target_has_metrics and has_metrics(hit["vector"]),
            relation=rel,
        )
        matches.append(
            SimilarModel(
                swarm_id=swarm_id,
                model_id=hit["model_id"],
                version=hit["version"],
                score=round(score, 6),
                reasons=reasons,
                architecture=hit["architecture"],
                accuracy=hit["accuracy"],
                relation=rel,
                block_scores={k: round(v, 4) for k, v in scores.items()},
            )
        )
    return rank(matches)[:limit]


def find_similar_datasets(
    indexer: Any,
    meta: Any,
    key: str,
    limit: int,
    threshold: float,
    data_type: str | None,
    relation: str | None,
) -> list[Any]:

    try:
        indexer.run_pending()
    except Exception:
        log.exception("index catch-up before a similarity search failed")
    _kind, swarm_id, dataset_id, version = parse_key(key)
    vectors = indexer.vectors()
    stored = vectors.get_rows(DATASET_TABLE, [key], columns=("id", "vector"))
    if key in stored:
        target = np.asarray(stored[key]["vector"], dtype=np.float32)
    else:
        with meta.read() as session:
            node = src.nodes_by_key(session, [key])[key]
        row = indexer.source.dataset_vector(swarm_id, dataset_id, version, node.props)
        target = np.asarray(row.vector, dtype=np.float32)
    where = f"data_type = {sql_literal(data_type)}" if data_type is not None else None
    hits = vectors.search_rows(
        DATASET_TABLE,
        target,
        limit=limit * (20 if relation else 4) + 1,
        swarm_id=swarm_id,
        where=where,
        columns=("id", "name", "version", "data_type", "vector"),
    )
    with meta.read() as session:
        ups, downs = lineage_sql.dataset_relatives(session, key, 10_000)
    matches = []
    for hit in hits:
        if hit["id"] == key:
            continue
        score = 1.0 - float(hit["_distance"])
        if score < threshold:
            continue
        rel = relation_name(ups.get(hit["id"]), downs.get(hit["id"]))
        if not relation_matches(rel, relation):
            continue
        scores = block_scores(target, hit["vector"], DATASET_BLOCKS)
        matches.append(
            SimilarDataset(
                swarm_id=swarm_id,
                dataset_id=parse_key(hit["id"])[2],
                version=hit["version"],
                score=round(score, 6),
                reasons=dataset_reasons(scores, rel),
                name=hit["name"],
                data_type=hit["data_type"],
                relation=rel,
                block_scores={k: round(v, 4) for k, v in scores.items()},
            )
        )
    return sorted(matches, key=lambda m: (-m.score, m.dataset_id, m.version or ""))[:limit]
