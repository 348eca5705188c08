"""SQL of dataset versions (``tables_training.DatasetRow``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from swarmstore.meta.tables_training import DatasetRow


def find_dataset(
    session: Session, swarm_id: str, dataset_id: str, version: str | None = None
) -> DatasetRow | None:
    """One version by name, or the latest (highest ``seq``) when ``version`` is None."""
    query = select(DatasetRow).where(
        DatasetRow.swarm_id == swarm_id, DatasetRow.dataset_id == dataset_id
    )
    if version is None:
        query = query.order_by(DatasetRow.seq.desc()).limit(1)
    else:
        query = query.where(DatasetRow.version == version)
    return session.scalar(query)


def next_seq(session: Session, swarm_id: str, dataset_id: str) -> int:
    top = session.scalar(
        select(func.max(DatasetRow.seq)).where(
            DatasetRow.swarm_id == swarm_id, DatasetRow.dataset_id == dataset_id
        )
    )
    return 1 if top is None else int(top) + 1


def list_versions(session: Session, swarm_id: str, dataset_id: str) -> list[DatasetRow]:
    return list(
        session.scalars(
            select(DatasetRow)
            .where(DatasetRow.swarm_id == swarm_id, DatasetRow.dataset_id == dataset_id)
            .order_by(DatasetRow.seq)
        )
    )


def list_datasets(session: Session, swarm_id: str) -> list[tuple[str, int, str]]:
    """(dataset id, number of versions, latest version) of every dataset in the swarm."""
    latest = (
        select(
            DatasetRow.dataset_id, func.max(DatasetRow.seq).label("seq"), func.count().label("n")
        )
        .where(DatasetRow.swarm_id == swarm_id)
        .group_by(DatasetRow.dataset_id)
        .subquery()
    )
    rows = session.execute(
        select(DatasetRow.dataset_id, latest.c.n, DatasetRow.version)
        .join(
            latest,
            (latest.c.dataset_id == DatasetRow.dataset_id) & (latest.c.seq == DatasetRow.seq),
        )
        .where(DatasetRow.swarm_id == swarm_id)
        .order_by(DatasetRow.dataset_id)
    ).all()
    return [(d, int(n), v) for d, n, v in rows]


def sample_blob_keys(session: Session) -> set[str]:
    """Blob keys of every stored dataset's samples (gc must keep them, check verify them)."""
    query = select(DatasetRow.samples_blob).where(DatasetRow.samples_blob.is_not(None)).distinct()
    return {key for key in session.scalars(query) if key}
