"""``swarmstore copy SRC DST``: move a whole store between backends.

Embedded (SQLite + a blob directory) to PostgreSQL + S3 and back, or any pair.
The order is the store's own write order: every referenced blob first
(content-addressed, so a re-run skips what is there), then all SQL rows in one
destination transaction, table by table in foreign-key order with their
primary keys kept (so manifests, lineage and the event log stay
cross-referenced), then the destination's id sequences are moved past the
copied keys. The derived indexes are not copied: Kuzu is a per-machine index,
and both it and the Lance tables are rebuilt from the copied SQL
(``reindex``). ``check`` on the destination proves the result.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from swarmstore.blobs.base import BlobStore
from swarmstore.config import StoreConfig
from swarmstore.errors import InvalidRecordError
from swarmstore.maintenance import queries as mq
from swarmstore.meta.blob_refs import referenced_blob_keys
from swarmstore.meta.engine import MetaStore
from swarmstore.stores import open_parts


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)
    blobs_copied: int = 0
    blobs_present: int = 0
    blob_bytes: int = 0
    reindexed: list[str] = field(default_factory=list)
    check: str = ""
    ok: bool = False

    def __str__(self) -> str:
        return (
            f"copied {sum(self.rows.values())} rows in {len(self.rows)} tables, "
            f"{self.blobs_copied} blobs ({self.blob_bytes} bytes; {self.blobs_present} already "
            f"there); rebuilt {', '.join(self.reindexed) or 'no indexes'}; check: {self.check}"
        )


def copy_store(
    source: str | os.PathLike[str] | StoreConfig,
    destination: str | os.PathLike[str] | StoreConfig,
    *,
    progress: Callable[[str], None] | None = None,
) -> CopyReport:
    """Copy the store at ``source`` into the empty store at ``destination``.

    Raises ``InvalidRecordError`` when the destination already holds rows
    (nothing is written then) and ``BackendUnavailableError`` when either
    side cannot be reached. The destination's derived indexes are then rebuilt
    and the store checked by the caller, through the store's own API
    (``swarmstore copy`` does both and records them in the report).
    """
    say = progress or (lambda _msg: None)
    src_config, dst_config = StoreConfig.coerce(source), StoreConfig.coerce(destination)
    src_meta, src_blobs = open_parts(src_config)
    try:
        dst_meta, dst_blobs = open_parts(dst_config)
        try:
            if src_meta.url == dst_meta.url and src_config.root == dst_config.root:
                raise InvalidRecordError("copy source and destination are the same store")
            _require_empty(dst_meta, dst_config)
            report = CopyReport()
            say("copying blobs")
            _copy_blobs(src_meta, src_blobs, dst_blobs, report)
            say("copying metadata")
            report.rows.update(mq.copy_rows(src_meta, dst_meta))
        finally:
            dst_blobs.close()
            dst_meta.close()
    finally:
        src_blobs.close()
        src_meta.close()
    return report


def _require_empty(meta: MetaStore, config: StoreConfig) -> None:
    with meta.read() as session:
        table = mq.first_nonempty_table(session)
    if table is not None:
        raise InvalidRecordError(
            f"copy destination {config.root} is not empty (table {table!r} has rows)"
        )


def _copy_blobs(meta: MetaStore, src: BlobStore, dst: BlobStore, report: CopyReport) -> None:
    with meta.read() as session:
        keys = sorted(referenced_blob_keys(session))  # every table that names blobs

    def one(key: str) -> tuple[bool, int]:
        if dst.exists(key):
            return False, 0
        data = src.get(key)
        return dst.put(key, data), len(data)

    with ThreadPoolExecutor(16, thread_name_prefix="copy") as pool:
        for wrote, size in pool.map(one, keys):
            if wrote:
                report.blobs_copied += 1
                report.blob_bytes += size
            else:
                report.blobs_present += 1
    dst.flush()  # blobs durable before any row that names them commits
