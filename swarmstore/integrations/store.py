"""What the framework adapters call on a store (the manager implements it).

The adapters never import the manager: they are handed any object with
these methods, typed by this ``Protocol``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from swarmstore.records.model import NeuralModelRecord
    from swarmstore.training.integration import NeuralServiceIntegration
    from swarmstore.training.options import IntegrationOptions
    from swarmstore.training.resume import ResumeState


class TrainingStore(Protocol):
    def integrate_with_neural_service(
        self,
        swarm_id: str,
        agent_id: str,
        options: IntegrationOptions | Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> NeuralServiceIntegration:
        """Training-loop callbacks that checkpoint into the store."""
        ...

    def resume(
        self,
        swarm_id: str,
        experiment_or_model: str,
        which: str = "latest",
        *,
        metric: str | None = None,
        mode: str | None = None,
    ) -> ResumeState:
        """A checkpoint's weights and training state; ``ModelNotFoundError`` if none."""
        ...

    def get_neural_model(
        self, swarm_id: str, model_id: str, version: str | None = None
    ) -> NeuralModelRecord:
        """A version with its tensors (the latest when no version)."""
        ...
