"""Store and read dataset versions: the write order of DESIGN.md for datasets.

validate → complete the record (statistics, qualityScore, splits) → check the
version and parent (read) → samples to Parquet → blob put → blob flush → one
SQL transaction (row, lineage node and DATASET_PARENT_OF edge, event-log and
outbox rows) → ``training_dataset_stored``.

Versions: a record that names its ``version`` gets exactly that (an existing
one raises ``DatasetVersionExistsError``). A record that does not name one is
version ``"1"`` of a new dataset, or the next number of an existing one whose
parent, unless given, is the latest version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from swarmstore.blobs import BlobStore
from swarmstore.datasets import queries as dq
from swarmstore.datasets.columnar import FORMAT_VERSION, decode_samples, encode_samples
from swarmstore.datasets.splits import DEFAULT_FRACTIONS, Fractions, make_splits
from swarmstore.datasets.statistics import compute_statistics
from swarmstore.errors import (
    CorruptDataError,
    DatasetNotFoundError,
    DatasetVersionExistsError,
    InvalidRecordError,
)
from swarmstore.events import TRAINING_DATASET_STORED, EventBus
from swarmstore.hashing import blob_key
from swarmstore.ids import validate_id
from swarmstore.meta import lineage as ln
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.tables_training import DatasetRow
from swarmstore.meta.unit import IndexUpdate, Session
from swarmstore.records.base import parse_record
from swarmstore.records.dataset import (
    DatasetSamples,
    DatasetSplits,
    DatasetStatistics,
    DatasetVersionInfo,
    TrainingDataset,
)

TOPIC = "dataset_version.upserted"
SAMPLES_FORMAT = f"parquet:swarmstore.samples/{FORMAT_VERSION.decode()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitPolicy:
    """How the store splits a dataset that comes without splits."""

    fractions: Fractions = DEFAULT_FRACTIONS
    seed: int = 0
    stratify: bool = False


def parse_dataset(record: TrainingDataset | Mapping[str, Any]) -> TrainingDataset:
    return parse_record(TrainingDataset, record, what="a dataset")


def complete_statistics(rec: TrainingDataset) -> DatasetStatistics:
    """Computed from the samples; fields the caller set explicitly win."""
    given = rec.statistics
    if not len(rec.samples):
        return given
    computed = compute_statistics(rec.samples, data_type=rec.data_type)
    explicit = {
        name: getattr(given, name)
        for name in given.model_fields_set
        if name not in ("total_samples", "quality") and getattr(given, name) not in (None, [], {})
    }
    return computed.model_copy(update=explicit)


def complete_splits(
    rec: TrainingDataset, policy: SplitPolicy
) -> tuple[DatasetSplits, dict[str, Any] | None]:
    """The given splits, or seeded ones made by the store (and how they were made)."""
    splits = rec.splits
    n = rec.sample_count or 0
    if splits.training or splits.validation or splits.test or n == 0:
        return splits, None
    labels = rec.samples.labels if policy.stratify else None
    if policy.stratify and labels is None:
        raise InvalidRecordError("stratified splits need labels; the samples have none")
    made = make_splits(n, policy.fractions, seed=policy.seed, labels=labels)
    fractions = (
        dict(policy.fractions) if isinstance(policy.fractions, Mapping) else list(policy.fractions)
    )
    return made, {"seed": policy.seed, "fractions": fractions, "stratified": policy.stratify}


class DatasetService:
    def __init__(self, meta: MetaStore, blobs: BlobStore, events: EventBus) -> None:
        self.meta = meta
        self.blobs = blobs
        self.events = events

    # -- writes ------------------------------------------------------------------

    def store(
        self,
        swarm_id: str,
        record: TrainingDataset | Mapping[str, Any],
        *,
        splits: SplitPolicy | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> TrainingDataset:
        validate_id("swarm_id", swarm_id)
        rec = parse_dataset(record)
        dataset_id = validate_id("dataset id", rec.id)
        explicit_version = "version" in rec.model_fields_set
        validate_id("version", rec.version)
        if rec.parent_version is not None:
            validate_id("parent_version", rec.parent_version)
        statistics = complete_statistics(rec)
        made_splits, splitting = complete_splits(rec, splits or SplitPolicy())
        rec = rec.model_copy(update={"statistics": statistics, "splits": made_splits})
        with self.meta.read() as session:  # refuse before any blob is written
            version, parent_version = self._version(session, swarm_id, rec, explicit_version)

        key, length = None, 0
        if len(rec.samples):
            data = encode_samples(rec.samples)
            key, length = blob_key(data), len(data)
            self.blobs.put(key, data)
            self.blobs.flush()

        extra: dict[str, Any] = {
            "preprocessing": rec.preprocessing.to_json_dict(),
            "createdAt": rec.created_at.isoformat(),
            "updatedAt": rec.updated_at.isoformat(),
        }
        if splitting is not None:
            extra["splitting"] = splitting
        if provenance:
            extra["provenance"] = dict(provenance)
        with self.meta.unit_of_work(self.events) as uow:
            session, now = uow.session, uow.now
            version, parent_version = self._version(session, swarm_id, rec, explicit_version)
            parent = (
                None
                if parent_version is None
                else dq.find_dataset(session, swarm_id, dataset_id, parent_version)
            )
            stats_json = statistics.to_json_dict()
            row = DatasetRow(
                swarm_id=swarm_id,
                dataset_id=dataset_id,
                version=version,
                seq=dq.next_seq(session, swarm_id, dataset_id),
                parent_pk=None if parent is None else parent.pk,
                parent_version=parent_version,
                name=rec.name,
                description=rec.description,
                data_type=rec.data_type,
                format=rec.format,
                record=extra,
                statistics=stats_json,
                splits=made_splits.to_json_dict(),
                quality=statistics.quality_score,
                total_samples=rec.sample_count or 0,
                samples_blob=key,
                samples_length=length,
                samples_format=SAMPLES_FORMAT if key else "",
                created=now,
                updated=now,
            )
            session.add(row)
            session.flush()
            self._lineage(session, swarm_id, rec, version, parent_version, stats_json, now)
            event = {
                "swarm_id": swarm_id,
                "dataset_id": dataset_id,
                "version": version,
                "parent_version": parent_version,
            }
            uow.publish(
                TRAINING_DATASET_STORED,
                event,
                swarm_id=swarm_id,
                index=IndexUpdate(
                    TOPIC,
                    f"{swarm_id}/{dataset_id}/{version}",
                    {**event, "name": rec.name, "format": rec.format},
                ),
            )
        return rec.model_copy(
            update={"version": version, "parent_version": parent_version, "swarm_id": swarm_id}
        )

    def _version(
        self, session: Session, swarm_id: str, rec: TrainingDataset, explicit: bool
    ) -> tuple[str, str | None]:
        """(version, parent version) for ``rec``; raises when either is wrong."""
        latest = dq.find_dataset(session, swarm_id, rec.id)
        parent = rec.parent_version
        if explicit or latest is None:
            version = rec.version
            if latest is not None and dq.find_dataset(session, swarm_id, rec.id, version):
                raise DatasetVersionExistsError(swarm_id, rec.id, version)
        else:
            version = str(dq.next_seq(session, swarm_id, rec.id))
            while dq.find_dataset(session, swarm_id, rec.id, version) is not None:
                version += "+"  # only when someone named a version like a number
            parent = parent if parent is not None else latest.version
        if parent is not None and dq.find_dataset(session, swarm_id, rec.id, parent) is None:
            raise DatasetNotFoundError(
                f"parent version {parent!r} of dataset {rec.id!r} does not exist in swarm "
                f"{swarm_id!r}",
                swarm_id=swarm_id,
                dataset_id=rec.id,
                version=parent,
            )
        return version, parent

    @staticmethod
    def _lineage(
        session: Session,
        swarm_id: str,
        rec: TrainingDataset,
        version: str,
        parent_version: str | None,
        statistics: dict[str, Any],
        now: datetime,
    ) -> None:
        key = ln.node_key(ln.DATASET, swarm_id, rec.id, version)
        stats = {k: v for k, v in statistics.items() if k != "quality"}
        props = {
            "name": rec.name,
            "version": version,
            "dataType": rec.data_type,
            "format": rec.format,
            "statistics": stats,
            "preprocessing": rec.preprocessing.to_json_dict(),
        }
        ln.upsert_node(session, ln.DATASET, key, swarm_id, props, now)
        if parent_version is not None:
            src = ln.node_key(ln.DATASET, swarm_id, rec.id, parent_version)
            ln.add_edge(session, src, ln.DATASET_PARENT_OF, key, swarm_id, now)

    # -- reads ---------------------------------------------------------------------

    def get(
        self,
        swarm_id: str,
        dataset_id: str,
        version: str | None = None,
        *,
        include_samples: bool = True,
    ) -> TrainingDataset:
        validate_id("swarm_id", swarm_id)
        validate_id("dataset id", dataset_id)
        if version is not None:
            validate_id("version", version)
        with self.meta.read() as session:
            row = dq.find_dataset(session, swarm_id, dataset_id, version)
        if row is None:
            what = "dataset" if version is None else f"version {version!r} of dataset"
            raise DatasetNotFoundError(
                f"{what} {dataset_id!r} does not exist in swarm {swarm_id!r}",
                swarm_id=swarm_id,
                dataset_id=dataset_id,
                version=version,
            )
        samples = self._samples(row) if include_samples else DatasetSamples()
        extra = row.record
        return TrainingDataset.model_validate(
            {
                "id": row.dataset_id,
                "name": row.name,
                "description": row.description,
                "dataType": row.data_type,
                "format": row.format,
                "samples": samples,
                "statistics": row.statistics,
                "splits": row.splits,
                "preprocessing": extra.get("preprocessing") or {},
                "createdAt": extra.get("createdAt") or row.created,
                "updatedAt": extra.get("updatedAt") or row.updated,
                "version": row.version,
                "parentVersion": row.parent_version,
                "swarmId": row.swarm_id,
            }
        )

    def _samples(self, row: DatasetRow) -> DatasetSamples:
        if row.samples_blob is None:
            return DatasetSamples()
        where = f"samples of dataset {row.dataset_id!r} version {row.version!r}"
        try:
            data = self.blobs.get(row.samples_blob)
        except FileNotFoundError:
            raise CorruptDataError(
                f"{where}: blob {row.samples_blob} is missing", blob=row.samples_blob
            ) from None
        if len(data) != row.samples_length or blob_key(data) != row.samples_blob:
            raise CorruptDataError(
                f"{where}: blob {row.samples_blob} fails verification", blob=row.samples_blob
            )
        return decode_samples(data)

    def list_versions(self, swarm_id: str, dataset_id: str) -> list[DatasetVersionInfo]:
        validate_id("swarm_id", swarm_id)
        validate_id("dataset id", dataset_id)
        with self.meta.read() as session:
            found = dq.list_versions(session, swarm_id, dataset_id)
        if not found:
            raise DatasetNotFoundError(
                f"dataset {dataset_id!r} does not exist in swarm {swarm_id!r}",
                swarm_id=swarm_id,
                dataset_id=dataset_id,
            )
        return [
            DatasetVersionInfo(
                swarm_id=row.swarm_id,
                id=row.dataset_id,
                version=row.version,
                parent_version=row.parent_version,
                name=row.name,
                data_type=row.data_type,  # type: ignore[arg-type]
                format=row.format,  # type: ignore[arg-type]
                total_samples=row.total_samples,
                quality_score=row.quality,
                samples_bytes=row.samples_length,
                created=row.created,
            )
            for row in found
        ]

    def list_datasets(self, swarm_id: str) -> list[dict[str, Any]]:
        validate_id("swarm_id", swarm_id)
        with self.meta.read() as session:
            rows = dq.list_datasets(session, swarm_id)
        return [{"id": d, "versions": n, "latestVersion": v} for d, n, v in rows]
