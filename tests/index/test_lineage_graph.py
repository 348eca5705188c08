"""LineageGraph against a real Kuzu database in a temp dir."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kuzu")

from swarmstore.errors import InvalidRecordError, StoreClosedError
from swarmstore.index.graph import (
    DeleteEdge,
    DeleteNode,
    Deployed,
    GraphOp,
    GraphUnavailableError,
    LineageGraph,
    Related,
    UpsertEdge,
    UpsertNode,
    open_database_count,
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "graph" / "lineage.kuzu"


@pytest.fixture
def graph(db_path: Path) -> Iterator[LineageGraph]:
    with LineageGraph(db_path) as g:
        yield g
    assert open_database_count() == 0


def chain(n: int) -> list[UpsertEdge]:
    return [UpsertEdge("PARENT_OF", f"v{i}", f"v{i + 1}") for i in range(n - 1)]


def test_thousand_deep_chain_is_complete_past_kuzus_default_30(graph: LineageGraph) -> None:
    assert graph.apply(chain(1000)) == 999
    started = time.monotonic()
    ancestors = graph.ancestors("v999")
    descendants = graph.descendants("v0")
    assert time.monotonic() - started < 5
    assert ancestors == [Related(f"v{999 - d}", d) for d in range(1, 1000)]
    assert [r.depth for r in descendants] == list(range(1, 1000))
    assert graph.path("v0", "v999") == [f"v{i}" for i in range(1000)]
    assert graph.path("v999", "v0", directed=True) is None
    # An explicit bound is honoured exactly, not capped.
    assert len(graph.ancestors("v999", max_depth=30)) == 30
    assert len(graph.ancestors("v999", max_depth=500)) == 500


def test_diamond_dag_is_linear_not_exponential(graph: LineageGraph) -> None:
    # 40 levels of 2 nodes, each linked to both of the next: 2**39 walks.
    levels = 40
    edges = [
        UpsertEdge("PARENT_OF", f"d{i}_{a}", f"d{i + 1}_{b}")
        for i in range(levels - 1)
        for a in range(2)
        for b in range(2)
    ]
    graph.apply(edges)
    started = time.monotonic()
    ancestors = graph.ancestors(f"d{levels - 1}_0")
    assert time.monotonic() - started < 5
    assert len(ancestors) == 2 * (levels - 1)
    assert {r.depth for r in ancestors if r.id.startswith("d0_")} == {levels - 1}


def test_wide_dag_with_several_parents(graph: LineageGraph) -> None:
    fan = [UpsertEdge("PARENT_OF", "root", f"c{i}") for i in range(200)]
    fan += [UpsertEdge("PARENT_OF", f"c{i}", f"g{i}") for i in range(200)]
    merge = [UpsertEdge("PARENT_OF", "g0", "merged"), UpsertEdge("PARENT_OF", "g1", "merged")]
    graph.apply(fan + merge)
    assert len(graph.descendants("root")) == 401
    assert {r.id for r in graph.ancestors("merged")} == {"g0", "g1", "c0", "c1", "root"}
    assert graph.path("c5", "merged") == ["c5", "root", "c0", "g0", "merged"] or graph.path(
        "c5", "merged"
    ) == ["c5", "root", "c1", "g1", "merged"]


def test_merge_is_idempotent_and_updates_properties(graph: LineageGraph) -> None:
    ops: list[GraphOp] = [
        UpsertNode("Model", "m1", {"swarm_id": "s", "props": '{"name": "net"}'}),
        UpsertNode("ModelVersion", "v1", {"swarm_id": "s", "props": '{"version": "1"}'}),
        UpsertEdge("HAS_VERSION", "m1", "v1"),
        UpsertEdge("OWNS", "agent", "m1"),
    ]
    graph.apply(ops)
    first = graph.counts()
    graph.apply(ops + ops)
    assert graph.counts() == first
    assert first["Model"] == 1 and first["HAS_VERSION"] == 1 and first["Agent"] == 1
    graph.upsert_node("Model", "m1", props='{"name": "renamed"}')
    assert graph.node("m1", table="Model") == {
        "id": "m1",
        "swarm_id": "s",
        "props": '{"name": "renamed"}',
    }
    # Within one batch the last upsert of an id wins, as applied one by one.
    graph.apply(
        [UpsertNode("Agent", "a", {"props": "x"}), UpsertNode("Agent", "a", {"props": "y"})]
    )
    assert graph.node("a", table="Agent") == {"id": "a", "swarm_id": None, "props": "y"}
    assert graph.node_keys()["m1"] == "Model"
    assert ("agent", "OWNS", "m1") in graph.edges()


def test_delete_node_and_edge(graph: LineageGraph) -> None:
    graph.apply(chain(3))
    graph.apply([DeleteEdge("PARENT_OF", "v0", "v1"), DeleteEdge("PARENT_OF", "nope", "v1")])
    assert graph.ancestors("v2") == [Related("v1", 1)]
    graph.apply([DeleteNode("ModelVersion", "v1"), DeleteNode("ModelVersion", "missing")])
    assert graph.ancestors("v2") == []
    assert graph.counts()["PARENT_OF"] == 0
    assert graph.node("v1", table="ModelVersion") is None


class FailingConnection:
    """Wraps a connection; the ``fail_at``-th data statement raises."""

    def __init__(self, conn: Any, fail_at: int) -> None:
        self.conn, self.fail_at, self.seen = conn, fail_at, 0

    def execute(self, query: str, params: dict[str, Any] | None = None) -> Any:
        if query.startswith("UNWIND"):
            self.seen += 1
            if self.seen == self.fail_at:
                raise RuntimeError("injected failure")
        return self.conn.execute(query, params) if params is not None else self.conn.execute(query)

    def close(self) -> None:
        self.conn.close()


def test_batch_is_one_transaction(graph: LineageGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    graph.upsert_node("Agent", "keep")
    monkeypatch.setattr(graph, "_conn", FailingConnection(graph._conn, fail_at=2))
    with pytest.raises(RuntimeError, match="injected"):
        graph.apply([UpsertNode("Agent", "new"), UpsertEdge("OWNS", "new", "m")])
    assert graph.ids("Agent") == {"keep"}
    assert graph.counts()["Model"] == 0


@pytest.mark.parametrize(
    "op",
    [
        UpsertNode("Nope", "y"),
        UpsertNode("Agent", "x", {"colour": "red"}),
        UpsertNode("Agent", "x", {"props": 3}),  # type: ignore[dict-item]
        UpsertNode("Agent", ""),
        UpsertEdge("LIKES", "a", "b"),
        DeleteNode("Agent", None),  # type: ignore[arg-type]
    ],
)
def test_invalid_operations_write_nothing(graph: LineageGraph, op: Any) -> None:
    with pytest.raises(InvalidRecordError):
        graph.apply([UpsertNode("Agent", "first"), op])
    assert graph.ids("Agent") == set()


def test_experiments_datasets_and_deployments(graph: LineageGraph) -> None:
    graph.apply(
        [
            *chain(4),  # v0 -> v1 -> v2 -> v3
            UpsertEdge("PRODUCED", "e0", "v0"),
            UpsertEdge("PRODUCED", "e3", "v3"),
            UpsertEdge("USED_DATASET", "e0", "imagenet"),
            UpsertEdge("USED_DATASET", "e3", "finetune-set"),
            UpsertEdge("DATASET_PARENT_OF", "raw-crawl", "finetune-set"),
            UpsertEdge("HAS_VERSION", "m", "v2"),
            UpsertEdge("HAS_VERSION", "m", "v3"),
            UpsertEdge("DEPLOYED_AS", "v3", "prod"),
            UpsertEdge("DEPLOYED_AS", "v2", "staging"),
        ]
    )
    assert graph.experiments_for("v3") == ["e3"]
    assert graph.experiments_for("v1") == []
    assert graph.datasets_for("v3") == ["finetune-set", "imagenet"]
    assert graph.datasets_for("v1") == ["imagenet"]
    assert graph.datasets_for("v3", include_derived=True) == [
        "finetune-set",
        "imagenet",
        "raw-crawl",
    ]
    assert graph.datasets_for("unknown") == []
    assert graph.deployments_of("m") == [Deployed("prod", "v3"), Deployed("staging", "v2")]


def test_bounds_are_validated(graph: LineageGraph) -> None:
    with pytest.raises(ValueError):
        graph.ancestors("v", max_depth=0)
    with pytest.raises(ValueError):
        graph.descendants("v", max_depth=10**9)


def test_clear_and_counts(graph: LineageGraph) -> None:
    graph.apply([*chain(5), UpsertEdge("USED_DATASET", "e", "d")])
    counts = graph.counts()
    assert counts["ModelVersion"] == 5 and counts["PARENT_OF"] == 4 and counts["USED_DATASET"] == 1
    graph.clear()
    assert set(graph.counts().values()) == {0}


def test_rebuild_replaces_everything_atomically(
    graph: LineageGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph.apply(chain(5))
    assert graph.rebuild([UpsertEdge("PARENT_OF", "a", "b")]) == 1
    assert graph.ids("ModelVersion") == {"a", "b"}
    monkeypatch.setattr(graph, "_conn", FailingConnection(graph._conn, fail_at=1))
    with pytest.raises(RuntimeError, match="injected"):
        graph.rebuild([UpsertNode("Agent", "x")])
    assert graph.ids("ModelVersion") == {"a", "b"}  # the old graph survives


def test_reopen_after_close_keeps_data(db_path: Path) -> None:
    with LineageGraph(db_path) as g:
        g.apply(chain(50))
    assert open_database_count() == 0
    with LineageGraph(db_path) as g:
        assert len(g.ancestors("v49")) == 49
    with pytest.raises(StoreClosedError):
        g.ancestors("v49")


def test_handles_on_one_path_share_one_database(db_path: Path) -> None:
    first = LineageGraph(db_path)
    second = LineageGraph(str(db_path.parent / ".." / "graph" / db_path.name))
    try:
        assert first.database is second.database
        assert open_database_count() == 1
        first.apply(chain(3))
        assert second.ancestors("v2") == [Related("v1", 1), Related("v0", 2)]
        first.close()
        second.upsert_node("Agent", "a")
        assert second.ids("Agent") == {"a"}
    finally:
        first.close()
        second.close()
    assert open_database_count() == 0


def test_another_process_holding_the_database_is_waited_for(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, kuzu\n"
            "db = kuzu.Database(sys.argv[1])\n"
            "print('ready', flush=True)\n"
            "sys.stdin.readline()\n",
            str(db_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    with holder:  # closes the pipes and waits
        assert holder.stdout is not None and holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == "ready"
            with pytest.raises(GraphUnavailableError) as info:
                LineageGraph(db_path, open_timeout=0.2)
            assert isinstance(info.value, TimeoutError)
            holder.stdin.write("done\n")
            holder.stdin.flush()
            with LineageGraph(db_path, open_timeout=30) as g:  # retries until released
                g.upsert_node("Agent", "a")
        finally:
            holder.kill()
