"""The options of ``integrate_with_neural_service``.

The records live in ``swarmstore.records.training`` (records import nothing of
``training``); they are re-exported here, where the training code reads them.
"""

from __future__ import annotations

from swarmstore.records.training import (
    CheckpointUnit,
    IntegrationOptions,
    MetricMode,
    RetentionOptions,
)

__all__ = ["CheckpointUnit", "IntegrationOptions", "MetricMode", "RetentionOptions"]
