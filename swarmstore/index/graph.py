"""The lineage graph: a derived index over Kuzu (or ``ladybug``, same API).

SQL holds the truth; this graph answers lineage questions fast and can be
dropped and rebuilt from SQL at any time. Everything Kuzu-specific lives here
and the rest of swarmstore sees plain ids, tuples and dataclasses.

Three Kuzu facts shape this module:

- Two read-write ``Database`` objects on one path in one process lose data
  silently, so handles share one ``Database`` per resolved path per process
  (a refcounted registry); Kuzu itself locks the file against other
  processes while it is open, so opening retries until ``open_timeout``.
- Writes also take an inter-process ``flock`` beside the database (see
  ``locks.py``), so open-write-close writers in different processes queue.
- A variable-length pattern without an explicit bound stops at 30 hops and a
  larger bound is rejected unless ``var_length_extend_max_depth`` is raised.
  Every connection raises it to ``MAX_DEPTH_LIMIT`` and every pattern here
  carries an explicit bound. Traversals use ``SHORTEST`` (a breadth-first
  search, linear in the graph) rather than walk semantics, which enumerate
  every path and explode on diamond-shaped lineage.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, NamedTuple

from swarmstore.errors import InvalidRecordError, StoreClosedError, StoreLockedError
from swarmstore.filelock import FileLock
from swarmstore.meta.lineage import NODE_KINDS, RELATIONS

#: Node tables (the lineage node kinds of ``swarmstore.meta.lineage``) and their
#: STRING properties besides ``id`` (the SQL node key): ``props`` holds the SQL
#: row's JSON properties as text, so the graph mirrors ``lineage_nodes`` as is.
NODE_TABLES: dict[str, tuple[str, ...]] = {kind: ("swarm_id", "props") for kind in NODE_KINDS}
#: Relationship tables: name -> (from table, to table), exactly the SQL
#: ``lineage_edges`` vocabulary. PARENT_OF and DATASET_PARENT_OF point parent -> child.
REL_TABLES: dict[str, tuple[str, str]] = dict(RELATIONS)
#: Bump when the graph schema changes: the file name carries it, so an old
#: graph is simply not opened (and gets rebuilt from SQL).
SCHEMA_VERSION = 2
#: Default hop bound of traversals; far beyond any real lineage chain.
DEFAULT_MAX_DEPTH = 10_000
#: The largest bound a caller may ask for (``var_length_extend_max_depth``).
MAX_DEPTH_LIMIT = 100_000


class GraphUnavailableError(StoreLockedError):
    """The graph cannot be opened now (another process holds it, or no backend).

    Callers answer lineage from SQL instead, or retry later.
    """


# --- operations: what the outbox indexer hands to ``apply`` ----------------


@dataclass(frozen=True, slots=True)
class UpsertNode:
    """Create the node or update the given properties; absent ones are kept."""

    table: str
    id: str
    props: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeleteNode:
    """Remove the node and its relationships; a missing node is no error."""

    table: str
    id: str


@dataclass(frozen=True, slots=True)
class UpsertEdge:
    """Create the relationship once; missing endpoints are created as stubs,
    so edges may arrive before their nodes."""

    rel: str
    src: str
    dst: str


@dataclass(frozen=True, slots=True)
class DeleteEdge:
    """Remove the relationship; a missing one is no error."""

    rel: str
    src: str
    dst: str


GraphOp = UpsertNode | DeleteNode | UpsertEdge | DeleteEdge


class Related(NamedTuple):
    """A node reached by a traversal and its shortest distance in hops."""

    id: str
    depth: int


class Deployed(NamedTuple):
    deployment_id: str
    version_id: str


# --- the backend adapter and the per-process registry ----------------------


def load_backend() -> ModuleType:
    """Return the ``kuzu`` module, or ``ladybug`` (its successor) when kuzu is absent."""
    for name in ("kuzu", "ladybug", "real_ladybug"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        # "ladybug" is also an unrelated weather library: check the API.
        if hasattr(module, "Database") and hasattr(module, "Connection"):
            return module
    raise GraphUnavailableError("no graph backend: install kuzu (or ladybug)")


@dataclass(eq=False)
class _SharedDatabase:
    path: str
    backend: ModuleType
    database: Any
    write_lock: FileLock
    refs: int = 0


_REGISTRY: dict[str, _SharedDatabase] = {}
_REGISTRY_LOCK = threading.Lock()


def _is_lock_error(exc: Exception) -> bool:
    return "lock" in str(exc).lower()


def _acquire(path: str, open_timeout: float) -> _SharedDatabase:
    with _REGISTRY_LOCK:
        shared = _REGISTRY.get(path)
        if shared is None:
            backend = load_backend()
            write_lock = FileLock(path + ".writelock", timeout=open_timeout)
            database = _open_database(backend, path, write_lock, open_timeout)
            shared = _SharedDatabase(path, backend, database, write_lock)
            _REGISTRY[path] = shared
        shared.refs += 1
        return shared


def _open_database(
    backend: ModuleType, path: str, write_lock: FileLock, open_timeout: float
) -> Any:
    deadline = time.monotonic() + open_timeout
    delay = 0.01
    with write_lock:
        while True:
            try:
                return backend.Database(path)
            except RuntimeError as exc:
                if not _is_lock_error(exc):
                    raise  # a damaged or foreign file: the caller may rebuild it
                if time.monotonic() >= deadline:
                    raise GraphUnavailableError(f"cannot open graph {path!r}: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _release(shared: _SharedDatabase) -> None:
    with _REGISTRY_LOCK:
        shared.refs -= 1
        if shared.refs == 0:
            _REGISTRY.pop(shared.path, None)
            shared.database.close()


def open_database_count() -> int:
    """How many graph databases this process holds open (for tests and ``check``)."""
    with _REGISTRY_LOCK:
        return len(_REGISTRY)


# --- the graph ---------------------------------------------------------------


class LineageGraph:
    """A handle on the lineage graph at ``path`` (a Kuzu database file).

    Handles on one path in one process share one ``Database``; each has its
    own connection and may be used from several threads. Writes are atomic
    (one transaction per call) and idempotent. ``close()`` or ``with``
    releases the handle; the database closes with its last handle.

    Kuzu lets one process at a time hold the database open, so a handle in
    another process waits up to ``open_timeout`` seconds and then raises
    ``GraphUnavailableError``: answer lineage from SQL then (``WITH
    RECURSIVE``), or retry. Close handles that are not in use.
    """

    def __init__(self, path: str | Path, *, open_timeout: float = 10.0) -> None:
        resolved = Path(path).expanduser().resolve()
        resolved.parent.mkdir(parents=True, exist_ok=True)
        self.db_path = str(resolved)
        self._shared = _acquire(self.db_path, open_timeout)
        self._lock = threading.RLock()
        self._closed = False
        self._conn: Any = None
        try:
            self._conn = self._shared.backend.Connection(self._shared.database)
            self._conn.execute(f"CALL var_length_extend_max_depth={MAX_DEPTH_LIMIT}")
            self._create_schema()
        except BaseException:
            if self._conn is not None:
                self._conn.close()
            _release(self._shared)
            raise

    @property
    def database(self) -> Any:
        """The shared backend ``Database`` (identity is what tests check)."""
        return self._shared.database

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._conn.close()
            _release(self._shared)

    def __enter__(self) -> LineageGraph:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- writes ---

    def apply(self, ops: Iterable[GraphOp]) -> int:
        """Apply ``ops`` in order in one transaction; all or nothing.

        Runs of consecutive operations of one kind go to Kuzu as one
        ``UNWIND`` statement. Returns the number of operations applied.
        Raises ``InvalidRecordError`` for an unknown table, property or a
        non-string id before anything is written.
        """
        op_list = list(ops)
        self._write(_plan(op_list), clear_first=False)
        return len(op_list)

    def rebuild(self, ops: Iterable[GraphOp]) -> int:
        """Replace the whole graph with ``ops`` in one transaction.

        For ``reindex`` from SQL: readers see the old graph or the new one,
        never an empty or half-built one.
        """
        op_list = list(ops)
        self._write(_plan(op_list), clear_first=True)
        return len(op_list)

    def clear(self) -> None:
        """Remove every node and relationship."""
        self._write([], clear_first=True)

    def upsert_node(self, table: str, id: str, **props: str | None) -> None:
        self.apply([UpsertNode(table, id, props)])

    def delete_node(self, table: str, id: str) -> None:
        self.apply([DeleteNode(table, id)])

    def upsert_edge(self, rel: str, src: str, dst: str) -> None:
        self.apply([UpsertEdge(rel, src, dst)])

    def delete_edge(self, rel: str, src: str, dst: str) -> None:
        self.apply([DeleteEdge(rel, src, dst)])

    def _write(self, statements: list[Statement], *, clear_first: bool) -> None:
        if not statements and not clear_first:
            return
        with self._lock, self._shared.write_lock:
            self._check_open()
            self._conn.execute("BEGIN TRANSACTION")
            try:
                if clear_first:
                    for table in NODE_TABLES:
                        self._conn.execute(f"MATCH (n:{table}) DETACH DELETE n")
                for query, rows in statements:
                    self._conn.execute(query, {"rows": rows})
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # --- reads ---

    def ancestors(self, version_id: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> list[Related]:
        """Every version ``version_id`` descends from, nearest first."""
        return self._reach(version_id, max_depth, "(a:ModelVersion)-[e:PARENT_OF*{b}]->(v)")

    def descendants(self, version_id: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> list[Related]:
        """Every version derived from ``version_id``, nearest first."""
        return self._reach(version_id, max_depth, "(v)-[e:PARENT_OF*{b}]->(a:ModelVersion)")

    def path(
        self, a: str, b: str, *, max_depth: int = DEFAULT_MAX_DEPTH, directed: bool = False
    ) -> list[str] | None:
        """Version ids on a shortest lineage path from ``a`` to ``b``, or None.

        Undirected by default (cousins connect through a common ancestor);
        ``directed=True`` only follows parent -> child edges.
        """
        if a == b:
            return [a] if self.node(a, table="ModelVersion") is not None else None
        arrow = "->" if directed else "-"
        rows = self._query(
            f"MATCH p = (x:ModelVersion {{id: $a}})-[:PARENT_OF*{_bound(max_depth)}]{arrow}"
            "(y:ModelVersion {id: $b}) RETURN properties(nodes(p), 'id') LIMIT 1",
            {"a": a, "b": b},
        )
        return [str(i) for i in rows[0][0]] if rows else None

    def experiments_for(self, version_id: str) -> list[str]:
        """Experiments that produced ``version_id``."""
        rows = self._query(
            "MATCH (e:Experiment)-[:PRODUCED]->(:ModelVersion {id: $id}) "
            "RETURN DISTINCT e.id ORDER BY e.id",
            {"id": version_id},
        )
        return [str(r[0]) for r in rows]

    def datasets_for(
        self,
        version_id: str,
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
        include_derived: bool = False,
    ) -> list[str]:
        """Datasets used by experiments that produced the version or any ancestor.

        With ``include_derived``, also the earlier dataset versions those
        were derived from (``DATASET_PARENT_OF`` ancestors).
        """
        bound = _bound(max_depth)
        rows = self._query(
            "MATCH (v:ModelVersion {id: $id}) "
            f"OPTIONAL MATCH (a:ModelVersion)-[:PARENT_OF*{bound}]->(v) "
            "WITH v, collect(a.id) AS ancestors "
            "UNWIND ancestors + [v.id] AS vid "
            "MATCH (e:Experiment)-[:PRODUCED]->(x:ModelVersion), (e)-[:USED_DATASET]->(d:Dataset) "
            "WHERE x.id = vid RETURN DISTINCT d.id",
            {"id": version_id},
        )
        found = {str(r[0]) for r in rows}
        if include_derived and found:
            rows = self._query(
                f"MATCH (s:Dataset)-[:DATASET_PARENT_OF*{bound}]->(d:Dataset) "
                "WHERE d.id IN $ids RETURN DISTINCT s.id",
                {"ids": sorted(found)},
            )
            found.update(str(r[0]) for r in rows)
        return sorted(found)

    def deployments_of(self, model_id: str) -> list[Deployed]:
        """Deployments of any version of ``model_id``."""
        rows = self._query(
            "MATCH (:Model {id: $id})-[:HAS_VERSION]->(v:ModelVersion)-[:DEPLOYED_AS]->"
            "(d:Deployment) RETURN DISTINCT d.id, v.id ORDER BY d.id, v.id",
            {"id": model_id},
        )
        return [Deployed(str(d), str(v)) for d, v in rows]

    def node(self, id: str, *, table: str) -> dict[str, str | None] | None:
        """The node's properties (``id`` included), or None when absent."""
        props = _node_props(table)
        cols = ", ".join(f"n.{p}" for p in ("id", *props))
        rows = self._query(f"MATCH (n:{table} {{id: $id}}) RETURN {cols}", {"id": id})
        return dict(zip(("id", *props), rows[0], strict=True)) if rows else None

    def ids(self, table: str) -> set[str]:
        """Every id in a node table (to diff against SQL in ``check``)."""
        _node_props(table)
        return {str(r[0]) for r in self._query(f"MATCH (n:{table}) RETURN n.id", {})}

    def node_keys(self) -> dict[str, str]:
        """Every node's id -> its table (to diff against SQL in ``check``)."""
        out: dict[str, str] = {}
        for table in NODE_TABLES:
            out.update(
                (str(r[0]), table) for r in self._query(f"MATCH (n:{table}) RETURN n.id", {})
            )
        return out

    def edges(self) -> set[tuple[str, str, str]]:
        """Every relationship as ``(src id, rel, dst id)``."""
        out: set[tuple[str, str, str]] = set()
        for rel in REL_TABLES:
            rows = self._query(f"MATCH (a)-[r:{rel}]->(b) RETURN a.id, b.id", {})
            out.update((str(a), rel, str(b)) for a, b in rows)
        return out

    def is_empty(self) -> bool:
        """Whether the graph holds no node at all (fresh, or silently reset)."""
        return int(self._query("MATCH (n) RETURN count(n)", {})[0][0]) == 0

    def counts(self) -> dict[str, int]:
        """Row count of every node and relationship table, by table name."""
        out: dict[str, int] = {}
        for table in NODE_TABLES:
            out[table] = int(self._query(f"MATCH (n:{table}) RETURN count(n)", {})[0][0])
        for rel in REL_TABLES:
            out[rel] = int(self._query(f"MATCH ()-[r:{rel}]->() RETURN count(r)", {})[0][0])
        return out

    # --- internals ---

    def _reach(self, version_id: str, max_depth: int, pattern: str) -> list[Related]:
        rows = self._query(
            f"MATCH (v:ModelVersion {{id: $id}}) MATCH {pattern.format(b=_bound(max_depth))} "
            "RETURN a.id, length(e)",
            {"id": version_id},
        )
        return sorted((Related(str(i), int(d)) for i, d in rows), key=lambda r: (r.depth, r.id))

    def _query(self, query: str, params: Mapping[str, Any]) -> list[list[Any]]:
        with self._lock:
            self._check_open()
            result = self._conn.execute(query, dict(params))
            rows: list[list[Any]] = result.get_all()
            result.close()
            return rows

    def _create_schema(self) -> None:
        with self._shared.write_lock:
            for table, props in NODE_TABLES.items():
                cols = "".join(f", {p} STRING" for p in props)
                self._conn.execute(
                    f"CREATE NODE TABLE IF NOT EXISTS {table}(id STRING PRIMARY KEY{cols})"
                )
            for rel, (src, dst) in REL_TABLES.items():
                self._conn.execute(f"CREATE REL TABLE IF NOT EXISTS {rel}(FROM {src} TO {dst})")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"lineage graph {self.db_path!r} is closed")


def _bound(max_depth: int) -> str:
    """The explicit ``SHORTEST 1..N`` bound every variable-length pattern carries."""
    if not 1 <= max_depth <= MAX_DEPTH_LIMIT:
        raise ValueError(f"max_depth must be in 1..{MAX_DEPTH_LIMIT}, got {max_depth}")
    return f" SHORTEST 1..{max_depth}"


def _node_props(table: str) -> tuple[str, ...]:
    try:
        return NODE_TABLES[table]
    except KeyError:
        raise InvalidRecordError(f"unknown node table {table!r}") from None


def _rel_ends(rel: str) -> tuple[str, str]:
    try:
        return REL_TABLES[rel]
    except KeyError:
        raise InvalidRecordError(f"unknown relationship table {rel!r}") from None


def _check_ids(*ids: object) -> None:
    for i in ids:
        if not isinstance(i, str) or not i:
            raise InvalidRecordError(f"graph ids are non-empty strings, got {i!r}")


def _run_key(op: GraphOp) -> tuple[str, ...]:
    """Operations with one run key can share statements (same kind and table)."""
    if isinstance(op, UpsertNode):
        allowed = _node_props(op.table)
        unknown = set(op.props) - set(allowed)
        if unknown:
            raise InvalidRecordError(f"{op.table} has no properties {sorted(unknown)}")
        if not all(v is None or isinstance(v, str) for v in op.props.values()):
            raise InvalidRecordError(f"{op.table} {op.id!r}: property values must be str or None")
        _check_ids(op.id)
        return ("upsert_node", op.table, *sorted(op.props))
    if isinstance(op, DeleteNode):
        _node_props(op.table)
        _check_ids(op.id)
        return ("delete_node", op.table)
    if isinstance(op, UpsertEdge | DeleteEdge):
        _rel_ends(op.rel)
        _check_ids(op.src, op.dst)
        return (type(op).__name__, op.rel)
    raise InvalidRecordError(f"not a graph operation: {op!r}")


Statement = tuple[str, list[dict[str, Any]]]


def _run_statements(key: tuple[str, ...], run: list[GraphOp]) -> list[Statement]:
    """Cypher for one run, each an ``UNWIND $rows`` over distinct rows.

    Duplicates are folded first (the last upsert of an id wins, as applying
    them one by one would): Kuzu's MERGE inside one UNWIND does not see rows
    the same statement created.
    """
    kind, table = key[0], key[1]
    if kind == "upsert_node":
        last = {op.id: op for op in run if isinstance(op, UpsertNode)}
        keys = key[2:]
        sets = " SET " + ", ".join(f"n.{k} = r.{k}" for k in keys) if keys else ""
        rows = [{"id": i, **{k: op.props[k] for k in keys}} for i, op in last.items()]
        return [(f"UNWIND $rows AS r MERGE (n:{table} {{id: r.id}}){sets}", rows)]
    if kind == "delete_node":
        rows = [{"id": i} for i in dict.fromkeys(op.id for op in run if isinstance(op, DeleteNode))]
        return [(f"UNWIND $rows AS r MATCH (n:{table} {{id: r.id}}) DETACH DELETE n", rows)]
    src, dst = REL_TABLES[table]
    edges = [op for op in run if isinstance(op, UpsertEdge | DeleteEdge)]
    pairs = list(dict.fromkeys((op.src, op.dst) for op in edges))
    edge_rows = [{"s": s, "d": d} for s, d in pairs]
    if kind == "DeleteEdge":
        query = (
            f"UNWIND $rows AS r MATCH (a:{src} {{id: r.s}})-[e:{table}]->(b:{dst} {{id: r.d}}) "
            "DELETE e"
        )
        return [(query, edge_rows)]
    # Endpoints first, as stubs, so edges may arrive before their nodes.
    ends: dict[str, dict[str, None]] = {src: {}, dst: {}}
    for s, d in pairs:
        ends[src][s] = None
        ends[dst][d] = None
    out: list[Statement] = [
        (f"UNWIND $rows AS r MERGE (n:{t} {{id: r.id}})", [{"id": i} for i in ids])
        for t, ids in ends.items()
    ]
    query = (
        f"UNWIND $rows AS r MATCH (a:{src} {{id: r.s}}), (b:{dst} {{id: r.d}}) "
        f"MERGE (a)-[:{table}]->(b)"
    )
    return [*out, (query, edge_rows)]


def _plan(ops: Sequence[GraphOp]) -> list[Statement]:
    """Statements for ``ops``: consecutive operations of one kind and table
    form a run, runs keep their order."""
    plan: list[Statement] = []
    run: list[GraphOp] = []
    run_key: tuple[str, ...] | None = None
    for op in ops:
        key = _run_key(op)
        if run and key != run_key:
            plan.extend(_run_statements(run_key or key, run))
            run = []
        run.append(op)
        run_key = key
    if run and run_key is not None:
        plan.extend(_run_statements(run_key, run))
    return plan
