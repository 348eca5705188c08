"""Lineage answered from SQL alone: ``WITH RECURSIVE`` over ``lineage_edges``.

The fallback when the graph is absent, stale or held by another process, and
the reference the graph is tested against. Portable (SQLite and PostgreSQL):
SQLAlchemy's ``cte(recursive=True)`` with an explicit depth bound, and UNION
(not UNION ALL) so that diamonds in a DAG add a row per (node, depth) pair
rather than one per path. Every function takes and returns node keys
(``swarmstore.meta.lineage.node_key``).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from sqlalchemy import Integer, Select, func, literal, or_, select
from sqlalchemy.orm import Session

from swarmstore.meta import lineage as ln
from swarmstore.meta.tables_lineage import LineageEdgeRow, LineageNodeRow

_E = LineageEdgeRow.__table__


def node_kind(session: Session, key: str) -> str | None:
    return session.scalar(select(LineageNodeRow.kind).where(LineageNodeRow.key == key))


def _walk(key: str, rel: str, max_depth: int, *, up: bool) -> Any:
    """A recursive CTE (key, depth) of nodes reachable over ``rel`` within ``max_depth``."""
    near, far = (_E.c.dst, _E.c.src) if up else (_E.c.src, _E.c.dst)
    seed = select(far.label("key"), literal(1, Integer).label("depth")).where(
        near == key, _E.c.rel == rel
    )
    walk = seed.cte(f"walk_{'up' if up else 'down'}", recursive=True)
    edge = _E.alias("step")
    e_near, e_far = (edge.c.dst, edge.c.src) if up else (edge.c.src, edge.c.dst)
    step = (
        select(e_far, walk.c.depth + 1)
        .select_from(edge.join(walk, e_near == walk.c.key))
        .where(edge.c.rel == rel, walk.c.depth < max_depth)
    )
    return walk.union(step)


def _reach(
    session: Session, key: str, max_depth: int, *, up: bool, rel: str = ln.PARENT_OF
) -> list[tuple[str, int]]:
    walk = _walk(key, rel, max_depth, up=up)
    query: Select[Any] = select(walk.c.key, func.min(walk.c.depth)).group_by(walk.c.key)
    rows = [(str(k), int(d)) for k, d in session.execute(query) if k != key]
    return sorted(rows, key=lambda r: (r[1], r[0]))


def ancestors(session: Session, key: str, max_depth: int) -> list[tuple[str, int]]:
    """Every version ``key`` descends from, with its shortest distance, nearest first."""
    return _reach(session, key, max_depth, up=True)


def descendants(session: Session, key: str, max_depth: int) -> list[tuple[str, int]]:
    return _reach(session, key, max_depth, up=False)


def path(session: Session, a: str, b: str, max_depth: int, *, directed: bool) -> list[str] | None:
    """A shortest chain of version keys from ``a`` to ``b`` over PARENT_OF, or None.

    Breadth-first in Python over the swarm's PARENT_OF edges (one query):
    reconstructing a path inside a recursive CTE is not portable.
    """
    if a == b:
        return [a]
    swarm = session.scalar(select(LineageNodeRow.swarm_id).where(LineageNodeRow.key == a))
    query = select(_E.c.src, _E.c.dst).where(_E.c.rel == ln.PARENT_OF)
    if swarm is not None:
        query = query.where(_E.c.swarm_id == swarm)
    neighbours: dict[str, list[str]] = {}
    for s, d in session.execute(query):
        neighbours.setdefault(s, []).append(d)
        if not directed:
            neighbours.setdefault(d, []).append(s)
    previous: dict[str, str | None] = {a: None}
    frontier: deque[tuple[str, int]] = deque([(a, 0)])
    while frontier:
        node, depth = frontier.popleft()
        if depth >= max_depth:
            continue
        for nxt in sorted(neighbours.get(node, ())):
            if nxt in previous:
                continue
            previous[nxt] = node
            if nxt == b:
                chain: list[str] = [b]
                while (step := previous[chain[-1]]) is not None:
                    chain.append(step)
                return chain[::-1]
            frontier.append((nxt, depth + 1))
    return None


def experiments_for(session: Session, version_key: str) -> list[str]:
    query = select(_E.c.src).where(_E.c.rel == ln.PRODUCED, _E.c.dst == version_key).distinct()
    return sorted(str(k) for k in session.scalars(query))


def datasets_for(
    session: Session, version_key: str, max_depth: int, *, include_derived: bool
) -> list[str]:
    """Datasets used by experiments that produced the version or any ancestor."""
    walk = _walk(version_key, ln.PARENT_OF, max_depth, up=True)
    produced, used = _E.alias("produced"), _E.alias("used")
    query = (
        select(used.c.dst)
        .select_from(produced.join(used, used.c.src == produced.c.src))
        .where(
            produced.c.rel == ln.PRODUCED,
            used.c.rel == ln.USED_DATASET,
            or_(produced.c.dst == version_key, produced.c.dst.in_(select(walk.c.key))),
        )
        .distinct()
    )
    found = {str(k) for k in session.scalars(query)}
    if include_derived:
        for dataset in sorted(found):
            found.update(
                k for k, _ in _reach(session, dataset, max_depth, up=True, rel=ln.DATASET_PARENT_OF)
            )
    return sorted(found)


def deployments_of(session: Session, model_key: str) -> list[tuple[str, str]]:
    """(deployment key, version key) of every deployed version of the model."""
    has, dep = _E.alias("has"), _E.alias("dep")
    query = (
        select(dep.c.dst, dep.c.src)
        .select_from(has.join(dep, dep.c.src == has.c.dst))
        .where(has.c.rel == ln.HAS_VERSION, has.c.src == model_key, dep.c.rel == ln.DEPLOYED_AS)
        .distinct()
    )
    return sorted((str(d), str(v)) for d, v in session.execute(query))


def dataset_relatives(
    session: Session, key: str, max_depth: int
) -> tuple[dict[str, int], dict[str, int]]:
    """(earlier versions, later versions) of a dataset version over DATASET_PARENT_OF."""
    up = dict(_reach(session, key, max_depth, up=True, rel=ln.DATASET_PARENT_OF))
    down = dict(_reach(session, key, max_depth, up=False, rel=ln.DATASET_PARENT_OF))
    return up, down


def latest_dataset_key(session: Session, swarm_id: str, dataset_id: str) -> str | None:
    """The most recently recorded version node of a dataset."""
    prefix = ln.node_key(ln.DATASET, swarm_id, dataset_id) + "/"
    query = (
        select(LineageNodeRow.key)
        .where(
            LineageNodeRow.kind == ln.DATASET,
            LineageNodeRow.swarm_id == swarm_id,
            LineageNodeRow.key.startswith(prefix, autoescape=True),
        )
        .order_by(LineageNodeRow.created.desc(), LineageNodeRow.key.desc())
        .limit(1)
    )
    return session.scalar(query)
