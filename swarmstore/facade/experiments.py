"""Training experiments and streaming metric runs."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from swarmstore.experiments import ExperimentRun, ExperimentService, MetricHistory
from swarmstore.facade.base import FacadeBase
from swarmstore.records.experiment import TrainingExperiment

log = logging.getLogger(__name__)


class ExperimentsAPI(FacadeBase):
    _experiments: ExperimentService
    #: runs opened through this store; None until attached (a failed ``__init__``
    #: closes a store whose parts may never have attached)
    _open_runs: weakref.WeakSet[ExperimentRun] | None = None

    def _attach_experiments(self) -> None:
        """Called once at the end of the manager's ``__init__``."""
        self._experiments = ExperimentService(self._meta, self._events)
        self._open_runs = weakref.WeakSet()

    def _detach_experiments(self) -> None:
        """Runs still open when the store closes are flushed and finished as ``paused``."""
        for run in list(self._open_runs or ()):
            if not run.finished:
                try:
                    run.finish("paused")
                except Exception:  # closing goes on; the points flushed so far stay
                    log.exception("could not finish run %s while closing", run.id)

    def store_training_experiment(
        self, swarm_id: str, experiment: TrainingExperiment | Mapping[str, Any]
    ) -> TrainingExperiment:
        """Store (or replace) an experiment record with the seed's fields.

        ``checkpoints`` must name stored model versions (``ModelNotFoundError``
        lists the others), dataset references stored datasets
        (``DatasetNotFoundError``); non-finite numbers where the record forbids
        them raise ``NonFiniteValueError``. ``convergenceAnalysis`` is computed
        when not given. Nothing is written on error; fires
        ``training_experiment_stored`` after commit.
        """
        self._live()
        return self._experiments.store(swarm_id, experiment)

    def get_training_experiment(self, swarm_id: str, experiment_id: str) -> TrainingExperiment:
        """The stored record (``ExperimentNotFoundError`` when unknown)."""
        self._live()
        return self._experiments.get(swarm_id, experiment_id)

    def get_metric_history(
        self, swarm_id: str, experiment_id: str, key: str | None = None
    ) -> MetricHistory:
        """Streamed points of one metric (or all) in step order, as numpy columns;
        ``.to_arrow()`` gives a ``pyarrow.Table``. Only flushed points are seen."""
        self._live()
        return self._experiments.metric_history(swarm_id, experiment_id, key)

    def start_experiment(
        self,
        swarm_id: str,
        experiment_id: str | None = None,
        *,
        name: str = "",
        model_id: str | None = None,
        agent_id: str = "",
        datasets: Iterable[str] = (),
        hyperparameters: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        flush_every: int = 1000,
        resume: bool = False,
    ) -> ExperimentRun:
        """Open a streaming run (status ``running``; fires ``experiment_started``).

        The id is generated when None; a stored id raises ``ExperimentExistsError``
        unless ``resume=True`` (which continues its history). See
        ``swarmstore.experiments.run`` for buffering, durability and threads.
        """
        self._live()
        run = self._experiments.start(
            swarm_id,
            experiment_id,
            name=name,
            model_id=model_id,
            agent_id=agent_id,
            datasets=datasets,
            hyperparameters=hyperparameters,
            tags=tags,
            flush_every=flush_every,
            resume=resume,
        )
        assert self._open_runs is not None  # attached before the store is live
        self._open_runs.add(run)
        return run
