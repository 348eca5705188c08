"""SQL tables (SQLAlchemy 2 typed declarative). SQL is the source of truth.

A model version is a manifest: tensors (name, dtype, shape, length) and, per
tensor, chunks that point at content-addressed blobs. A chunk may be a delta
on a chunk of an earlier version (``base_chunk_pk``); the foreign key is
RESTRICT so that no delete can break a chain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from swarmstore.ids import ID_LENGTH as ID_LENGTH  # id columns hold validated ids

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite drops the offset on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime()}  # noqa: RUF012


class ModelRow(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("swarm_id", "model_id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    swarm_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    model_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    agent_id: Mapped[str] = mapped_column(String(ID_LENGTH), default="")
    model_name: Mapped[str] = mapped_column(Text, default="")
    architecture: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime]
    updated: Mapped[datetime]


class VersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_pk", "version"),
        UniqueConstraint("model_pk", "seq"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_pk: Mapped[int] = mapped_column(ForeignKey("models.pk", ondelete="RESTRICT"))
    version: Mapped[str] = mapped_column(String(ID_LENGTH))
    seq: Mapped[int] = mapped_column(Integer)
    parent_pk: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.pk", ondelete="RESTRICT"), default=None
    )
    agent_id: Mapped[str] = mapped_column(String(ID_LENGTH), default="")
    model_name: Mapped[str] = mapped_column(Text, default="")
    architecture: Mapped[str] = mapped_column(Text, default="")
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    checkpoint_type: Mapped[str] = mapped_column(String(16))
    compression_type: Mapped[str] = mapped_column(String(16))
    model_size: Mapped[int] = mapped_column(BigInteger)
    stored_size: Mapped[int] = mapped_column(BigInteger)
    tensor_count: Mapped[int] = mapped_column(Integer)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime]
    updated: Mapped[datetime]


class TensorRow(Base):
    __tablename__ = "tensors"
    __table_args__ = (UniqueConstraint("version_pk", "group", "name"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_pk: Mapped[int] = mapped_column(ForeignKey("model_versions.pk", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    group: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    dtype: Mapped[str] = mapped_column(String(32))
    shape: Mapped[list[Any]]
    byte_length: Mapped[int] = mapped_column(BigInteger)
    chunk_bytes: Mapped[int] = mapped_column(BigInteger)
    alias_of: Mapped[str | None] = mapped_column(Text, default=None)


class ChunkRow(Base):
    __tablename__ = "tensor_chunks"
    __table_args__ = (
        UniqueConstraint("tensor_pk", "idx"),
        Index("ix_tensor_chunks_raw_hash", "raw_hash"),
        Index("ix_tensor_chunks_blob_key", "blob_key"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    tensor_pk: Mapped[int] = mapped_column(ForeignKey("tensors.pk", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    raw_hash: Mapped[str] = mapped_column(String(64))
    raw_length: Mapped[int] = mapped_column(BigInteger)
    blob_key: Mapped[str] = mapped_column(String(128), info={"blob_key": "encoded_length"})
    encoded_length: Mapped[int] = mapped_column(BigInteger)
    codec: Mapped[str] = mapped_column(String(64))
    base_chunk_pk: Mapped[int | None] = mapped_column(
        ForeignKey("tensor_chunks.pk", ondelete="RESTRICT"), default=None
    )
    depth: Mapped[int] = mapped_column(Integer, default=0)


class InlineFrameRow(Base):
    """Frames too small to be worth a blob file, kept in SQL under the same
    content address (``tensor_chunks.blob_key``).

    A small frame as a file costs an inode, a write, an fsync and a rename (or
    an object-store PUT) for a few hundred bytes; a model's biases and norms
    are a third to two thirds of its chunks. Here they commit with the
    manifest in its one transaction. A chunk whose key is in this table reads
    its frame from here; the writer re-inserts every inline frame its manifest
    names, and deleting a version drops the frames no chunk names any more.
    """

    __tablename__ = "inline_frames"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    frame: Mapped[bytes] = mapped_column(LargeBinary)


class StoreFormatRow(Base):
    """What the store records about its own on-disk format: the row
    ``format_version`` holds the swarmstore format it was written in
    (``swarmstore.meta.migrate.STORE_FORMAT``). The schema version is
    Alembic's ``alembic_version``."""

    __tablename__ = "store_format"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class EventRow(Base):
    """Append-only log of committed events; another process replays it by seq."""

    __tablename__ = "event_log"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    swarm_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    payload: Mapped[dict[str, Any]]
    created: Mapped[datetime]


class OutboxRow(Base):
    """Work for the derived indexes (LanceDB, Kuzu), written in the same transaction."""

    __tablename__ = "outbox"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    created: Mapped[datetime]


class IndexWatermarkRow(Base):
    """Last outbox seq applied to each derived index."""

    __tablename__ = "index_watermarks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[datetime]
