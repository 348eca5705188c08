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

from sqlalchemy import Integer, Table, func, insert, select, text

from swarmstore.blobs.base import BlobStore
from swarmstore.blobs.factory import open_blob_store
from swarmstore.config import StoreConfig
from swarmstore.errors import InvalidRecordError
from swarmstore.meta.blob_refs import referenced_blob_keys
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.tables import Base

_BATCH_ROWS = 2000


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


def _open_parts(config: StoreConfig) -> tuple[MetaStore, BlobStore]:
    config.root.mkdir(parents=True, exist_ok=True)
    meta = MetaStore(
        config.resolved_metadata_url,
        lock_path=config.root / ".schema.lock",
        lock_timeout=config.lock_timeout_seconds,
        durable=config.durability == "full",
        connect_timeout=config.connect_timeout_seconds,
    )
    try:
        meta.ensure_schema()
        return meta, open_blob_store(config)
    except BaseException:
        meta.close()
        raise


def copy_store(
    source: str | os.PathLike[str] | StoreConfig,
    destination: str | os.PathLike[str] | StoreConfig,
    *,
    progress: Callable[[str], None] | None = None,
) -> CopyReport:
    """Copy the store at ``source`` into the empty store at ``destination``.

    Raises ``InvalidRecordError`` when the destination already holds rows
    (nothing is written then) and ``BackendUnavailableError`` when either
    side cannot be reached. The returned report carries ``check``'s verdict.
    """
    say = progress or (lambda _msg: None)
    src_config, dst_config = StoreConfig.coerce(source), StoreConfig.coerce(destination)
    src_meta, src_blobs = _open_parts(src_config)
    try:
        dst_meta, dst_blobs = _open_parts(dst_config)
        try:
            if src_meta.url == dst_meta.url and src_config.root == dst_config.root:
                raise InvalidRecordError("copy source and destination are the same store")
            _require_empty(dst_meta, dst_config)
            report = CopyReport()
            say("copying blobs")
            _copy_blobs(src_meta, src_blobs, dst_blobs, report)
            say("copying metadata")
            _copy_rows(src_meta, dst_meta, report)
        finally:
            dst_blobs.close()
            dst_meta.close()
    finally:
        src_blobs.close()
        src_meta.close()
    say("rebuilding indexes and checking")
    _reindex_and_check(dst_config, report)
    return report


def _require_empty(meta: MetaStore, config: StoreConfig) -> None:
    with meta.read() as session:
        for table in Base.metadata.sorted_tables:
            if session.execute(select(func.count()).select_from(table)).scalar_one():
                raise InvalidRecordError(
                    f"copy destination {config.root} is not empty (table {table.name!r} has rows)"
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


def _copy_rows(src: MetaStore, dst: MetaStore, report: CopyReport) -> None:
    tables = Base.metadata.sorted_tables
    with (
        src.engine.connect() as reader,
        dst.write_engine.begin() as writer,
    ):
        for table in tables:
            order = list(table.primary_key.columns) or list(table.columns)
            result = reader.execution_options(yield_per=_BATCH_ROWS).execute(
                select(table).order_by(*order)
            )
            count = 0
            for batch in result.mappings().partitions():
                writer.execute(insert(table), [dict(row) for row in batch])
                count += len(batch)
            report.rows[table.name] = count
        if dst.is_postgres:
            for table in tables:
                _advance_sequence(writer, table)


def _advance_sequence(conn: object, table: Table) -> None:
    """PostgreSQL: explicit keys do not move a SERIAL's sequence; move it here."""
    pks = list(table.primary_key.columns)
    if len(pks) != 1 or not isinstance(pks[0].type, Integer) or pks[0].autoincrement is False:
        return
    column = pks[0].name
    sequence = conn.execute(  # type: ignore[attr-defined]
        text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column}
    ).scalar()
    if sequence is None:
        return
    conn.execute(  # type: ignore[attr-defined]
        text(
            f'SELECT setval(:s, COALESCE((SELECT max("{column}") FROM "{table.name}"), 0) + 1, '
            "false)"
        ),
        {"s": sequence},
    )


def _reindex_and_check(config: StoreConfig, report: CopyReport) -> None:
    from swarmstore.manager import SwarmDatabaseManager

    with SwarmDatabaseManager.open(config) as db:
        reindex = getattr(db, "reindex", None)
        if reindex is not None:
            rebuilt = reindex()
            report.reindexed = list(getattr(rebuilt, "rebuilt", []) or [])
        result = db.check()
    report.check = str(result)
    report.ok = bool(result.ok)
