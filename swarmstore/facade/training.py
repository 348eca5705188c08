"""Training-loop integration: callbacks, auto-checkpointing, retention, resume (issue 6)."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from swarmstore.errors import InvalidRecordError, NotFoundError
from swarmstore.events import NEURAL_SERVICE_INTEGRATED
from swarmstore.facade.base import FacadeBase
from swarmstore.ids import validate_id
from swarmstore.training.announce import announce
from swarmstore.training.catalog import model_exists
from swarmstore.training.integration import NeuralServiceIntegration
from swarmstore.training.options import IntegrationOptions
from swarmstore.training.resume import ResumeState, load_resume_state

log = logging.getLogger(__name__)


class TrainingAPI(FacadeBase):
    _integrations: weakref.WeakSet[NeuralServiceIntegration]

    def _attach_training(self) -> None:
        """Called once at the end of the manager's ``__init__``."""
        self._integrations = weakref.WeakSet()

    def _detach_training(self) -> None:
        """Wait for every integration's pending saves before the stores shut.

        A save that failed and was never reported is logged here: raising from
        ``close`` would leave the store half-closed. ``integration.flush()`` or
        ``close()`` before ``db.close()`` raises it instead.
        """
        for integration in list(getattr(self, "_integrations", ())):
            try:
                integration.close()
            except Exception:
                log.exception("a training checkpoint failed while the store was closing")

    def integrate_with_neural_service(
        self,
        swarm_id: str,
        agent_id: str,
        options: IntegrationOptions | Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> NeuralServiceIntegration:
        """Training-loop callbacks that checkpoint into this store and record the experiment.

        ``options`` (camelCase or snake_case keys, or keyword overrides):
        ``enableAutoCheckpointing``, ``checkpointInterval`` with
        ``checkpointUnit`` ('epoch'/'step'), ``enableModelVersioning``,
        ``versionFormat``, ``incremental``, ``retention`` ({keepLast, keepBest,
        metric, mode, keepEvery}), ``resourceMonitoring``, ``asyncSave``,
        ``maxPendingSaves``, ``modelId``, ``datasets``. Fires
        ``neural_service_integrated``. Raises ``InvalidRecordError`` on bad options.
        """
        self._live()
        validate_id("swarm_id", swarm_id)
        validate_id("agent_id", agent_id)
        parsed = _parse_options(options, overrides)
        integration = NeuralServiceIntegration(self, swarm_id, agent_id, parsed)  # type: ignore[arg-type]
        self._integrations.add(integration)
        announce(
            self._meta,
            self._events,
            NEURAL_SERVICE_INTEGRATED,
            swarm_id,
            {
                "agent_id": agent_id,
                "model_id": parsed.model_id,
                "options": parsed.model_dump(mode="json", by_alias=True),
            },
        )
        return integration

    def resume(
        self,
        swarm_id: str,
        experiment_or_model: str,
        which: str = "latest",
        *,
        metric: str | None = None,
        mode: str | None = None,
    ) -> ResumeState:
        """Weights plus optimizer, scheduler and RNG state, epoch and step of a checkpoint.

        ``experiment_or_model`` is a model id or a training experiment id;
        ``which`` is 'latest', 'best' (by ``metric``/``mode``, default the
        run's retention metric) or a version name. ``ResumeState.apply(model,
        optimizer, scheduler)`` loads it all. Raises ``ModelNotFoundError``.
        """
        self._live()
        validate_id("swarm_id", swarm_id)
        validate_id("experiment or model id", experiment_or_model)
        if not isinstance(which, str) or not which:
            raise InvalidRecordError("which must be 'latest', 'best' or a version name")
        experiment = None
        if not model_exists(self._meta, swarm_id, experiment_or_model):
            experiment = self._experiment_or_none(swarm_id, experiment_or_model)
        return load_resume_state(
            self,  # type: ignore[arg-type]
            swarm_id,
            experiment_or_model,
            which,
            metric=metric,
            mode=mode,
            experiment=experiment,
        )

    def _experiment_or_none(self, swarm_id: str, experiment_id: str) -> Any:
        getter = getattr(self, "get_training_experiment", None)
        if getter is None:
            return None
        try:
            return getter(swarm_id, experiment_id)
        except NotFoundError:
            return None


def _parse_options(
    options: IntegrationOptions | Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> IntegrationOptions:
    if isinstance(options, IntegrationOptions) and not overrides:
        return options
    if isinstance(options, IntegrationOptions):
        given: dict[str, Any] = options.model_dump(by_alias=False, exclude_unset=True)
    elif options is None:
        given = {}
    elif isinstance(options, Mapping):
        given = dict(options)
    else:
        raise InvalidRecordError(
            f"options must be a mapping or IntegrationOptions, not {type(options).__name__}"
        )
    try:
        return IntegrationOptions.model_validate({**given, **overrides})
    except ValidationError as exc:
        raise InvalidRecordError(f"invalid integration options: {exc}") from None
