"""StoreConfig: where a store lives and how it writes.

The embedded default needs only a directory; every other field has a default
that suits a training loop on one machine. A shared store is chosen by URL
(``metadata_url="postgresql+psycopg://…"``, ``blob_url="s3://bucket/prefix"``),
in code or in a small TOML file (``swarmstore.toml``), never by code changes.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from swarmstore.codec import CodecPolicy, Compression
from swarmstore.errors import InvalidFieldError, InvalidRecordError

Durability = Literal["full", "normal"]
Indexing = Literal["background", "off"]
_INDEXINGS = ("background", "off")
CONFIG_FILE_NAME = "swarmstore.toml"  # a store directory holding one opens what it names
_NO_ROOT = Path("/\0no-root")  # sentinel: a URL-only config gets a per-machine cache root
_PATH_FIELDS = ("root", "blob_path", "graph_path")
_MAX_INLINE_FRAME_BYTES = 1 << 20  # a frame this big is a blob file's job


@dataclass(frozen=True)
class StoreConfig:
    """Everything ``SwarmDatabaseManager.open`` needs.

    root: the store's directory (metadata, blobs and indexes live under it
        unless a URL says otherwise).
    metadata_url: SQLAlchemy URL; default ``sqlite:///<root>/meta.sqlite3``.
    blob_path: directory of content-addressed blobs; default ``<root>/blobs``.
    compression: codec policy, see ``swarmstore.codec``.
    chunk_bytes: large tensors are split into chunks of this many bytes so that
        encoding runs on all cores and memory stays bounded.
    keyframe_interval: a full frame at least every K versions of a model.
    delta_base: "keyframe" (deltas against the chunk's keyframe: a restore
        decodes at most two frames per chunk) or "parent" (deltas against the
        previous version: smaller, but a restore decodes the whole chain).
    inline_frame_bytes: encoded chunks of at most this many bytes are kept in
        the metadata database with the manifest instead of as blob files (a
        file per 1 KB bias costs more than the bias); 0 writes every frame as
        a blob.
    threads: worker threads for encoding/decoding; 0 means one per core.
    durability: "full" fsyncs blobs and uses synchronous=FULL for commits;
        "normal" skips blob fsync (tests, throwaway stores).
    gc_grace_seconds: unreferenced blobs younger than this survive ``gc`` (a
        writer may have written them and not yet committed).
    lock_timeout_seconds: how long a writer waits for SQLite's write lock.
    blob_url: where blobs live when not in a local directory: ``s3://bucket/prefix``
        (a plain path or ``file://`` URL means a local directory).
    vector_url: where the Lance tables live (``s3://bucket/lance`` or a path);
        default ``<root>/indexes``.
    graph_path: the per-machine Kuzu graph directory; the graph is a derived
        index rebuilt from SQL (``reindex``), never shared between machines.
    storage_options: object-store settings in the ``object_store`` vocabulary
        that obstore and LanceDB share: ``aws_endpoint``, ``aws_access_key_id``,
        ``aws_secret_access_key``, ``aws_region``, ``allow_http`` …
    connect_timeout_seconds: an unreachable database or object store at open
        raises ``BackendUnavailableError`` after about this long.
    io_timeout_seconds: how long object-store requests are retried (with
        exponential backoff) before a save or read fails.
    indexing: "background" (the derived indexes -- lineage graph, vectors --
        catch up after each committed write on a background thread, when the
        ``index`` extra is installed) or "off" (a SQL-only store). The older
        spelling ``extra={"indexes": "off"}`` still means "off".

    ``root`` may be left out when ``metadata_url`` names a server: local state
    (locks, the graph) then goes to a per-machine cache directory.
    """

    root: Path = _NO_ROOT
    metadata_url: str | None = None
    blob_path: Path | None = None
    compression: Compression = "auto"
    chunk_bytes: int = 4 << 20
    keyframe_interval: int = 8  # measured: benchmarks/results/keyframes.md
    delta_base: str = "keyframe"
    inline_frame_bytes: int = 32 << 10  # measured: benchmarks/results/checkpoint_io.md
    threads: int = 0
    durability: Durability = "full"
    gc_grace_seconds: float = 3600.0
    lock_timeout_seconds: float = 60.0
    extra: dict[str, str] = field(default_factory=dict)
    blob_url: str | None = None
    vector_url: str | None = None
    graph_path: Path | None = None
    storage_options: dict[str, str] = field(default_factory=dict)
    connect_timeout_seconds: float = 10.0
    io_timeout_seconds: float = 60.0
    indexing: Indexing = "background"

    def __post_init__(self) -> None:
        if Path(self.root) == _NO_ROOT:
            if self.metadata_url is None or self.metadata_url.startswith("sqlite"):
                raise InvalidRecordError(
                    "StoreConfig needs root (a directory) unless metadata_url names a server"
                )
            object.__setattr__(self, "root", _cache_root(self.metadata_url))
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())
        for name in ("blob_path", "graph_path"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).expanduser())
        if self.blob_url is not None and blob_scheme(self.blob_url) not in ("file", "s3"):
            raise InvalidRecordError(
                f"blob_url must be s3://bucket/prefix or a local path, not {self.blob_url!r}"
            )
        if self.connect_timeout_seconds <= 0 or self.io_timeout_seconds <= 0:
            raise InvalidRecordError("connect_timeout_seconds and io_timeout_seconds must be > 0")
        if self.compression not in ("auto", "max", "fast", "none"):
            raise InvalidRecordError(
                f"compression must be auto|max|fast|none, not {self.compression!r}"
            )
        if self.chunk_bytes < 4096 or self.chunk_bytes % 64:
            raise InvalidRecordError(
                f"chunk_bytes must be a multiple of 64 and >= 4096, not {self.chunk_bytes}"
            )
        if self.keyframe_interval < 1:
            raise InvalidRecordError(
                f"keyframe_interval must be >= 1, not {self.keyframe_interval}"
            )
        if self.delta_base not in ("keyframe", "parent"):
            raise InvalidRecordError(f"delta_base must be keyframe|parent, not {self.delta_base!r}")
        if not 0 <= self.inline_frame_bytes <= _MAX_INLINE_FRAME_BYTES:
            raise InvalidRecordError(
                f"inline_frame_bytes must be between 0 and {_MAX_INLINE_FRAME_BYTES}, "
                f"not {self.inline_frame_bytes}"
            )
        if self.durability not in ("full", "normal"):
            raise InvalidRecordError(f"durability must be full|normal, not {self.durability!r}")
        # the older spelling of indexing="off", still accepted (in code and in TOML)
        if isinstance(self.extra, dict) and self.extra.get("indexes") == "off":
            object.__setattr__(self, "indexing", "off")
        if self.indexing not in _INDEXINGS:
            raise InvalidFieldError(
                f"indexing must be background|off, not {self.indexing!r}", field="indexing"
            )

    @classmethod
    def coerce(
        cls, root_or_config: str | os.PathLike[str] | StoreConfig | None = None, **overrides: object
    ) -> StoreConfig:
        """A config from a config, a ``.toml`` file, a store directory (which
        may hold a ``swarmstore.toml``), or keyword arguments alone."""
        if isinstance(root_or_config, StoreConfig):
            return replace(root_or_config, **overrides) if overrides else root_or_config  # type: ignore[arg-type]
        if root_or_config is None:
            return cls(**overrides)  # type: ignore[arg-type]
        path = Path(root_or_config).expanduser()
        if path.suffix == ".toml" and path.is_file():
            return cls.from_toml(path, **overrides)
        if (path / CONFIG_FILE_NAME).is_file():
            return cls.from_toml(path / CONFIG_FILE_NAME, root=path, **overrides)
        return cls(root=path, **overrides)  # type: ignore[arg-type]

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str], **overrides: object) -> StoreConfig:
        """Read a config file: top-level keys are field names, plus an optional
        ``[storage_options]`` table; relative paths are relative to the file."""
        path = Path(path)
        try:
            data: dict[str, Any] = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidRecordError(f"cannot read store config {path}: {exc}") from exc
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidRecordError(f"store config {path}: unknown key(s) {unknown}")
        for name in _PATH_FIELDS:
            if name in data:
                data[name] = (path.parent / Path(data[name]).expanduser()).resolve()
        if "root" not in data and "root" not in overrides and _is_local(data.get("metadata_url")):
            data["root"] = path.parent
        data.update(overrides)
        return cls(**data)

    @property
    def resolved_metadata_url(self) -> str:
        return self.metadata_url or f"sqlite:///{self.root / 'meta.sqlite3'}"

    @property
    def resolved_blob_path(self) -> Path:
        if self.blob_url is not None and blob_scheme(self.blob_url) == "file":
            return _local_path(self.blob_url)
        return Path(self.blob_path) if self.blob_path else self.root / "blobs"

    @property
    def resolved_graph_path(self) -> Path:
        return self.graph_path if self.graph_path is not None else self.root / "indexes"

    @property
    def is_embedded(self) -> bool:
        """True when metadata and blobs both live on this machine's disk."""
        return _is_local(self.metadata_url) and (
            self.blob_url is None or blob_scheme(self.blob_url) == "file"
        )

    @property
    def worker_threads(self) -> int:
        return self.threads or os.cpu_count() or 1

    @property
    def codec_policy(self) -> CodecPolicy:
        return CodecPolicy(compression=self.compression, threads=self.worker_threads)


def blob_scheme(url: str) -> str:
    """``s3`` for object storage, ``file`` for a local directory (path or file:// URL)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
        return "file"
    return "s3" if scheme in ("s3", "s3a") else scheme


def _local_path(url: str) -> Path:
    parts = urlsplit(url)
    return Path(parts.path if parts.scheme == "file" else url).expanduser()


def _is_local(metadata_url: object) -> bool:
    return metadata_url is None or str(metadata_url).startswith("sqlite")


def _cache_root(metadata_url: str) -> Path:
    """Per-machine state of a shared store (locks, graph), keyed by its database."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    digest = hashlib.sha256(metadata_url.encode()).hexdigest()[:16]
    return base / "swarmstore" / digest
