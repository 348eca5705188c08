"""``db.lineage``: the Kuzu graph and SQL ``WITH RECURSIVE`` give equal answers.

Big shapes (a 1,000-deep chain, a wide DAG with skip edges) are written as
lineage rows in bulk, the way every write records them (nodes, edges and an
outbox row in one transaction), so the indexer applies them like any write.
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

pytest.importorskip("kuzu")

from swarmstore import (
    InvalidIdentifierError,
    InvalidRecordError,
    LineageNodeNotFoundError,
    SwarmDatabaseManager,
)
from swarmstore.lineage import DatasetRef, DeploymentRef, RelatedVersion, VersionRef
from swarmstore.meta import lineage as ln
from swarmstore.meta.log import append_outbox
from swarmstore.meta.tables_lineage import LineageEdgeRow, LineageNodeRow
from tests.conftest import model_record, small_state_dict

REPO = Path(__file__).resolve().parents[2]
SWARM = "s"


def version(model: str, name: str) -> str:
    return ln.node_key(ln.MODEL_VERSION, SWARM, model, name)


def record_lineage(
    db: SwarmDatabaseManager,
    nodes: list[tuple[str, str]],
    edges: list[tuple[str, str, str]],
    *,
    topic: str = "experiment.upserted",
) -> None:
    """One write's worth of lineage rows (kind, key) and edges, plus its outbox row."""
    now = datetime.now(UTC)
    with db._meta.write() as session:
        if nodes:
            session.execute(
                insert(LineageNodeRow),
                [
                    {"key": k, "kind": kind, "swarm_id": SWARM, "props": {}, "created": now}
                    | {"updated": now}
                    for kind, k in nodes
                ],
            )
        if edges:
            session.execute(
                insert(LineageEdgeRow),
                [
                    {"src": s, "rel": r, "dst": d, "swarm_id": SWARM, "created": now}
                    for s, r, d in edges
                ],
            )
        append_outbox(session, topic, "bulk", {"swarm_id": SWARM}, now)


def both(method: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a lineage method on the graph and on SQL; assert equal and return it."""
    lineage = method.__self__
    from_graph = method(*args, source="graph", **kwargs)
    assert lineage.last_source == "graph"
    from_sql = method(*args, source="sql", **kwargs)
    assert lineage.last_source == "sql"
    assert from_graph == from_sql
    return from_graph


@pytest.fixture
def db(store_path: Path) -> SwarmDatabaseManager:
    return SwarmDatabaseManager.open(store_path, durability="normal")


def test_thousand_deep_chain_is_complete_from_graph_and_sql(db: SwarmDatabaseManager) -> None:
    n = 1000
    keys = [version("chain", f"c{i}") for i in range(n)]
    record_lineage(
        db,
        [(ln.MODEL_VERSION, k) for k in keys],
        [(keys[i], ln.PARENT_OF, keys[i + 1]) for i in range(n - 1)],
        topic="model_version.upserted",
    )
    ancestors = both(db.lineage.ancestors, SWARM, "chain", "c999")
    assert len(ancestors) == 999  # far past Kuzu's silent default of 30 hops
    assert ancestors[0] == RelatedVersion("chain", "c998", 1)
    assert ancestors[-1] == RelatedVersion("chain", "c0", 999)
    assert len(both(db.lineage.descendants, SWARM, "chain", "c0")) == 999
    assert len(both(db.lineage.ancestors, SWARM, "chain", "c999", max_depth=10)) == 10
    path = both(db.lineage.path, SWARM, "chain/c0", ("chain", "c999"))
    assert path is not None and len(path) == n and path[0] == VersionRef("chain", "c0")
    assert both(db.lineage.path, SWARM, "chain/c999", "chain/c0", directed=True) is None
    assert both(db.lineage.path, SWARM, "chain/c0", "chain/c999", max_depth=998) is None


def wide_dag(seed: int = 7, layers: int = 7, width: int = 30) -> list[tuple[str, str, str]]:
    """Layers of versions, each with 1-3 parents in the layer above and some
    skip edges from two layers up (so a node is reachable at several depths)."""
    rng = random.Random(seed)
    edges = set()
    for layer in range(1, layers):
        for i in range(width):
            child = version("dag", f"l{layer}n{i}")
            for p in rng.sample(range(width), rng.randint(1, 3)):
                edges.add((version("dag", f"l{layer - 1}n{p}"), ln.PARENT_OF, child))
            if layer >= 2 and rng.random() < 0.3:
                skip = version("dag", f"l{layer - 2}n{rng.randrange(width)}")
                edges.add((skip, ln.PARENT_OF, child))
    return sorted(edges)


def test_wide_dag_answers_are_equal(db: SwarmDatabaseManager) -> None:
    edges = wide_dag()
    keys = sorted({e[0] for e in edges} | {e[2] for e in edges})
    record_lineage(db, [(ln.MODEL_VERSION, k) for k in keys], edges)
    parents: dict[str, set[str]] = {}
    for s, _, d in edges:
        parents.setdefault(d, set()).add(s)
    for name in ("l6n0", "l6n17", "l4n3", "l1n29"):
        found = both(db.lineage.ancestors, SWARM, "dag", name)
        # Brute force: shortest distance up the parent links.
        depth, frontier = 0, {version("dag", name)}
        expected: dict[str, int] = {}
        while frontier:
            depth += 1
            frontier = {p for k in frontier for p in parents.get(k, ())} - set(expected)
            expected.update(dict.fromkeys(frontier, depth))
        assert {(version("dag", r.version), r.depth) for r in found} == set(expected.items())
    for layer in ("l0", "l2"):
        name = next(k for k in keys if k.startswith(version("dag", layer)))
        assert both(db.lineage.descendants, SWARM, "dag", name.rsplit("/", 1)[1])
    for a, b in (("l6n0", "l6n1"), ("l6n20", "l5n3"), ("l3n3", "l1n1")):
        from_graph = db.lineage.path(SWARM, f"dag/{a}", f"dag/{b}", source="graph")
        from_sql = db.lineage.path(SWARM, f"dag/{a}", f"dag/{b}", source="sql")
        assert from_graph is not None and from_sql is not None
        assert len(from_graph) == len(from_sql)  # several shortest paths may exist
        linked = {(s, d) for s, _, d in edges} | {(d, s) for s, _, d in edges}
        for path in (from_graph, from_sql):
            steps = [version(r.model_id, r.version) for r in path]
            assert all((x, y) in linked for x, y in pairwise(steps))


def test_experiments_datasets_and_deployments_through_the_store(db: SwarmDatabaseManager) -> None:
    for i in range(4):  # v0 -> v1 -> v2 -> v3, through the real store API
        extra = {"parentVersion": f"v{i - 1}"} if i else {}
        db.store_neural_model("s", model_record(f"v{i}", small_state_dict(i), **extra))
    db.store_neural_model("s", model_record("x", small_state_dict(5), model_id="other"))
    db.store_neural_model(
        "s", model_record("v4", small_state_dict(6), parentVersion="v3", mergedFrom=["other/x"])
    )
    exp: Callable[[str], str] = lambda e: ln.node_key(ln.EXPERIMENT, SWARM, e)  # noqa: E731
    data: Callable[[str, str], str] = lambda d, v: ln.node_key(ln.DATASET, SWARM, d, v)  # noqa: E731
    dep: Callable[[str], str] = lambda d: ln.node_key(ln.DEPLOYMENT, SWARM, d)  # noqa: E731
    m = "model_001"
    record_lineage(
        db,
        [
            (ln.EXPERIMENT, exp("e0")),
            (ln.EXPERIMENT, exp("e3")),
            (ln.DATASET, data("imagenet", "1")),
            (ln.DATASET, data("finetune", "1")),
            (ln.DATASET, data("finetune", "2")),
            (ln.DEPLOYMENT, dep("prod")),
            (ln.DEPLOYMENT, dep("staging")),
        ],
        [
            (exp("e0"), ln.PRODUCED, version(m, "v0")),
            (exp("e3"), ln.PRODUCED, version(m, "v3")),
            (exp("e0"), ln.USED_DATASET, data("imagenet", "1")),
            (exp("e3"), ln.USED_DATASET, data("finetune", "2")),
            (data("finetune", "1"), ln.DATASET_PARENT_OF, data("finetune", "2")),
            (version(m, "v3"), ln.DEPLOYED_AS, dep("prod")),
            (version(m, "v2"), ln.DEPLOYED_AS, dep("staging")),
        ],
    )
    assert both(db.lineage.experiments_for, SWARM, m, "v3") == ["e3"]
    assert both(db.lineage.experiments_for, SWARM, m, "v1") == []
    assert both(db.lineage.datasets_for, SWARM, m, "v1") == [DatasetRef("imagenet", "1")]
    assert both(db.lineage.datasets_for, SWARM, m, "v4") == [
        DatasetRef("finetune", "2"),
        DatasetRef("imagenet", "1"),
    ]
    assert both(db.lineage.datasets_for, SWARM, m, "v4", include_derived=True) == [
        DatasetRef("finetune", "1"),
        DatasetRef("finetune", "2"),
        DatasetRef("imagenet", "1"),
    ]
    assert both(db.lineage.deployments_of, SWARM, m) == [
        DeploymentRef("prod", m, "v3"),
        DeploymentRef("staging", m, "v2"),
    ]
    assert both(db.lineage.deployments_of, SWARM, "other") == []
    merged = both(db.lineage.ancestors, SWARM, m, "v4")
    assert RelatedVersion("other", "x", 1) in merged and RelatedVersion(m, "v0", 4) in merged
    assert [r.version for r in both(db.lineage.path, SWARM, "other/x", f"{m}/v0")] == [
        "x",
        "v4",
        "v3",
        "v2",
        "v1",
        "v0",
    ]


def test_bad_questions_raise_typed_errors(db: SwarmDatabaseManager) -> None:
    db.store_neural_model("s", model_record("v0", small_state_dict(0)))
    with pytest.raises(LineageNodeNotFoundError, match="v9"):
        db.lineage.ancestors("s", "model_001", "v9")
    with pytest.raises(LineageNodeNotFoundError):
        db.lineage.deployments_of("s", "nobody")
    with pytest.raises(InvalidIdentifierError):
        db.lineage.descendants("s", "a/b", "v0")
    with pytest.raises(InvalidRecordError, match="max_depth"):
        db.lineage.ancestors("s", "model_001", "v0", max_depth=0)
    with pytest.raises(InvalidRecordError, match="source"):
        db.lineage.ancestors("s", "model_001", "v0", source="kuzu")  # type: ignore[arg-type]
    with pytest.raises(InvalidRecordError, match="model_id/version"):
        db.lineage.path("s", "v0", "model_001/v0")
    assert db.lineage.path("s", "model_001/v0", "model_001/v0") == [VersionRef("model_001", "v0")]


HOLD_GRAPH = """
import sys, kuzu
db = kuzu.Database(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
db.close()
"""


def test_graph_held_by_another_process_means_sql_answers(store_path: Path) -> None:
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        for i in range(3):
            extra = {"parentVersion": f"v{i - 1}"} if i else {}
            db.store_neural_model("s", model_record(f"v{i}", small_state_dict(i), **extra))
        expected = db.lineage.ancestors("s", "model_001", "v2", source="graph")
    graph_file = next((store_path / "indexes" / "graph").glob("lineage-*.kz"))
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD_GRAPH), str(graph_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with SwarmDatabaseManager.open(store_path, durability="normal") as db:
            db.store_neural_model("s", model_record("v3", small_state_dict(3), parentVersion="v2"))
            assert db.lineage.ancestors("s", "model_001", "v2") == expected
            assert db.lineage.last_source == "sql"
            assert len(db.lineage.ancestors("s", "model_001", "v3")) == 3
            assert db.lineage.last_source == "sql"
    finally:
        holder.communicate("\n", timeout=30)
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        assert len(db.lineage.ancestors("s", "model_001", "v3", source="graph")) == 3
        assert db.check().ok
