"""Experiments in the store: stored records, streaming runs, metric history.

Every write is one unit of work (``MetaStore.unit_of_work``). The record-level
writes (store, start, finish) publish their events (event-log and outbox rows,
emitted after commit) and write lineage (an Experiment node, USED_DATASET and
PRODUCED edges); a run's new checkpoint writes its PRODUCED edge and only the
outbox row (the indexes re-read the experiment; no event). A run's metric
flushes and epoch updates only append points and refresh the row: they are
progress, not new facts for the indexes. References are checked inside the
transaction, so a bad one leaves the store unchanged. The SQL is in
``experiments.queries``; runs (``experiments.run``) are made here and write
back through this service.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from swarmstore.analytics.convergence import analyze_convergence
from swarmstore.errors import ExperimentExistsError, InvalidRecordError
from swarmstore.events import (
    EXPERIMENT_FINISHED,
    EXPERIMENT_STARTED,
    TRAINING_EXPERIMENT_STORED,
    EventBus,
)
from swarmstore.experiments import queries as q
from swarmstore.experiments import refs as rf
from swarmstore.experiments import rows
from swarmstore.experiments.blocks import insert_blocks, read_history
from swarmstore.experiments.points import Columns, MetricHistory, Point, insert_points
from swarmstore.experiments.run import ExperimentRun
from swarmstore.ids import validate_id
from swarmstore.meta import lineage as ln
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.tables_training import ExperimentRow
from swarmstore.meta.unit import IndexUpdate, Session, UnitOfWork
from swarmstore.records.base import parse_record, utc_now
from swarmstore.records.experiment import Hyperparameters, TrainingExperiment

TOPIC = "experiment.upserted"


def parse_experiment(record: TrainingExperiment | Mapping[str, Any]) -> TrainingExperiment:
    return parse_record(TrainingExperiment, record, what="an experiment")


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
        with self.meta.unit_of_work(self.events) as uow:
            session, now = uow.session, uow.now
            datasets = rf.resolve_datasets(session, swarm_id, dataset_refs)
            checkpoints = rf.resolve_checkpoints(session, swarm_id, rec.model_id, rec.checkpoints)
            row = q.find_experiment(session, swarm_id, rec.id)
            row = self._put_row(session, swarm_id, row, rec, datasets, checkpoints, now)
            self._lineage(session, swarm_id, rec.id, row, datasets, checkpoints, now)
            self._publish(uow, TRAINING_EXPERIMENT_STORED, swarm_id, row)
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
            row = q.require_experiment(session, swarm_id, experiment_id)
            datasets = q.dataset_refs(session, row.pk)
            checkpoints = q.checkpoint_refs(session, row.pk)
        return rows.to_record(row, datasets, checkpoints)

    def metric_history(
        self, swarm_id: str, experiment_id: str, key: str | None = None
    ) -> MetricHistory:
        validate_id("swarm_id", swarm_id)
        validate_id("experiment id", experiment_id)
        if key is not None and (not isinstance(key, str) or not key):
            raise InvalidRecordError(f"metric key must be a non-empty string, got {key!r}")
        with self.meta.read() as session:
            pk = q.require_experiment_pk(session, swarm_id, experiment_id)
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
        with self.meta.unit_of_work(self.events) as uow:
            session, now = uow.session, uow.now
            row = q.find_experiment(session, swarm_id, experiment_id)
            if row is not None and not resume:
                raise ExperimentExistsError(swarm_id, experiment_id)
            datasets_found = rf.resolve_datasets(session, swarm_id, dataset_refs)
            if row is None:
                row = self._put_row(session, swarm_id, None, rec, datasets_found, [], now)
            else:  # resume: keep history, checkpoints and points; running again
                row.status, row.ended, row.updated = "running", None, now
                existing = set(q.linked_dataset_pks(session, row.pk))
                q.add_dataset_links(
                    session,
                    row.pk,
                    [(d.dataset_pk, d.ref) for d in datasets_found if d.dataset_pk not in existing],
                )
            self._lineage(session, swarm_id, experiment_id, row, datasets_found, [], now)
            self._publish(uow, EXPERIMENT_STARTED, swarm_id, row)
            pk, stored = row.pk, rows.to_record(row, [], [])
            checkpoint_count = q.checkpoint_count(session, row.pk)
        return ExperimentRun(
            self,
            swarm_id,
            experiment_id,
            pk=pk,
            record=stored,
            checkpoint_count=checkpoint_count,
            flush_every=flush_every,
        )

    def write_progress(
        self, pk: int, points: Sequence[Point], record: TrainingExperiment | None
    ) -> None:
        """Append points and (when given) refresh the row from ``record``; no events."""
        if not points and record is None:
            return
        with self.meta.unit_of_work(self.events) as uow:
            if points:
                _append_points(uow.session, pk, points)
            if record is not None:
                row = q.require_row(uow.session, pk)
                rows.apply(row, rows.row_values(record, row.dataset_id), uow.now)

    def add_checkpoint(
        self, swarm_id: str, pk: int, run_model_id: str, model_id: str, version: str, position: int
    ) -> str | None:
        """Link a stored model version; returns its reference, None if already linked.

        No event: the experiment's outbox row alone tells the indexes to re-read it."""
        validate_id("model id", model_id)
        validate_id("version", version)
        ref = version if model_id == run_model_id else f"{model_id}/{version}"
        with self.meta.unit_of_work(self.events) as uow:
            session = uow.session
            row = q.require_row(session, pk)
            (found,) = rf.resolve_checkpoints(session, swarm_id, run_model_id, [ref])
            if q.has_checkpoint_link(session, pk, found.version_pk):
                return None
            q.add_checkpoint_link(session, pk, found.version_pk, position, ref)
            self._lineage(session, swarm_id, row.experiment_id, row, [], [found], uow.now)
            uow.reindex(self._index(row, swarm_id))
        return ref

    def finish(
        self, pk: int, swarm_id: str, points: Sequence[Point], record: TrainingExperiment
    ) -> TrainingExperiment:
        with self.meta.unit_of_work(self.events) as uow:
            session = uow.session
            if points:
                _append_points(session, pk, points)
            row = q.require_row(session, pk)
            rows.apply(row, rows.row_values(record, row.dataset_id), uow.now)
            self._lineage(session, swarm_id, row.experiment_id, row, [], [], uow.now)
            self._publish(uow, EXPERIMENT_FINISHED, swarm_id, row, outbox=False)
            self._publish(uow, TRAINING_EXPERIMENT_STORED, swarm_id, row)
            experiment_id = row.experiment_id
        return self.get(swarm_id, experiment_id)

    # -- helpers -------------------------------------------------------------

    @staticmethod
    def _validate_ids(rec: TrainingExperiment) -> None:
        validate_id("experiment id", rec.id)
        if rec.model_id:
            validate_id("model id", rec.model_id)
        if rec.agent_id:
            validate_id("agent_id", rec.agent_id)

    def _put_row(
        self,
        session: Session,
        swarm_id: str,
        row: ExperimentRow | None,
        rec: TrainingExperiment,
        datasets: list[rf.DatasetRef],
        checkpoints: list[rf.CheckpointRef],
        now: datetime,
    ) -> ExperimentRow:
        """Insert the experiment's row (``row`` None) or overwrite it from ``rec``,
        then replace its dataset and checkpoint links."""
        if row is None:
            row = ExperimentRow(swarm_id=swarm_id, experiment_id=rec.id, created=now)
            session.add(row)
        refs = _dataset_refs(rec)
        rows.apply(row, rows.row_values(rec, refs[0] if refs else ""), now)
        session.flush()
        self._replace_links(session, row.pk, datasets, checkpoints)
        return row

    @staticmethod
    def _replace_links(
        session: Session,
        pk: int,
        datasets: list[rf.DatasetRef],
        checkpoints: list[rf.CheckpointRef],
    ) -> None:
        seen: set[int] = set()
        for ref in checkpoints:
            if ref.version_pk in seen:  # "v1" and "model/v1" name one version
                raise InvalidRecordError(f"checkpoint {ref.ref!r} names a version listed before")
            seen.add(ref.version_pk)
        q.replace_links(
            session,
            pk,
            [(d.dataset_pk, d.ref) for d in datasets],
            [(c.version_pk, c.ref) for c in checkpoints],
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

    @classmethod
    def _index(cls, row: ExperimentRow, swarm_id: str) -> IndexUpdate:
        """The outbox row that has the indexes re-read the experiment."""
        return IndexUpdate(TOPIC, f"{swarm_id}/{row.experiment_id}", cls._payload(row, swarm_id))

    def _publish(
        self,
        uow: UnitOfWork,
        name: str,
        swarm_id: str,
        row: ExperimentRow,
        *,
        outbox: bool = True,
    ) -> None:
        """``name`` with the row's payload; ``outbox`` adds the row the indexes apply."""
        index = self._index(row, swarm_id) if outbox else None
        uow.publish(name, self._payload(row, swarm_id), swarm_id=swarm_id, index=index)
