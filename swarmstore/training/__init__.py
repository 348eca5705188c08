"""Training-loop integration: callbacks, auto-checkpointing, retention, resume.

``SwarmDatabaseManager.integrate_with_neural_service`` returns a
``NeuralServiceIntegration``; ``SwarmDatabaseManager.resume`` a
``ResumeState``. Both reach the store only through ``training.port.TrainingPort``.
The framework adapters live in ``swarmstore.integrations``.
"""

from swarmstore.training.integration import NeuralServiceIntegration
from swarmstore.training.options import IntegrationOptions, RetentionOptions
from swarmstore.training.resume import ResumeState
from swarmstore.training.retention import KeepBest, KeepEvery, KeepLast, RetentionPolicy

__all__ = [
    "IntegrationOptions",
    "KeepBest",
    "KeepEvery",
    "KeepLast",
    "NeuralServiceIntegration",
    "ResumeState",
    "RetentionOptions",
    "RetentionPolicy",
]
