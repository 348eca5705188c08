"""The training port: everything the training integration asks of a store.

``NeuralServiceIntegration`` and ``load_resume_state`` are clients of this
``Protocol`` and of nothing else in the store: typed records in (a
``NeuralModelRecord`` per checkpoint), a typed ``ExperimentRun`` out, the
catalog of a model's training checkpoints, and the training events. The
manager implements it (``facade/training.py``); a test may hand in any
object that does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from swarmstore.experiments.run import ExperimentRun
    from swarmstore.records.experiment import TrainingExperiment
    from swarmstore.records.model import NeuralModelRecord
    from swarmstore.training.catalog import CheckpointInfo


class TrainingPort(Protocol):
    # -- model versions ---------------------------------------------------------

    def store_neural_model(self, swarm_id: str, model: NeuralModelRecord) -> NeuralModelRecord:
        """Store one version; ``VersionExistsError`` when its name is taken."""
        ...

    def get_neural_model(
        self, swarm_id: str, model_id: str, version: str | None = None
    ) -> NeuralModelRecord:
        """A version with its tensors (the latest when no version)."""
        ...

    def delete_model_version(self, swarm_id: str, model_id: str, version: str) -> dict[str, Any]:
        """Free a version; ``VersionInUseError`` when something holds it."""
        ...

    def require_model_version(self, swarm_id: str, model_id: str, version: str) -> None:
        """``ModelNotFoundError`` unless the version is stored (reads no tensors)."""
        ...

    def training_checkpoints(self, swarm_id: str, model_id: str) -> list[CheckpointInfo]:
        """Live versions of a model that a training integration wrote, oldest first."""
        ...

    # -- experiments --------------------------------------------------------------

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
        resume: bool = False,
    ) -> ExperimentRun:
        """Open a streaming run; ``resume=True`` continues a stored one's history."""
        ...

    def get_training_experiment(self, swarm_id: str, experiment_id: str) -> TrainingExperiment:
        """The stored record; ``NotFoundError`` when unknown."""
        ...

    # -- events -------------------------------------------------------------------

    def announce_training_event(self, name: str, swarm_id: str, payload: dict[str, Any]) -> None:
        """Commit a training event to the log, then fire it on the bus."""
        ...
