"""Derived indexes: outbox indexer, reindex, lineage queries, similarity search.

The indexer runs after every committed write of this process (``on_any``) on
a background thread (``index.worker``), so a write returns when SQL has
committed; it never waits for the index lock, and it runs on open too. A
failure is logged and the rows stay in the outbox (the SQL write already
committed). Every method that reads the indexes first drains that thread. Set
``StoreConfig(indexing="off")`` to keep a store SQL-only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from swarmstore.errors import IndexUnavailableError, InvalidRecordError, LineageNodeNotFoundError
from swarmstore.facade.base import FacadeBase
from swarmstore.ids import validate_id
from swarmstore.index.worker import IndexWorker
from swarmstore.lineage import LineageQueries
from swarmstore.lineage import queries as lineage_sql
from swarmstore.meta import lineage as ln

log = logging.getLogger(__name__)

_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


class IndexAPI(FacadeBase):
    # None until ``_attach_indexes`` sets them, and when indexing is off
    _indexer: Any = None  # swarmstore.index.indexer.Indexer (engines import lazily)
    _index_worker: IndexWorker | None = None
    _lineage_queries: LineageQueries

    def _attach_indexes(self) -> None:
        """Called once at the end of the manager's ``__init__``."""
        self._indexer = None
        self._index_worker = None
        from swarmstore.index.indexer import index_extra_installed

        if self.config.indexing != "off" and index_extra_installed():
            from swarmstore.index.indexer import Indexer
            from swarmstore.index.sources import StoreVectorSource

            source = StoreVectorSource(self._meta, self._models, self._load_dataset_record)
            self._indexer = Indexer(
                self._meta,
                self.config.resolved_graph_path,
                source,
                lock_timeout=self.config.lock_timeout_seconds,
                vectors_uri=self.config.vector_url,
                storage_options=self.config.storage_options,
                graph_watermark=_graph_watermark(self.config),
            )
            self._index_worker = IndexWorker(self._indexer.run_pending)
            self._index_worker.kick()  # catch up what crashed or other processes left
            self._events.on_any(self._index_after_write)
        self._lineage_queries = LineageQueries(self._meta, self._indexer, self._live_and_indexed)

    def _detach_indexes(self) -> None:
        """Called once at the start of ``close``, before the pool and stores shut."""
        worker, self._index_worker = self._index_worker, None
        if worker is not None:
            worker.close()
        indexer, self._indexer = self._indexer, None
        if indexer is not None:
            indexer.close()

    def _index_after_write(self, _name: str, _event: dict[str, Any]) -> None:
        worker = self._index_worker
        if worker is not None:
            worker.kick()  # the write has committed; the index catches up off this thread

    def _live_and_indexed(self) -> None:
        """Open, and this process's own writes are in the indexes."""
        self._live()
        worker = self._index_worker
        if worker is not None:
            worker.drain()

    def _load_dataset_record(self, swarm_id: str, dataset_id: str, version: str | None) -> Any:
        return self.get_training_dataset(swarm_id, dataset_id, version, include_samples=False)

    # -- public --------------------------------------------------------------

    @property
    def lineage(self) -> LineageQueries:
        """Lineage queries: ``ancestors``, ``descendants``, ``path``,
        ``experiments_for``, ``datasets_for``, ``deployments_of``."""
        self._live()
        return self._lineage_queries

    def sync_indexes(self) -> None:
        """Wait until every write of this process so far is in the graph and the vectors.

        Writes return once SQL has committed and index them in the background;
        queries that read the indexes already wait like this.
        """
        self._live_and_indexed()

    def reindex(self) -> Any:
        """Rebuild the lineage graph and the vector index from SQL.

        Waits up to ``lock_timeout_seconds`` for another process's index work;
        raises ``IndexUnavailableError`` then, or without the ``index`` extra.
        Returns a ``RunReport``.
        """
        return self._require_indexer().reindex()

    def index_status(self) -> dict[str, int]:
        """Watermark of each index and the newest outbox row (``outbox``)."""
        indexer = self._require_indexer()
        return {**indexer.watermarks(), "outbox": _top(indexer)}

    def find_similar_models(
        self,
        swarm_id: str,
        model_id: str,
        version: str | Mapping[str, Any] | None = None,
        limit: int = 5,
        threshold: float = 0.8,
        architecture: str | None = None,
        min_accuracy: float | None = None,
        relation: str | None = None,
    ) -> list[Any]:
        """Versions most like a model's version (latest when ``version`` is None),
        best first, as ``SimilarModel`` (score in -1..1 and the reasons:
        architecture / weights / performance / lineage).

        ``threshold`` drops matches scoring below it; ``architecture`` and
        ``min_accuracy`` filter candidates; ``relation`` keeps only
        ``"ancestor"``, ``"descendant"``, ``"lineage"`` (either) or
        ``"unrelated"`` versions. The target itself is never returned.

        The seed's options object works in place of ``version``:
        ``find_similar_models(s, id, {"limit": 5, "threshold": 0.8})`` (keys
        camelCase or snake_case: ``version``, ``limit``, ``threshold``,
        ``architecture``, ``minAccuracy``, ``relation``).
        """
        if isinstance(version, Mapping):
            opts = _search_options(
                version,
                {"version", "limit", "threshold", "architecture", "min_accuracy", "relation"},
            )
            version = _version_option(opts.pop("version", None))
            limit = opts.pop("limit", limit)
            threshold = opts.pop("threshold", threshold)
            architecture = opts.pop("architecture", architecture)
            min_accuracy = opts.pop("min_accuracy", min_accuracy)
            relation = opts.pop("relation", relation)
        self._live()
        from swarmstore.index import similar

        validate_id("swarm_id", swarm_id)
        validate_id("model id", model_id)
        similar.check_search_args(limit, threshold, relation)
        if architecture is not None and not isinstance(architecture, str):
            raise InvalidRecordError(f"architecture must be a str, not {architecture!r}")
        if min_accuracy is not None and (
            isinstance(min_accuracy, bool) or not isinstance(min_accuracy, int | float)
        ):
            raise InvalidRecordError(f"min_accuracy must be a number, not {min_accuracy!r}")
        indexer = self._require_indexer()
        found = self._models.locate(swarm_id, model_id, version)
        target_version = found.version.version
        return similar.find_similar_models(
            indexer,
            self._lineage_queries,
            swarm_id,
            model_id,
            target_version,
            limit=limit,
            threshold=float(threshold),
            architecture=architecture,
            min_accuracy=min_accuracy,
            relation=relation,
        )

    def find_similar_datasets(
        self,
        swarm_id: str,
        dataset_id: str,
        version: str | Mapping[str, Any] | None = None,
        limit: int = 5,
        threshold: float = 0.8,
        data_type: str | None = None,
        relation: str | None = None,
    ) -> list[Any]:
        """Dataset versions most like a dataset's version (latest when None), best
        first, as ``SimilarDataset`` with reasons (schema / size /
        feature_statistics / labels / lineage). Like ``find_similar_models``, an
        options mapping works in place of ``version`` (``version``, ``limit``,
        ``threshold``, ``dataType``, ``relation``)."""
        if isinstance(version, Mapping):
            opts = _search_options(
                version, {"version", "limit", "threshold", "data_type", "relation"}
            )
            version = _version_option(opts.pop("version", None))
            limit = opts.pop("limit", limit)
            threshold = opts.pop("threshold", threshold)
            data_type = opts.pop("data_type", data_type)
            relation = opts.pop("relation", relation)
        self._live()
        from swarmstore.index import similar

        validate_id("swarm_id", swarm_id)
        validate_id("dataset id", dataset_id)
        if version is not None:
            validate_id("version", version)
        similar.check_search_args(limit, threshold, relation)
        indexer = self._require_indexer()
        with self._meta.read() as session:
            if version is None:
                key = lineage_sql.latest_dataset_key(session, swarm_id, dataset_id)
            else:
                key = ln.node_key(ln.DATASET, swarm_id, dataset_id, version)
                key = key if lineage_sql.node_kind(session, key) else None
        if key is None:
            raise LineageNodeNotFoundError(
                f"no dataset {dataset_id!r} (version {version!r}) in swarm {swarm_id!r}",
                swarm_id=swarm_id,
                dataset_id=dataset_id,
                version=version,
            )
        return similar.find_similar_datasets(
            indexer, self._meta, key, limit, float(threshold), data_type, relation
        )

    def _require_indexer(self) -> Any:
        self._live_and_indexed()
        if self._indexer is None:
            raise IndexUnavailableError(
                "indexes are off: install the 'index' extra (lancedb, kuzu) "
                "and do not set indexing='off'"
            )
        return self._indexer

    def _index_problems(self) -> list[str]:
        """For ``check``: index contents vs SQL (none without the extra)."""
        if self._indexer is None:
            return []
        self._live_and_indexed()
        try:
            problems: list[str] = self._indexer.compare()
            return problems
        except Exception as exc:  # a broken index is a finding, not a crash of check
            return [f"indexes could not be compared: {type(exc).__name__}: {exc}"]


def _version_option(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidRecordError(f"version must be a string, not {type(value).__name__}")
    return value


def _search_options(options: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    """The seed's options object of a similarity search, keys made snake_case;
    ``InvalidRecordError`` names an unknown key."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        name = _CAMEL_HUMP.sub(lambda m: "_" + m.group(1).lower(), str(key))
        if name not in known:
            raise InvalidRecordError(
                f"unknown similarity search option {key!r}; known: {sorted(known)}"
            )
        if name in out:
            raise InvalidRecordError(f"similarity search option {key!r} given twice")
        out[name] = value
    return out


def _graph_watermark(config: Any) -> str:
    """One graph watermark per machine when the SQL database is shared (the
    graph lives on each machine's disk); the plain name for embedded stores."""
    if config.is_embedded:
        return "lineage_graph"
    import socket

    return f"lineage_graph@{socket.gethostname()[:40]}"


def _top(indexer: Any) -> int:
    from swarmstore.index import queries as sql_source

    with indexer.meta.read() as session:
        return sql_source.max_outbox_seq(session)
