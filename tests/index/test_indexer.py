"""The outbox indexer through the real store: crashes, deleted indexes, two
processes, failures that must not fail a write, and ``check``."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("kuzu")
pytest.importorskip("lancedb")

from swarmstore import IndexUnavailableError, SwarmDatabaseManager
from swarmstore.cli import main as cli_main
from swarmstore.index.graph import LineageGraph
from swarmstore.index.lance import MODEL_TABLE, VectorIndex
from swarmstore.meta import lineage as ln
from tests.conftest import model_record, small_state_dict

REPO = Path(__file__).resolve().parents[2]


def outbox_and_marks(root: Path) -> tuple[int, dict[str, int]]:
    """Newest outbox row and index watermarks, read with plain sqlite3 (no store open)."""
    conn = sqlite3.connect(root / "meta.sqlite3")
    try:
        top = conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
        marks = dict(conn.execute("SELECT name, seq FROM index_watermarks").fetchall())
    finally:
        conn.close()
    return top, marks


def store_chain(db: SwarmDatabaseManager, n: int, *, model_id: str = "model_001") -> None:
    for i in range(n):
        extra = {"parentVersion": f"v{i - 1}"} if i else {}
        db.store_neural_model(
            "s", model_record(f"v{i}", small_state_dict(i), model_id=model_id, **extra)
        )


def version_keys(db: SwarmDatabaseManager) -> set[str]:
    return {
        ln.node_key(ln.MODEL_VERSION, m["swarm_id"], m["model_id"], v.version)
        for m in db.list_models()
        for v in db.list_model_versions(m["swarm_id"], m["model_id"])
    }


def run_child(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_write_is_indexed_and_check_agrees(store_path: Path) -> None:
    db = SwarmDatabaseManager.open(store_path, durability="normal")
    store_chain(db, 3)
    db.store_neural_model(
        "s", model_record("m", small_state_dict(9), parentVersion="v2", mergedFrom=["v0"])
    )
    db.sync_indexes()
    top, marks = outbox_and_marks(store_path)
    assert top == 4 and marks == {"lineage_graph": 4, "vectors": 4}
    assert db.check().ok, db.check()
    assert db.lineage.ancestors("s", "model_001", "m") == db.lineage.ancestors(
        "s", "model_001", "m", source="sql"
    )
    assert db.lineage.last_source == "sql"
    assert {(a.version, a.depth) for a in db.lineage.ancestors("s", "model_001", "m")} == {
        ("v2", 1),
        ("v0", 1),
        ("v1", 2),
    }
    assert db.lineage.last_source == "graph"
    vectors = db._indexer.vectors()
    assert vectors.ids(MODEL_TABLE) == version_keys(db)


def test_check_reports_index_differences_and_reindex_repairs(store_path: Path) -> None:
    db = SwarmDatabaseManager.open(store_path, durability="normal")
    store_chain(db, 3)
    db.sync_indexes()
    gone = ln.node_key(ln.MODEL_VERSION, "s", "model_001", "v1")
    db._indexer.vectors().delete(MODEL_TABLE, [gone])
    report = db.check()
    assert not report.ok
    assert any("neural_model_vectors rows missing" in p and gone in p for p in report.problems)
    db.reindex()
    assert db.check().ok


@pytest.mark.parametrize("part", ["graph", "vectors"])
def test_deleted_index_directory_is_rebuilt_by_reindex(
    store_path: Path, part: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        store_chain(db, 4)
    shutil.rmtree(store_path / "indexes" / part)
    assert cli_main(["reindex", str(store_path)]) == 0
    assert "rebuilt lineage_graph, vectors" in capsys.readouterr().out
    graph_file = next((store_path / "indexes" / "graph").glob("lineage-*.kz"))
    with LineageGraph(graph_file) as graph:
        assert graph.counts()["ModelVersion"] == 4 and graph.counts()["PARENT_OF"] == 3
    with VectorIndex(store_path / "indexes" / "vectors") as vectors:
        assert vectors.count(MODEL_TABLE) == 4
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        assert db.check().ok


def test_deleted_index_directory_is_rebuilt_on_open(store_path: Path) -> None:
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        store_chain(db, 3)
    shutil.rmtree(store_path / "indexes")
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        report = db.check()
        assert report.ok, report
        assert len(db.lineage.descendants("s", "model_001", "v0", source="graph")) == 2


KILL_AFTER_COMMIT = """
import os, signal, sys
from swarmstore import SwarmDatabaseManager
from tests.conftest import model_record, small_state_dict
db = SwarmDatabaseManager.open(sys.argv[1])
db.store_neural_model("s", model_record("v0", small_state_dict(0)))
db.sync_indexes()
# Subscribers run after the commit and before the indexer: die right there.
db.on("neural_model_stored", lambda event: os.kill(os.getpid(), signal.SIGKILL))
db.store_neural_model("s", model_record("v1", small_state_dict(1), parentVersion="v0"))
print("not reached")
"""

KILL_BEFORE_WATERMARK = """
import os, signal, sys
from swarmstore import SwarmDatabaseManager
from swarmstore.index import queries as sql_source
from tests.conftest import model_record, small_state_dict
db = SwarmDatabaseManager.open(sys.argv[1])
db.store_neural_model("s", model_record("v0", small_state_dict(0)))
db.sync_indexes()
# Die after the graph and vector writes committed, before the watermark moves.
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
sql_source.set_watermark = die
db.store_neural_model("s", model_record("v1", small_state_dict(1), parentVersion="v0"))
db.sync_indexes()  # the background pass dies in here
print("not reached")
"""


@pytest.mark.parametrize("script", [KILL_AFTER_COMMIT, KILL_BEFORE_WATERMARK])
def test_kill_between_commit_and_index_loses_nothing(store_path: Path, script: str) -> None:
    child = run_child(script, str(store_path))
    assert child.returncode == -9, child.stderr
    assert "not reached" not in child.stdout
    top, marks = outbox_and_marks(store_path)
    assert top == 2 and marks == {"lineage_graph": 1, "vectors": 1}  # v1 committed, not indexed
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        db.sync_indexes()  # open caught up in the background
        assert outbox_and_marks(store_path) == (2, {"lineage_graph": 2, "vectors": 2})
        report = db.check()
        assert report.ok, report
        assert db.lineage.ancestors("s", "model_001", "v1", source="graph")[0].version == "v0"
        assert db._indexer.vectors().ids(MODEL_TABLE) == version_keys(db)


WRITER = """
import sys
from swarmstore import SwarmDatabaseManager
from tests.conftest import model_record, small_state_dict
root, model, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with SwarmDatabaseManager.open(root, durability="normal") as db:
    for i in range(count):
        extra = {"parentVersion": f"v{i - 1}"} if i else {}
        record = model_record(f"v{i}", small_state_dict(i), model_id=model, **extra)
        db.store_neural_model("s", record)
        ancestors = db.lineage.ancestors("s", model, f"v{i}")
        assert [a.version for a in ancestors] == [f"v{j}" for j in range(i - 1, -1, -1)]
print("done")
"""


def test_two_processes_writing_at_once_see_no_lock_errors(store_path: Path) -> None:
    SwarmDatabaseManager.open(store_path, durability="normal").close()  # create the schema
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(store_path), f"model_{n}", "8"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for child in children:
        out, err = child.communicate(timeout=240)
        assert child.returncode == 0 and out.strip() == "done", err
        # Neither raised nor logged (a logged index failure prints its traceback).
        assert "Traceback" not in err and "LockTimeoutError" not in err, err
    # The last process to let go of the indexes applied everything: no open needed.
    top, marks = outbox_and_marks(store_path)
    assert top == 16 and marks == {"lineage_graph": 16, "vectors": 16}
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        assert db.check().ok
        assert len(db._indexer.vectors().ids(MODEL_TABLE)) == 16


def test_a_failing_index_never_fails_the_write(store_path: Path) -> None:
    db = SwarmDatabaseManager.open(store_path, durability="normal")
    store_chain(db, 1)
    db._indexer.close()  # make the vector directory unusable for the next open
    db.close()
    shutil.rmtree(store_path / "indexes" / "vectors")
    (store_path / "indexes" / "vectors").write_text("not a directory")
    db = SwarmDatabaseManager.open(store_path, durability="normal")
    stored = db.store_neural_model("s", model_record("v1", small_state_dict(1), parentVersion="v0"))
    assert stored.version == "v1"
    assert db.get_neural_model("s", "model_001", "v1").version == "v1"
    db.sync_indexes()
    top, marks = outbox_and_marks(store_path)
    assert top == 2 and marks["vectors"] < 2  # left in the outbox
    assert not db.check().ok
    db.close()
    (store_path / "indexes" / "vectors").unlink()
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        assert db.check().ok
        assert outbox_and_marks(store_path) == (2, {"lineage_graph": 2, "vectors": 2})


def test_indexes_off_leaves_sql_answers(store_path: Path) -> None:
    db = SwarmDatabaseManager.open(store_path, durability="normal", extra={"indexes": "off"})
    store_chain(db, 3)
    assert not (store_path / "indexes").exists()
    assert db.check().ok
    assert [a.version for a in db.lineage.ancestors("s", "model_001", "v2")] == ["v1", "v0"]
    assert db.lineage.last_source == "sql"
    with pytest.raises(IndexUnavailableError):
        db.reindex()
    with pytest.raises(IndexUnavailableError):
        db.find_similar_models("s", "model_001")
    with pytest.raises(IndexUnavailableError):
        db.lineage.ancestors("s", "model_001", "v2", source="graph")


def test_a_deleted_version_leaves_the_vectors_and_stays_in_the_lineage(store_path: Path) -> None:
    db = SwarmDatabaseManager.open(store_path, durability="normal")
    store_chain(db, 3)
    db.delete_model_version("s", "model_001", "v1")
    assert db.check().ok
    assert db._indexer.vectors().ids(MODEL_TABLE) == {
        ln.node_key(ln.MODEL_VERSION, "s", "model_001", v) for v in ("v0", "v2")
    }
    assert [a.version for a in db.lineage.ancestors("s", "model_001", "v2")] == ["v1", "v0"]
    similar = db.find_similar_models("s", "model_001", "v2", threshold=-1)
    assert [m.version for m in similar] == ["v0"]


def test_a_damaged_graph_file_is_replaced_by_a_rebuild(store_path: Path) -> None:
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        store_chain(db, 3)
    graph_file = next((store_path / "indexes" / "graph").glob("lineage-*.kz"))
    graph_file.write_bytes(b"\x00garbage" * 4096)
    with SwarmDatabaseManager.open(store_path, durability="normal") as db:
        report = db.check()
        assert report.ok, report
        assert len(db.lineage.ancestors("s", "model_001", "v2", source="graph")) == 2


def test_an_index_far_behind_is_rebuilt_rather_than_replayed(store_path: Path) -> None:
    from swarmstore.index.indexer import Indexer
    from swarmstore.index.sources import StoreVectorSource

    db = SwarmDatabaseManager.open(store_path, durability="normal", extra={"indexes": "off"})
    store_chain(db, 4)
    source = StoreVectorSource(db._meta, db._models)
    indexer = Indexer(db._meta, store_path / "indexes", source, rebuild_after=3)
    try:
        report = indexer.run_pending()
        assert sorted(report.rebuilt) == ["lineage_graph", "vectors"]
        assert indexer.pending() == 0 and indexer.compare() == []
    finally:
        indexer.close()


def test_indexes_live_where_the_config_says(tmp_path: Path) -> None:
    graph_dir, vector_dir = tmp_path / "graph-here", tmp_path / "vectors-here"
    db = SwarmDatabaseManager.open(
        tmp_path / "store", durability="normal", graph_path=graph_dir, vector_url=str(vector_dir)
    )
    store_chain(db, 2)
    assert db.check().ok
    assert list((graph_dir / "graph").glob("lineage-*.kz"))
    assert (vector_dir / f"{MODEL_TABLE}.lance").is_dir()
    assert not (tmp_path / "store" / "indexes").exists()
