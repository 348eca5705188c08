"""The outbox indexer: keeps the lineage graph and the vector index equal to SQL.

Protocol (restic-style: the indexes are caches that ``check`` can prove and
``reindex`` can rebuild):

- Every committed write leaves an outbox row. A *run* takes the inter-process
  indexer lock **without waiting** (a writer never queues behind another
  process's index work), applies outbox rows after each index's watermark in
  batches, and moves the watermark (one SQL row per index) only after the
  index write committed. A crash anywhere leaves the watermark at or before
  what the index holds, and applying again is idempotent (MERGE,
  merge_insert), so the next run or open catches up and loses nothing.
- A writer that finds the lock taken leaves its rows in the outbox. The
  holder, after releasing, looks again and runs once more if rows are
  pending; since a writer commits before it tries the lock, its rows are
  always seen by the last holder to release, so no row is stranded.
- Kuzu holds an exclusive file lock while a ``Database`` is open (and opening
  plus closing one is costly), so a process keeps the graph open while it
  is busy and closes it after ``graph_idle_seconds`` without use. Meanwhile
  other processes cannot open it: they apply their rows to the vectors, leave
  the graph's rows pending and answer lineage from SQL. Closing the graph is a
  release like any other: the closer looks for pending rows and applies them.
- An index whose storage is missing (its directory was deleted) while its
  watermark says it holds rows, or that is more than ``rebuild_after`` rows
  behind, is rebuilt from SQL instead of replayed.
- Vectors are never "skipped": a dataset whose record cannot be loaded is
  embedded from its lineage properties and marked (``sources.LINEAGE_ONLY``);
  a version that is gone (deleted) loses its vector.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from swarmstore.errors import IndexUnavailableError, StoreLockedError
from swarmstore.filelock import FileLock, LockTimeoutError
from swarmstore.index import queries as src
from swarmstore.index.graph import (
    NODE_TABLES,
    REL_TABLES,
    SCHEMA_VERSION,
    GraphOp,
    GraphUnavailableError,
    LineageGraph,
    UpsertEdge,
    UpsertNode,
)
from swarmstore.index.lance import (
    DATASET_TABLE,
    MODEL_TABLE,
    DatasetVector,
    ModelVector,
    TableName,
    VectorIndex,
)
from swarmstore.index.sources import LINEAGE_ONLY, StoreVectorSource
from swarmstore.lineage.keys import parse_key
from swarmstore.meta import lineage as ln
from swarmstore.meta.engine import MetaStore

log = logging.getLogger(__name__)

GRAPH: Final = "lineage_graph"
VECTORS: Final = "vectors"
INDEXES: Final = (GRAPH, VECTORS)
_EMBED_BATCH = 256
#: Vector table -> the lineage node kind whose every live node has a row there.
_VECTOR_KINDS: tuple[tuple[TableName, str], ...] = (
    (MODEL_TABLE, ln.MODEL_VERSION),
    (DATASET_TABLE, ln.DATASET),
)


def index_extra_installed() -> bool:
    """Whether the ``index`` extra (lancedb and kuzu or ladybug) is importable."""
    has_graph = any(
        importlib.util.find_spec(name) is not None for name in ("kuzu", "ladybug", "real_ladybug")
    )
    return has_graph and importlib.util.find_spec("lancedb") is not None


_LOCKS: dict[str, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


def _shared_lock(path: Path) -> FileLock:
    """One ``FileLock`` per path per process (two fds would block each other)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path), FileLock(path))


@dataclass
class RunReport:
    """What one ``run_pending`` did: rows applied per index, rebuilt indexes,
    and whether another holder of the lock made it leave rows pending."""

    applied: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INDEXES, 0))
    rebuilt: list[str] = field(default_factory=list)
    locked_out: bool = False
    graph_busy: bool = False  # another process had the graph open


class Indexer:
    """The derived indexes of one store, under ``root`` (``<store>/indexes``)."""

    def __init__(
        self,
        meta: MetaStore,
        root: Path,
        source: StoreVectorSource,
        *,
        batch_size: int = 500,
        rebuild_after: int = 20_000,
        lock_timeout: float = 60.0,
        graph_idle_seconds: float = 2.0,
        vectors_uri: str | None = None,
        storage_options: Mapping[str, str] | None = None,
        graph_watermark: str = GRAPH,
    ) -> None:
        """``root``: this machine's directory for the graph and the lock.
        ``vectors_uri``: the Lance tables (default ``root/vectors``; may be an
        object-store URL, with ``storage_options``). ``graph_watermark``: the
        graph's watermark row; give each machine its own when several share
        one SQL database (the graph is per machine, the vectors are shared)."""
        self.meta = meta
        self.root = Path(root)
        self.graph_dir = self.root / "graph"
        self.graph_path = self.graph_dir / f"lineage-v{SCHEMA_VERSION}.kz"
        self.vectors_uri = vectors_uri or str(self.root / "vectors")
        self.storage_options = dict(storage_options or {})
        self._mark_names = {GRAPH: graph_watermark, VECTORS: VECTORS}
        self.source = source
        self.batch_size = batch_size
        self.rebuild_after = rebuild_after
        self.lock_timeout = lock_timeout
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = _shared_lock(self.root / "indexer.lock")
        self._vectors: VectorIndex | None = None
        self._vectors_guard = threading.Lock()
        self.graph_idle_seconds = graph_idle_seconds
        self._graph: LineageGraph | None = None
        self._graph_timer: threading.Timer | None = None
        self._graph_recreated = False
        self._closing = False
        self._closed = False

    # --- public ---------------------------------------------------------------

    def vectors(self) -> VectorIndex:
        """The vector index (LanceDB allows readers and writers in many processes)."""
        with self._vectors_guard:
            if self._vectors is None:
                self._vectors = VectorIndex(self.vectors_uri, storage_options=self.storage_options)
            return self._vectors

    def pending(self, which: Sequence[str] = INDEXES) -> int:
        """Outbox rows not yet applied to the most-behind index in ``which``."""
        with self.meta.read() as session:
            top = src.max_outbox_seq(session)
            marks = self._marks(session, which)
        return max(0, top - min(marks.values()))

    def watermarks(self) -> dict[str, int]:
        with self.meta.read() as session:
            return self._marks(session, INDEXES)

    def run_pending(self, *, block: bool = False, which: Sequence[str] = INDEXES) -> RunReport:
        """Apply every pending outbox row; returns at once if another holds the lock
        (unless ``block``), leaving the rows to that holder."""
        report = RunReport()
        wait = block
        while not self._closed:
            if not self._try_lock(wait):
                report.locked_out = True
                return report
            try:
                self._drain(which, report, open_timeout=self.lock_timeout if wait else 0.0)
            finally:
                self._idle_graph()
                self._lock.release()
            # Rows committed while we held the lock may have been left to us.
            if report.graph_busy or self.pending(which) == 0:
                return report
            wait = False
        return report

    def reindex(self, which: Sequence[str] = INDEXES) -> RunReport:
        """Rebuild ``which`` from SQL, waiting up to ``lock_timeout`` for the lock."""
        report = RunReport()
        if not self._try_lock(True):
            raise IndexUnavailableError(
                f"indexes under {self.root} are locked by another process "
                f"(waited {self.lock_timeout:g} s); try again"
            )
        try:
            for name in which:
                self._rebuild(name)
                report.rebuilt.append(name)
            self._drain(which, report, open_timeout=self.lock_timeout)
        finally:
            self._idle_graph()
            self._lock.release()
        if self.pending(which):
            self.run_pending(which=which)
        return report

    @contextmanager
    def graph_for_query(self, *, block: bool = False) -> Iterator[LineageGraph | None]:
        """The caught-up graph for reading, or None when another process holds it
        (or it cannot be opened): the caller answers from SQL then."""
        if not self._try_lock(block):
            yield None
            return
        graph: LineageGraph | None = None
        try:
            timeout = self.lock_timeout if block else 0.0
            report = RunReport()
            self._drain((GRAPH,), report, open_timeout=timeout)
            if not report.graph_busy:
                try:
                    graph = self._ready_graph(timeout)
                except StoreLockedError:
                    graph = None
            yield graph
        finally:
            self._idle_graph()
            self._lock.release()
        if self.pending():
            self.run_pending()

    def compare(self) -> list[str]:
        """Differences between the indexes and SQL, as readable problems."""
        if not self._try_lock(True):
            return [f"indexes not compared: locked by another process for {self.lock_timeout:g} s"]
        try:
            self._drain(INDEXES, RunReport(), open_timeout=self.lock_timeout)
            with self.meta.read() as session:
                nodes = {n.key: n for n in src.iter_nodes(session)}
                edges = set(src.all_edges(session))
                top = src.max_outbox_seq(session)
                marks = self._marks(session, INDEXES)
            graph = self._ready_graph(self.lock_timeout)
            graph_nodes = graph.node_keys()
            graph_edges = graph.edges()
        finally:
            self._idle_graph()
            self._lock.release()
        problems: list[str] = []
        for name, mark in marks.items():
            if mark < top:
                problems.append(f"index {name}: {top - mark} outbox row(s) not applied")
        sql_edges = {e for e in edges if e[1] in REL_TABLES}
        sql_nodes = {k for k, n in nodes.items() if n.kind in NODE_TABLES}
        # An edge may name a node no write recorded (an experiment's dataset
        # before its dataset is stored): the graph holds it as a stub.
        sql_nodes |= {k for s, _, d in sql_edges for k in (s, d)}
        problems += _diff("lineage graph node", sql_nodes, set(graph_nodes))
        kinds = [
            k
            for k in sql_nodes & set(graph_nodes)
            if k in nodes and nodes[k].kind != graph_nodes[k]
        ]
        problems += [f"lineage graph node {k}: kind {graph_nodes[k]} in the graph" for k in kinds]
        problems += _diff("lineage graph edge", _edge_names(sql_edges), _edge_names(graph_edges))
        vectors = self.vectors()
        for table, kind in _VECTOR_KINDS:
            expected = {k for k, n in nodes.items() if n.kind == kind and not n.deleted}
            problems += _diff(f"{table} row", expected, vectors.ids(table))
        return problems

    def close(self) -> None:
        """Apply what is pending (other processes may have left rows to us while
        we held the graph), close the graph and the vector index."""
        self.graph_idle_seconds = 0.0  # from now on the graph closes after each use
        self._closing = True
        timer = self._graph_timer
        if timer is not None:
            timer.cancel()
            if timer is not threading.current_thread():
                timer.join()  # an idle close already under way finishes first
        try:
            self.run_pending()
        except Exception:
            log.exception("index catch-up on close failed; rows stay in the outbox")
        if self._graph is not None and self._try_lock(True):
            try:
                self._close_graph()
            finally:
                self._lock.release()
        self._closed = True
        with self._vectors_guard:
            if self._vectors is not None:
                self._vectors.close()
                self._vectors = None

    # --- the run ------------------------------------------------------------------

    def _marks(self, session: Any, which: Sequence[str]) -> dict[str, int]:
        found = src.watermarks(session, [self._mark_names[name] for name in which])
        return {name: found[self._mark_names[name]] for name in which}

    def _try_lock(self, block: bool) -> bool:
        try:
            self._lock.acquire(timeout=self.lock_timeout if block else 0.0)
        except LockTimeoutError:
            return False
        return True

    def _drain(self, which: Sequence[str], report: RunReport, *, open_timeout: float) -> None:
        """Apply outbox rows past each watermark; the caller holds the lock.

        When another process has the graph open, the graph's rows are left
        pending (``report.graph_busy``) and the vectors still advance."""
        with self.meta.read() as session:
            top = src.max_outbox_seq(session)
            marks = self._marks(session, which)
        if GRAPH in marks and marks[GRAPH] < top:
            try:
                self._graph_handle(open_timeout)
            except StoreLockedError:  # GraphUnavailableError, or its open lock
                report.graph_busy = True
                del marks[GRAPH]
        for name in marks:
            if self._must_rebuild(name, marks[name], top):
                self._rebuild(name)
                report.rebuilt.append(name)
        if not marks:
            return
        with self.meta.read() as session:
            marks = self._marks(session, list(marks))
        while True:
            low = min(marks.values())
            with self.meta.read() as session:
                rows = src.outbox_after(session, low, self.batch_size)
                if not rows:
                    return
                nodes, edges = _window(session, rows)
            last = rows[-1].seq
            if GRAPH in marks and marks[GRAPH] < last:
                self._graph_handle(open_timeout).apply(_graph_ops(nodes.values(), edges))
            if VECTORS in marks and marks[VECTORS] < last:
                fresh = [r for r in rows if r.seq > marks[VECTORS]]
                self._apply_vectors(fresh, nodes)
            now = datetime.now(UTC)
            with self.meta.write() as session:
                for name in marks:
                    if marks[name] < last:
                        report.applied[name] += sum(1 for r in rows if r.seq > marks[name])
                        src.set_watermark(session, self._mark_names[name], last, now)
                        marks[name] = last

    def _must_rebuild(self, name: str, mark: int, top: int) -> bool:
        if top - mark > self.rebuild_after:
            return True
        if name == GRAPH and self._graph_recreated:
            return True
        if mark == 0:
            return False
        if name == GRAPH:
            return not self.graph_path.exists()
        return self._vectors_missing()

    def _vectors_missing(self) -> bool:
        local = Path(self.vectors_uri.removeprefix("file://"))
        if "://" not in self.vectors_uri or self.vectors_uri.startswith("file://"):
            return not local.exists()
        return not self.vectors().exists(MODEL_TABLE)

    def _apply_vectors(self, rows: list[src.OutboxEntry], nodes: dict[str, src.Node]) -> None:
        versions = {k for k, n in nodes.items() if n.kind == ln.MODEL_VERSION}
        datasets = {k for k, n in nodes.items() if n.kind == ln.DATASET}
        for row in rows:  # the payload names the version even if its node was not touched
            p = row.payload
            if row.topic.startswith("model_version.") and {
                "swarm_id",
                "model_id",
                "version",
            } <= set(p):
                versions.add(
                    ln.node_key(ln.MODEL_VERSION, p["swarm_id"], p["model_id"], p["version"])
                )
        if not versions and not datasets:
            return
        with self.meta.read() as session:
            missing = [k for k in versions | datasets if k not in nodes]
            nodes = {**nodes, **src.nodes_by_key(session, missing)}
        self._embed(MODEL_TABLE, sorted(versions), nodes, skip_present=True)
        self._embed(DATASET_TABLE, sorted(datasets), nodes, skip_present=True)

    def _embed(
        self, table: TableName, keys: list[str], nodes: dict[str, src.Node], *, skip_present: bool
    ) -> int:
        """Upsert the vectors of ``keys`` (deleting those that are gone), in batches.
        Without ``skip_present`` the table is known empty (a rebuild): append."""
        vectors = self.vectors()
        done = 0
        for start in range(0, len(keys), _EMBED_BATCH):
            chunk = keys[start : start + _EMBED_BATCH]
            present = (
                vectors.get_rows(table, chunk, columns=("id", "embedder")) if skip_present else {}
            )
            upserts: list[ModelVector | DatasetVector] = []
            gone: list[str] = []
            for key in chunk:
                node = nodes.get(key)
                if node is None or node.deleted:
                    gone.append(key)
                    continue
                if key in present and not str(present[key].get("embedder", "")).endswith(
                    LINEAGE_ONLY
                ):
                    continue
                row = self._vector_of(node)
                if row is None:
                    gone.append(key)
                else:
                    upserts.append(row)
            if gone and skip_present:
                vectors.delete(table, gone)
            if upserts and skip_present:
                done += vectors.upsert(upserts)
            elif upserts:
                done += vectors.append(upserts, table)
        return done

    def _vector_of(self, node: src.Node) -> ModelVector | DatasetVector | None:
        kind, swarm_id, entity_id, version = parse_key(node.key)
        if kind == ln.MODEL_VERSION and version is not None:
            model_row = self.source.model_vector(swarm_id, entity_id, version)
            return None if model_row is None else dataclasses.replace(model_row, id=node.key)
        if kind == ln.DATASET:
            data_row = self.source.dataset_vector(swarm_id, entity_id, version, node.props)
            return dataclasses.replace(data_row, id=node.key)
        return None

    # --- rebuilds -----------------------------------------------------------------

    def _rebuild(self, name: str) -> None:
        with self.meta.read() as session:
            top = src.max_outbox_seq(session)  # read first: later rows are replayed after
        if name == GRAPH:
            with self.meta.read() as session:
                nodes = list(src.iter_nodes(session))
                edges = src.all_edges(session)
            self._graph_handle(self.lock_timeout).rebuild(_graph_ops(nodes, edges))
            self._graph_recreated = False
        else:
            vectors = self.vectors()
            vectors.clear()
            for table, kind in _VECTOR_KINDS:
                with self.meta.read() as session:
                    live = {n.key: n for n in src.iter_nodes(session, [kind]) if not n.deleted}
                self._embed(table, sorted(live), live, skip_present=False)
                vectors.compact(table, force=True)
                vectors.maintain(table)
        with self.meta.write() as session:
            src.set_watermark(session, self._mark_names[name], top, datetime.now(UTC))
        log.info("rebuilt index %s from SQL up to outbox row %d", name, top)

    # --- the graph handle (caller holds the indexer lock) ---------------------------

    def _graph_handle(self, timeout: float) -> LineageGraph:
        """The open graph, opening it if needed (``GraphUnavailableError`` when
        another process has it open past ``timeout``)."""
        if self._graph_timer is not None:
            self._graph_timer.cancel()
            self._graph_timer = None
        if self._graph is None:
            fresh = not self.graph_path.exists()
            try:
                self._graph = LineageGraph(self.graph_path, open_timeout=timeout)
            except GraphUnavailableError:
                raise
            except Exception as exc:
                # A damaged graph file is only a cache: drop it and rebuild from SQL.
                log.warning("lineage graph %s unreadable (%s); recreating it", self.graph_path, exc)
                shutil.rmtree(self.graph_dir, ignore_errors=True)
                self._graph = LineageGraph(self.graph_path, open_timeout=timeout)
                fresh = True
            # An empty graph (new, or a damaged file Kuzu silently started over)
            # is rebuilt from SQL before use: cheap when SQL is empty too.
            fresh = fresh or self._graph.is_empty()
            self._graph_recreated = self._graph_recreated or fresh
        return self._graph

    def _ready_graph(self, timeout: float) -> LineageGraph:
        """The open graph, rebuilt first if it was found empty or damaged."""
        graph = self._graph_handle(timeout)
        if self._graph_recreated:
            self._rebuild(GRAPH)
        return graph

    def _idle_graph(self) -> None:
        """After a use: close the graph now, or once it has been idle a while."""
        if self._graph_timer is not None:
            self._graph_timer.cancel()
            self._graph_timer = None
        if self._graph is None:
            return
        if self.graph_idle_seconds <= 0:
            self._close_graph()
            return
        timer = threading.Timer(self.graph_idle_seconds, self._close_idle_graph)
        timer.daemon = True
        self._graph_timer = timer
        timer.start()

    def _close_graph(self) -> None:
        graph, self._graph = self._graph, None
        if graph is not None:
            graph.close()

    def _close_idle_graph(self) -> None:
        try:
            if self._closing or not self._try_lock(False):
                return  # in use: the user re-arms the timer
            try:
                self._close_graph()
            finally:
                self._lock.release()
            if not self._closing and self.pending():
                self.run_pending()
        except Exception:
            log.exception("closing the idle lineage graph failed")


def _window(session: Any, rows: list[src.OutboxEntry]) -> tuple[dict[str, src.Node], set[src.Edge]]:
    """Lineage rows the writes of ``rows`` touched (see ``sql_source``)."""
    since: dict[str | None, datetime] = {}
    for row in rows:
        swarm = row.payload.get("swarm_id")
        swarm = swarm if isinstance(swarm, str) else None
        t0 = row.created - src.CLOCK_SLACK
        since[swarm] = min(since.get(swarm, t0), t0)
    if None in since:  # a row without a swarm: read every swarm from its time on
        since = {None: min(since.values())}
    nodes: dict[str, src.Node] = {}
    edges: set[src.Edge] = set()
    for swarm, t0 in since.items():
        found, found_edges = src.lineage_since(session, swarm, t0)
        nodes.update((n.key, n) for n in found)
        edges.update(found_edges)
    return nodes, edges


def _graph_ops(nodes: Any, edges: Any) -> list[GraphOp]:
    ops: list[GraphOp] = [
        UpsertNode(
            n.kind,
            n.key,
            {"swarm_id": n.swarm_id, "props": json.dumps(n.props, sort_keys=True, default=str)},
        )
        for n in sorted(nodes, key=lambda n: (n.kind, n.key))
        if n.kind in NODE_TABLES
    ]
    ops += [
        UpsertEdge(rel, s, d)
        for s, rel, d in sorted(edges, key=lambda e: (e[1], e[0], e[2]))
        if rel in REL_TABLES
    ]
    return ops


def _edge_names(edges: set[src.Edge]) -> set[str]:
    return {f"{s} -{r}-> {d}" for s, r, d in edges}


def _diff(what: str, expected: set[str], actual: set[str], *, examples: int = 3) -> list[str]:
    out = []
    missing, extra = sorted(expected - actual), sorted(actual - expected)
    hint = "; run `swarmstore reindex PATH`"
    if missing:
        out.append(
            f"{what}s missing from the index: {len(missing)} "
            f"(e.g. {', '.join(missing[:examples])}){hint}"
        )
    if extra:
        out.append(
            f"{what}s in the index but not in SQL: {len(extra)} "
            f"(e.g. {', '.join(extra[:examples])}){hint}"
        )
    return out
