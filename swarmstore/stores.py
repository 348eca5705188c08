"""Open the parts of a store a ``StoreConfig`` names: its SQL metadata and its blobs.

Open modes (``SwarmDatabaseManager.open(..., mode=...)``):

- ``"create"``: make the store when there is none (directory, schema), else
  open it as ``"rw"``.
- ``"rw"``: open an existing store for reading and writing; a path that holds
  no store raises ``StoreNotFoundError`` and nothing is created. An older
  schema is upgraded to this version's head (under the schema lock).
- ``"ro"``: open an existing store for reading only: never creates, never
  migrates (an older schema raises ``StoreVersionError`` naming
  ``swarmstore migrate``), takes no schema or writer lock, writes nothing
  (every write raises ``ReadOnlyStoreError``), and keeps reading while writers
  in other processes commit.
- ``None`` (the default): ``"rw"`` when the path holds a store; ``"create"``
  when it does not exist or is an empty directory (one holding only a
  ``swarmstore.toml``, or what a concurrent first open is making); for a
  metadata server, when its schema has no ``alembic_version`` yet. A non-empty
  directory that is not a store raises ``StoreNotFoundError``.

Every mode raises ``StoreVersionError`` for a store written by a newer
swarmstore (unknown schema revision or newer format), naming both versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from swarmstore.blobs.base import BlobStore
from swarmstore.config import CONFIG_FILE_NAME, StoreConfig
from swarmstore.errors import InvalidRecordError, StoreNotFoundError
from swarmstore.meta.engine import MetaStore, redacted, sqlite_file

OpenMode = Literal["create", "rw", "ro"]
OPEN_MODES: tuple[str, ...] = ("create", "rw", "ro")
# what a store directory holds of its own (a half-made store is still "empty")
_STORE_ENTRIES = {"blobs", "indexes", ".schema.lock", CONFIG_FILE_NAME}


@dataclass(frozen=True)
class MigrationReport:
    """What ``migrate`` did: the schema revision found at open, the one now, the format."""

    from_revision: str | None
    to_revision: str | None
    format_version: int | None

    @property
    def migrated(self) -> bool:
        return self.from_revision != self.to_revision


def open_parts(config: StoreConfig, mode: OpenMode | None = None) -> tuple[MetaStore, BlobStore]:
    """The store's ``MetaStore`` and blob store, opened in ``mode`` (module docstring).

    The metadata store takes the config's schema lock, lock and connect
    timeouts and durability. Whatever opened is closed again when a later part
    fails (``BackendUnavailableError`` for an unreachable database or object
    store).
    """
    from swarmstore.blobs.factory import open_blob_store  # looked up per call: tests wrap it

    if mode is not None and mode not in OPEN_MODES:
        raise InvalidRecordError(
            f"mode must be one of {', '.join(OPEN_MODES)} or None, not {mode!r}"
        )
    url = config.resolved_metadata_url
    db_file = sqlite_file(url)
    where = str(db_file.parent if db_file is not None else redacted(url))
    if mode in ("rw", "ro") and db_file is not None and not db_file.is_file():
        raise _not_found(where, mode)
    if mode is None and db_file is not None and not db_file.is_file():
        if not _empty(config.root):
            raise _not_found(where, None)
        mode = "create"
    if mode == "create" or (mode is None and db_file is None):
        config.root.mkdir(parents=True, exist_ok=True)
    meta = MetaStore(
        url,
        lock_path=config.root / ".schema.lock",
        lock_timeout=config.lock_timeout_seconds,
        durable=config.durability == "full",
        connect_timeout=config.connect_timeout_seconds,
        read_only=mode == "ro",
    )
    try:
        if mode == "ro":
            if meta.check_readable() is None:
                raise _not_found(where, mode)
            return meta, open_blob_store(config, read_only=True)
        if mode == "rw" and meta.current_revision() is None:
            raise _not_found(where, mode)
        meta.ensure_schema()
        return meta, open_blob_store(config)
    except BaseException:
        meta.close()
        raise


def _empty(root: Path) -> bool:
    """Whether a directory (or nothing) that may become a store: no entries but a store's own."""
    if not root.exists():
        return True
    if not root.is_dir():
        return False
    return all(
        p.name in _STORE_ENTRIES or p.name.startswith("meta.sqlite3") for p in root.iterdir()
    )


def _not_found(where: str, mode: str | None) -> StoreNotFoundError:
    hint = "open it with mode='create' to make a store there"
    if mode is None:
        hint = f"it is a non-empty directory; {hint}"
    return StoreNotFoundError(
        f"no swarmstore store at {where} (mode={mode!r}); nothing was created: {hint}",
        path=where,
    )
