"""Events: blinker signals fired after commit, with the seed's names.

Each manager has its own namespace, so two stores in one process never hear
each other. A subscriber that raises is logged and never fails the write —
the write is already committed when events fire. Other processes replay the
SQL event log (``SwarmDatabaseManager.events_since``).
"""

from __future__ import annotations

import logging
import re
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

_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _snake(key: str) -> str:
    return _CAMEL_HUMP.sub(lambda m: "_" + m.group(1).lower(), key)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Event(dict[str, Any]):
    """An event payload that answers both spellings of its keys.

    The payload is stored with snake_case keys (``swarm_id``, ``model_id``);
    ``event["swarmId"]``, ``event.get("modelId")`` and ``"integrationId" in event``
    read the same values under the seed's camelCase names. Iteration, ``len``,
    equality and ``dict(event)`` see the stored keys only; ``camel()`` is the
    payload with camelCase top-level keys (for JSON in the seed's shape).
    """

    __slots__ = ()

    def __missing__(self, key: object) -> Any:
        if isinstance(key, str):
            snake = _snake(key)
            if snake != key and dict.__contains__(self, snake):
                return dict.__getitem__(self, snake)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        return isinstance(key, str) and dict.__contains__(self, _snake(key))

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def camel(self) -> dict[str, Any]:
        """The payload with the seed's camelCase keys (``swarmId``, ``modelId``, ...)."""
        return {_camel(k): v for k, v in self.items()}

    def __repr__(self) -> str:
        return f"Event({dict.__repr__(self)})"


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
        """Call every subscriber with its own ``Event`` copy (both key spellings);
        exceptions are logged, never raised."""
        signal = self._signals.signal(name)
        for receiver in list(signal.receivers_for(self)):
            try:
                receiver(self, event=Event(event))
            except Exception:
                log.exception("subscriber of %r raised; the write it reports is committed", name)
        for handler in list(self._any):
            try:
                handler(name, Event(event))
            except Exception:
                log.exception("internal listener raised after %r; the write is committed", name)
