"""Events: blinker signals fired after commit, with the seed's names.

Each manager has its own namespace, so two stores in one process never hear
each other. A subscriber that raises is logged and never fails the write —
the write is already committed when events fire. Other processes replay the
SQL event log (``SwarmDatabaseManager.events_since``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from blinker import Namespace

from swarmstore.errors import InvalidRecordError

log = logging.getLogger(__name__)

NEURAL_MODEL_STORED = "neural_model_stored"
TRAINING_EXPERIMENT_STORED = "training_experiment_stored"
TRAINING_DATASET_STORED = "training_dataset_stored"
EXPERIMENT_STARTED = "experiment_started"
EXPERIMENT_FINISHED = "experiment_finished"
MODEL_REGISTERED = "model_registered"
MODEL_APPROVED = "model_approved"
MODEL_STAGE_CHANGED = "model_stage_changed"
MODEL_ALIAS_SET = "model_alias_set"
MODEL_DEPLOYED = "model_deployed"
DEPLOYMENT_STATUS_CHANGED = "deployment_status_changed"
DEPLOYMENT_ROLLED_BACK = "deployment_rolled_back"
NEURAL_SERVICE_INTEGRATED = "neural_service_integrated"
TRAINING_STARTED = "training_started"
EPOCH_COMPLETED = "epoch_completed"
TRAINING_COMPLETED = "training_completed"
MODEL_SAVED = "model_saved"
CHECKPOINT_SAVED = "checkpoint_saved"
MODEL_VERSION_DELETED = "model_version_deleted"

EVENT_NAMES = frozenset(
    {
        NEURAL_MODEL_STORED,
        TRAINING_EXPERIMENT_STORED,
        TRAINING_DATASET_STORED,
        EXPERIMENT_STARTED,
        EXPERIMENT_FINISHED,
        MODEL_REGISTERED,
        MODEL_APPROVED,
        MODEL_STAGE_CHANGED,
        MODEL_ALIAS_SET,
        MODEL_DEPLOYED,
        DEPLOYMENT_STATUS_CHANGED,
        DEPLOYMENT_ROLLED_BACK,
        NEURAL_SERVICE_INTEGRATED,
        TRAINING_STARTED,
        EPOCH_COMPLETED,
        TRAINING_COMPLETED,
        MODEL_SAVED,
        CHECKPOINT_SAVED,
        MODEL_VERSION_DELETED,
    }
)

Handler = Callable[[dict[str, Any]], object]


class EventBus:
    def __init__(self) -> None:
        self._signals = Namespace()
        self._handlers: dict[str, list[Callable[..., None]]] = {}
        self._any: list[Callable[[str, dict[str, Any]], object]] = []

    def on_any(self, handler: Callable[[str, dict[str, Any]], object]) -> None:
        """Internal: ``handler(name, event)`` after every emitted event (the index updater)."""
        self._any.append(handler)

    def on(self, name: str, handler: Handler) -> Callable[[], None]:
        """Subscribe ``handler(event)``; returns a function that unsubscribes."""
        if name not in EVENT_NAMES:
            raise InvalidRecordError(f"unknown event {name!r}; known: {sorted(EVENT_NAMES)}")
        if not callable(handler):
            raise InvalidRecordError(f"handler for {name!r} is not callable")

        def receiver(_sender: object, event: dict[str, Any]) -> None:
            handler(event)

        signal = self._signals.signal(name)
        signal.connect(receiver, weak=False)
        self._handlers.setdefault(name, []).append(receiver)

        def unsubscribe() -> None:
            signal.disconnect(receiver)

        return unsubscribe

    def emit(self, name: str, event: dict[str, Any]) -> None:
        """Call every subscriber; exceptions are logged, never raised."""
        signal = self._signals.signal(name)
        for receiver in list(signal.receivers_for(self)):
            try:
                receiver(self, event=dict(event))
            except Exception:
                log.exception("subscriber of %r raised; the write it reports is committed", name)
        for handler in list(self._any):
            try:
                handler(name, dict(event))
            except Exception:
                log.exception("internal listener raised after %r; the write is committed", name)
