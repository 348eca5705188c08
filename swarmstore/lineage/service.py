"""``db.lineage``: lineage questions, answered by the graph or by SQL.

The Kuzu graph answers when this process can take the index lock (it is
caught up first, so it is never stale); otherwise, or without the ``index``
extra, the same question is answered from SQL with ``WITH RECURSIVE``. Both
give equal answers (tests/lineage assert it); ``last_source`` says which
answered the last call, and ``source="graph"`` / ``"sql"`` forces one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple, TypeVar

from swarmstore.errors import IndexUnavailableError, InvalidRecordError, LineageNodeNotFoundError
from swarmstore.ids import validate_id
from swarmstore.lineage import queries as sql
from swarmstore.lineage.keys import parse_key
from swarmstore.meta import lineage as ln
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.unit import Session

Source = Literal["auto", "graph", "sql"]
#: Hop bound of traversals unless a caller gives one: far beyond real lineage.
DEFAULT_MAX_DEPTH = 10_000
MAX_DEPTH_LIMIT = 100_000
T = TypeVar("T")


class VersionRef(NamedTuple):
    model_id: str
    version: str


class RelatedVersion(NamedTuple):
    """A version reached by a traversal, ``depth`` hops away (shortest)."""

    model_id: str
    version: str
    depth: int


class DatasetRef(NamedTuple):
    dataset_id: str
    version: str | None


class DeploymentRef(NamedTuple):
    deployment_id: str
    model_id: str
    version: str


VersionLike = VersionRef | tuple[str, str] | str


class LineageQueries:
    """Lineage of one store; every method validates its ids and raises
    ``LineageNodeNotFoundError`` for a version or model the lineage lacks."""

    def __init__(self, meta: MetaStore, indexer: Any, live: Callable[[], None]) -> None:
        self._meta = meta
        self._indexer = indexer  # swarmstore.index.indexer.Indexer, or None
        self._live = live
        self.last_source: str | None = None

    # --- versions -----------------------------------------------------------------

    def ancestors(
        self,
        swarm_id: str,
        model_id: str,
        version: str,
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
        source: Source = "auto",
    ) -> list[RelatedVersion]:
        """Every version this one descends from (parents, merges included), nearest first."""
        return self._related_versions("ancestors", swarm_id, model_id, version, max_depth, source)

    def descendants(
        self,
        swarm_id: str,
        model_id: str,
        version: str,
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
        source: Source = "auto",
    ) -> list[RelatedVersion]:
        """Every version derived from this one, nearest first."""
        return self._related_versions("descendants", swarm_id, model_id, version, max_depth, source)

    def _related_versions(
        self,
        direction: str,
        swarm_id: str,
        model_id: str,
        version: str,
        max_depth: int,
        source: Source,
    ) -> list[RelatedVersion]:
        """``direction`` ("ancestors" | "descendants") of a version, from the graph
        (a method of that name) or SQL (a function of that name)."""
        key = self._version_key(swarm_id, model_id, version)
        bound = _depth(max_depth)
        in_sql = getattr(sql, direction)
        rows = self._ask(
            source,
            lambda g: [(r.id, r.depth) for r in getattr(g, direction)(key, max_depth=bound)],
            lambda s: in_sql(s, key, bound),
        )
        return [_related(k, d) for k, d in rows]

    def path(
        self,
        swarm_id: str,
        a: VersionLike,
        b: VersionLike,
        *,
        directed: bool = False,
        max_depth: int = DEFAULT_MAX_DEPTH,
        source: Source = "auto",
    ) -> list[VersionRef] | None:
        """Versions on a shortest lineage path from ``a`` to ``b`` (both ends
        included), or None. ``a``/``b`` are ``"model_id/version"`` or a pair.
        Undirected by default (cousins meet at a common ancestor)."""
        key_a = self._version_key(swarm_id, *_pair(a))
        key_b = self._version_key(swarm_id, *_pair(b))
        bound = _depth(max_depth)
        keys = self._ask(
            source,
            lambda g: g.path(key_a, key_b, max_depth=bound, directed=directed),
            lambda s: sql.path(s, key_a, key_b, bound, directed=directed),
        )
        if keys is None:
            return None
        return [VersionRef(r.model_id, r.version) for r in (_related(k, 0) for k in keys)]

    def experiments_for(
        self, swarm_id: str, model_id: str, version: str, *, source: Source = "auto"
    ) -> list[str]:
        """Ids of the experiments that produced this version."""
        key = self._version_key(swarm_id, model_id, version)
        keys = self._ask(
            source, lambda g: g.experiments_for(key), lambda s: sql.experiments_for(s, key)
        )
        return sorted(parse_key(k)[2] for k in keys)

    def datasets_for(
        self,
        swarm_id: str,
        model_id: str,
        version: str,
        *,
        include_derived: bool = False,
        max_depth: int = DEFAULT_MAX_DEPTH,
        source: Source = "auto",
    ) -> list[DatasetRef]:
        """Dataset versions used by experiments that produced this version or any
        ancestor; ``include_derived`` adds the dataset versions those came from."""
        key = self._version_key(swarm_id, model_id, version)
        bound = _depth(max_depth)
        keys = self._ask(
            source,
            lambda g: g.datasets_for(key, max_depth=bound, include_derived=include_derived),
            lambda s: sql.datasets_for(s, key, bound, include_derived=include_derived),
        )
        refs = [parse_key(k) for k in keys]
        return sorted(DatasetRef(r[2], r[3]) for r in refs)

    def deployments_of(
        self, swarm_id: str, model_id: str, *, source: Source = "auto"
    ) -> list[DeploymentRef]:
        """Deployments of any version of the model."""
        validate_id("swarm_id", swarm_id)
        validate_id("model id", model_id)
        key = ln.node_key(ln.MODEL, swarm_id, model_id)
        self._require(key, f"model {model_id!r} in swarm {swarm_id!r}")
        pairs = self._ask(
            source,
            lambda g: [(d.deployment_id, d.version_id) for d in g.deployments_of(key)],
            lambda s: sql.deployments_of(s, key),
        )
        out = []
        for dep, ver in pairs:
            version = _related(ver, 0)
            out.append(DeploymentRef(parse_key(dep)[2], version.model_id, version.version))
        return sorted(out)

    # --- internals ------------------------------------------------------------------

    def _version_key(self, swarm_id: str, model_id: str, version: str) -> str:
        validate_id("swarm_id", swarm_id)
        validate_id("model id", model_id)
        validate_id("version", version)
        key = ln.node_key(ln.MODEL_VERSION, swarm_id, model_id, version)
        self._require(key, f"version {version!r} of model {model_id!r} in swarm {swarm_id!r}")
        return key

    def _require(self, key: str, what: str) -> None:
        self._live()
        with self._meta.read() as session:
            if sql.node_kind(session, key) is None:
                raise LineageNodeNotFoundError(f"lineage has no {what}", key=key)

    def _ask(
        self, source: Source, on_graph: Callable[[Any], T], on_sql: Callable[[Session], T]
    ) -> T:
        if source not in ("auto", "graph", "sql"):
            raise InvalidRecordError(f"source must be 'auto', 'graph' or 'sql', not {source!r}")
        if source != "sql":
            if self._indexer is None:
                if source == "graph":
                    raise IndexUnavailableError("the lineage graph needs the 'index' extra")
            else:
                with self._indexer.graph_for_query(block=source == "graph") as graph:
                    if graph is not None:
                        self.last_source = "graph"
                        return on_graph(graph)
                if source == "graph":
                    raise IndexUnavailableError("the lineage graph is held by another process")
        with self._meta.read() as session:
            self.last_source = "sql"
            return on_sql(session)


def _depth(max_depth: int) -> int:
    if isinstance(max_depth, bool) or not isinstance(max_depth, int):
        raise InvalidRecordError(f"max_depth must be an int, not {max_depth!r}")
    if not 1 <= max_depth <= MAX_DEPTH_LIMIT:
        raise InvalidRecordError(f"max_depth must be in 1..{MAX_DEPTH_LIMIT}, got {max_depth}")
    return max_depth


def _pair(ref: VersionLike) -> tuple[str, str]:
    if isinstance(ref, str):
        model_id, sep, version = ref.partition("/")
        if not sep:
            raise InvalidRecordError(f"version reference {ref!r} must be 'model_id/version'")
        return model_id, version
    if isinstance(ref, tuple) and len(ref) == 2:
        return str(ref[0]), str(ref[1])
    raise InvalidRecordError(f"version reference must be 'model_id/version' or a pair: {ref!r}")


def _related(key: str, depth: int) -> RelatedVersion:
    _kind, _swarm, model_id, version = parse_key(key)
    return RelatedVersion(model_id, version or "", depth)
