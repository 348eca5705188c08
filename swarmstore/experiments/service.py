"""Experiments in the store: stored records, streaming runs, metric history.

Every write is one SQL transaction; the record-level writes (store, start,
finish, a run's new checkpoint) also append event-log and outbox rows and
lineage (an Experiment node, USED_DATASET and PRODUCED edges), and their
events fire after commit. A run's metric flushes and epoch updates only
append points and refresh the row: they are progress, not new facts for the
indexes. References are checked inside the transaction, so a bad one leaves
the store unchanged.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from swarmstore.analytics.convergence import analyze_convergence
from swarmstore.errors import (
    ExperimentExistsError,
    ExperimentNotFoundError,
    InvalidRecordError,
)
from swarmstore.events import (
    EXPERIMENT_FINISHED,
    EXPERIMENT_STARTED,
    TRAINING_EXPERIMENT_STORED,
    EventBus,
)
from swarmstore.experiments import refs as rf
from swarmstore.experiments import rows
from swarmstore.experiments.blocks import insert_blocks, read_history
from swarmstore.experiments.points import Columns, MetricHistory, Point, insert_points
from swarmstore.ids import validate_id
from swarmstore.meta import lineage as ln
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.log import append_event, append_outbox
from swarmstore.meta.tables_training import (
    ExperimentCheckpointRow,
    ExperimentDatasetRow,
    ExperimentRow,
)
from swarmstore.records.base import utc_now
from swarmstore.records.experiment import Hyperparameters, TrainingExperiment

if TYPE_CHECKING:
    from swarmstore.experiments.run import ExperimentRun

TOPIC = "experiment.upserted"


def parse_experiment(record: TrainingExperiment | Mapping[str, Any]) -> TrainingExperiment:
    if isinstance(record, TrainingExperiment):
        return record
    if not isinstance(record, Mapping):
        raise InvalidRecordError(
            f"an experiment must be a mapping or TrainingExperiment, not {type(record).__name__}"
        )
    return TrainingExperiment.model_validate(dict(record))


def new_experiment_id() -> str:
    """Sortable by start time, unique without coordination."""
    return f"exp_{utc_now():%Y%m%dT%H%M%S}_{secrets.token_hex(4)}"


def _dataset_refs(rec: TrainingExperiment) -> list[str]:
    return list(dict.fromkeys(r for r in [rec.dataset_id, *rec.datasets] if r))


def _append_points(session: Session, pk: int, points: Sequence[Point]) -> None:
    """Both stored forms of a flush: per-point rows (analytics) and blocks (histories)."""
    columns = Columns.of(points)
    insert_points(session, pk, columns)
    insert_blocks(session, pk, columns)


class ExperimentService:
    def __init__(self, meta: MetaStore, events: EventBus) -> None:
        self.meta = meta
        self.events = events

    # -- stored records ------------------------------------------------------

    def store(
        self, swarm_id: str, record: TrainingExperiment | Mapping[str, Any]
    ) -> TrainingExperiment:
        validate_id("swarm_id", swarm_id)
        rec = parse_experiment(record)
        self._validate_ids(rec)
        if "convergence_analysis" not in rec.metrics.model_fields_set:
            analysis = analyze_convergence(rec.metrics.training_history)
            metrics = rec.metrics.model_copy(update={"convergence_analysis": analysis})
            rec = rec.model_copy(update={"metrics": metrics})
        dataset_refs = _dataset_refs(rec)
        now = utc_now()
        with self.meta.write() as session:
            datasets = rf.resolve_datasets(session, swarm_id, dataset_refs)
            checkpoints = rf.resolve_checkpoints(session, swarm_id, rec.model_id, rec.checkpoints)
            row = self._find(session, swarm_id, rec.id)
            values = rows.row_values(rec, dataset_refs[0] if dataset_refs else "")
            if row is None:
                row = ExperimentRow(swarm_id=swarm_id, experiment_id=rec.id, created=now)
                session.add(row)
            rows.apply(row, values, now)
            session.flush()
            self._replace_links(session, row.pk, datasets, checkpoints)
            self._lineage(session, swarm_id, rec.id, row, datasets, checkpoints, now)
            event = self._log(session, TRAINING_EXPERIMENT_STORED, swarm_id, row, now)
        self.events.emit(TRAINING_EXPERIMENT_STORED, event)
        return rec.model_copy(
            update={
                "swarm_id": swarm_id,
                "dataset_id": dataset_refs[0] if dataset_refs else "",
                "datasets": dataset_refs,
            }
        )

    def get(self, swarm_id: str, experiment_id: str) -> TrainingExperiment:
        validate_id("swarm_id", swarm_id)
        validate_id("experiment id", experiment_id)
        with self.meta.read() as session:
            row = self._require(session, swarm_id, experiment_id)
            datasets = list(
                session.scalars(
                    select(ExperimentDatasetRow.ref)
                    .where(ExperimentDatasetRow.experiment_pk == row.pk)
                    .order_by(ExperimentDatasetRow.position)
                )
            )
            checkpoints = list(
                session.scalars(
                    select(ExperimentCheckpointRow.ref)
                    .where(ExperimentCheckpointRow.experiment_pk == row.pk)
                    .order_by(ExperimentCheckpointRow.position)
                )
            )
        return rows.to_record(row, datasets, checkpoints)

    def metric_history(
        self, swarm_id: str, experiment_id: str, key: str | None = None
    ) -> MetricHistory:
        validate_id("swarm_id", swarm_id)
        validate_id("experiment id", experiment_id)
        if key is not None and (not isinstance(key, str) or not key):
            raise InvalidRecordError(f"metric key must be a non-empty string, got {key!r}")
        with self.meta.read() as session:
            pk = session.scalar(
                select(ExperimentRow.pk).where(
                    ExperimentRow.swarm_id == swarm_id,
                    ExperimentRow.experiment_id == experiment_id,
                )
            )
            if pk is None:
                raise self._not_found(swarm_id, experiment_id)
            return read_history(session, pk, experiment_id, key)

    # -- streaming runs ------------------------------------------------------

    def start(
        self,
        swarm_id: str,
        experiment_id: str | None,
        *,
        name: str,
        model_id: str | None,
        agent_id: str,
        datasets: Iterable[str],
        hyperparameters: Mapping[str, Any] | None,
        tags: Iterable[str],
        flush_every: int,
        resume: bool,
    ) -> ExperimentRun:
        from swarmstore.experiments.run import ExperimentRun

        validate_id("swarm_id", swarm_id)
        experiment_id = validate_id(
            "experiment id", new_experiment_id() if experiment_id is None else experiment_id
        )
        if isinstance(flush_every, bool) or not isinstance(flush_every, int) or flush_every < 1:
            raise InvalidRecordError(f"flush_every must be a positive int, got {flush_every!r}")
        if isinstance(datasets, str) or isinstance(tags, str):
            raise InvalidRecordError("datasets and tags must be sequences of strings, not a str")
        rec = TrainingExperiment(
            id=experiment_id,
            name=name,
            model_id=model_id or "",
            agent_id=agent_id,
            datasets=list(datasets),
            tags=list(tags),
            hyperparameters=Hyperparameters.model_validate(dict(hyperparameters or {})),
            status="running",
        )
        self._validate_ids(rec)
        dataset_refs = _dataset_refs(rec)
        now = utc_now()
        with self.meta.write() as session:
            row = self._find(session, swarm_id, experiment_id)
            if row is not None and not resume:
                raise ExperimentExistsError(swarm_id, experiment_id)
            datasets_found = rf.resolve_datasets(session, swarm_id, dataset_refs)
            checkpoints: list[rf.CheckpointRef] = []
            if row is None:
                row = ExperimentRow(swarm_id=swarm_id, experiment_id=experiment_id, created=now)
                session.add(row)
                rows.apply(row, rows.row_values(rec, dataset_refs[0] if dataset_refs else ""), now)
                session.flush()
                self._replace_links(session, row.pk, datasets_found, [])
            else:  # resume: keep history, checkpoints and points; running again
                row.status, row.ended, row.updated = "running", None, now
                existing = {d.dataset_pk for d in self._dataset_links(session, row.pk)}
                self._add_dataset_links(
                    session, row.pk, [d for d in datasets_found if d.dataset_pk not in existing]
                )
            self._lineage(session, swarm_id, experiment_id, row, datasets_found, checkpoints, now)
            event = self._log(session, EXPERIMENT_STARTED, swarm_id, row, now)
            snapshot = self._run_snapshot(session, row)
        self.events.emit(EXPERIMENT_STARTED, event)
        return ExperimentRun(self, swarm_id, experiment_id, flush_every=flush_every, **snapshot)

    def _run_snapshot(self, session: Session, row: ExperimentRow) -> dict[str, Any]:
        stored = rows.to_record(row, [], [])
        return {
            "pk": row.pk,
            "record": stored,
            "checkpoint_count": len(
                list(
                    session.scalars(
                        select(ExperimentCheckpointRow.version_pk).where(
                            ExperimentCheckpointRow.experiment_pk == row.pk
                        )
                    )
                )
            ),
        }

    def write_progress(
        self, pk: int, points: Sequence[Point], record: TrainingExperiment | None
    ) -> None:
        """Append points and (when given) refresh the row from ``record``; no events."""
        if not points and record is None:
            return
        now = utc_now()
        with self.meta.write() as session:
            if points:
                _append_points(session, pk, points)
            if record is not None:
                row = session.get(ExperimentRow, pk)
                if row is None:
                    raise ExperimentNotFoundError(f"experiment row {pk} vanished", pk=pk)
                rows.apply(row, rows.row_values(record, row.dataset_id), now)

    def add_checkpoint(
        self, swarm_id: str, pk: int, run_model_id: str, model_id: str, version: str, position: int
    ) -> str | None:
        """Link a stored model version; returns its reference, None if already linked."""
        validate_id("model id", model_id)
        validate_id("version", version)
        ref = version if model_id == run_model_id else f"{model_id}/{version}"
        now = utc_now()
        with self.meta.write() as session:
            row = session.get(ExperimentRow, pk)
            if row is None:
                raise ExperimentNotFoundError(f"experiment row {pk} vanished", pk=pk)
            (found,) = rf.resolve_checkpoints(session, swarm_id, run_model_id, [ref])
            present = session.get(ExperimentCheckpointRow, (pk, found.version_pk))
            if present is not None:
                return None
            session.add(
                ExperimentCheckpointRow(
                    experiment_pk=pk, version_pk=found.version_pk, position=position, ref=ref
                )
            )
            self._lineage(session, swarm_id, row.experiment_id, row, [], [found], now)
            append_outbox(
                session,
                TOPIC,
                f"{swarm_id}/{row.experiment_id}",
                self._payload(row, swarm_id),
                now,
            )
        return ref

    def finish(
        self, pk: int, swarm_id: str, points: Sequence[Point], record: TrainingExperiment
    ) -> TrainingExperiment:
        now = utc_now()
        with self.meta.write() as session:
            if points:
                _append_points(session, pk, points)
            row = session.get(ExperimentRow, pk)
            if row is None:
                raise ExperimentNotFoundError(f"experiment row {pk} vanished", pk=pk)
            rows.apply(row, rows.row_values(record, row.dataset_id), now)
            self._lineage(session, swarm_id, row.experiment_id, row, [], [], now)
            finished = self._log(session, EXPERIMENT_FINISHED, swarm_id, row, now, outbox=False)
            stored = self._log(session, TRAINING_EXPERIMENT_STORED, swarm_id, row, now)
            experiment_id = row.experiment_id
        self.events.emit(EXPERIMENT_FINISHED, finished)
        self.events.emit(TRAINING_EXPERIMENT_STORED, stored)
        return self.get(swarm_id, experiment_id)

    # -- helpers -------------------------------------------------------------

    @staticmethod
    def _validate_ids(rec: TrainingExperiment) -> None:
        validate_id("experiment id", rec.id)
        if rec.model_id:
            validate_id("model id", rec.model_id)
        if rec.agent_id:
            validate_id("agent_id", rec.agent_id)

    @staticmethod
    def _find(session: Session, swarm_id: str, experiment_id: str) -> ExperimentRow | None:
        return session.scalar(
            select(ExperimentRow).where(
                ExperimentRow.swarm_id == swarm_id, ExperimentRow.experiment_id == experiment_id
            )
        )

    def _require(self, session: Session, swarm_id: str, experiment_id: str) -> ExperimentRow:
        row = self._find(session, swarm_id, experiment_id)
        if row is None:
            raise self._not_found(swarm_id, experiment_id)
        return row

    @staticmethod
    def _not_found(swarm_id: str, experiment_id: str) -> ExperimentNotFoundError:
        return ExperimentNotFoundError(
            f"experiment {experiment_id!r} does not exist in swarm {swarm_id!r}",
            swarm_id=swarm_id,
            experiment_id=experiment_id,
        )

    @staticmethod
    def _dataset_links(session: Session, pk: int) -> list[ExperimentDatasetRow]:
        return list(
            session.scalars(
                select(ExperimentDatasetRow)
                .where(ExperimentDatasetRow.experiment_pk == pk)
                .order_by(ExperimentDatasetRow.position)
            )
        )

    def _add_dataset_links(self, session: Session, pk: int, found: list[rf.DatasetRef]) -> None:
        start = len(self._dataset_links(session, pk))
        for offset, ref in enumerate(found):
            session.add(
                ExperimentDatasetRow(
                    experiment_pk=pk,
                    dataset_pk=ref.dataset_pk,
                    position=start + offset,
                    ref=ref.ref,
                )
            )

    def _replace_links(
        self,
        session: Session,
        pk: int,
        datasets: list[rf.DatasetRef],
        checkpoints: list[rf.CheckpointRef],
    ) -> None:
        session.execute(
            delete(ExperimentDatasetRow).where(ExperimentDatasetRow.experiment_pk == pk)
        )
        session.execute(
            delete(ExperimentCheckpointRow).where(ExperimentCheckpointRow.experiment_pk == pk)
        )
        self._add_dataset_links(session, pk, datasets)
        seen: set[int] = set()
        for position, ref in enumerate(checkpoints):
            if ref.version_pk in seen:  # "v1" and "model/v1" name one version
                raise InvalidRecordError(f"checkpoint {ref.ref!r} names a version listed before")
            seen.add(ref.version_pk)
            session.add(
                ExperimentCheckpointRow(
                    experiment_pk=pk, version_pk=ref.version_pk, position=position, ref=ref.ref
                )
            )

    @staticmethod
    def _lineage(
        session: Session,
        swarm_id: str,
        experiment_id: str,
        row: ExperimentRow,
        datasets: Sequence[rf.DatasetRef],
        checkpoints: Sequence[rf.CheckpointRef],
        now: datetime,
    ) -> None:
        key = ln.node_key(ln.EXPERIMENT, swarm_id, experiment_id)
        props = {"name": row.name, "model_id": row.model_id, "status": row.status}
        ln.upsert_node(session, ln.EXPERIMENT, key, swarm_id, props, now)
        for d in datasets:
            dst = ln.node_key(ln.DATASET, swarm_id, d.dataset_id, d.version)
            ln.add_edge(session, key, ln.USED_DATASET, dst, swarm_id, now)
        for c in checkpoints:
            dst = ln.node_key(ln.MODEL_VERSION, swarm_id, c.model_id, c.version)
            ln.add_edge(session, key, ln.PRODUCED, dst, swarm_id, now)

    @staticmethod
    def _payload(row: ExperimentRow, swarm_id: str) -> dict[str, Any]:
        return {
            "swarm_id": swarm_id,
            "experiment_id": row.experiment_id,
            "model_id": row.model_id,
            "status": row.status,
        }

    def _log(
        self,
        session: Session,
        name: str,
        swarm_id: str,
        row: ExperimentRow,
        now: datetime,
        *,
        outbox: bool = True,
    ) -> dict[str, Any]:
        payload = self._payload(row, swarm_id)
        append_event(session, name, swarm_id, payload, now)
        if outbox:
            append_outbox(session, TOPIC, f"{swarm_id}/{row.experiment_id}", payload, now)
        return payload
