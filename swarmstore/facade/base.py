"""What every facade mixin may use of the manager: its stores, bus, pool and model
service, and the sibling mixins' methods that another mixin calls (declared here,
implemented by the mixin that owns them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swarmstore.blobs import BlobStore
    from swarmstore.config import StoreConfig
    from swarmstore.events import EventBus
    from swarmstore.experiments.run import ExperimentRun
    from swarmstore.meta.engine import MetaStore
    from swarmstore.models.service import ModelVersionService
    from swarmstore.records.dataset import TrainingDataset
    from swarmstore.records.experiment import TrainingExperiment
    from swarmstore.records.model import NeuralModelRecord


class FacadeBase:
    config: StoreConfig
    _meta: MetaStore
    _blobs: BlobStore
    _events: EventBus
    _executor: ThreadPoolExecutor
    _models: ModelVersionService

    def _live(self) -> None:
        raise NotImplementedError

    # -- siblings' methods (one mixin's, called from another) ---------------

    def get_training_dataset(
        self,
        swarm_id: str,
        dataset_id: str,
        version: str | None = None,
        *,
        include_samples: bool = True,
    ) -> TrainingDataset:
        """``DatasetsAPI.get_training_dataset`` (the vector index reads dataset records)."""
        raise NotImplementedError

    # The rest of the training port (``TrainingAPI`` hands the manager to the
    # integration as a ``TrainingPort``): the manager's and ``ExperimentsAPI``'s.

    def store_neural_model(
        self, swarm_id: str, model: NeuralModelRecord | Mapping[str, Any]
    ) -> NeuralModelRecord:
        raise NotImplementedError

    def get_neural_model(
        self, swarm_id: str, model_id: str, version: str | None = None
    ) -> NeuralModelRecord:
        raise NotImplementedError

    def delete_model_version(self, swarm_id: str, model_id: str, version: str) -> dict[str, Any]:
        raise NotImplementedError

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
        raise NotImplementedError

    def get_training_experiment(self, swarm_id: str, experiment_id: str) -> TrainingExperiment:
        raise NotImplementedError
