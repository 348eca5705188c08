"""Training-loop integration: callbacks, auto-checkpointing, retention, resume.

The manager is the training integration's store: this mixin implements the
``TrainingPort`` methods the manager does not already have, and declares the
ones it relies on (models, experiments), so ``NeuralServiceIntegration`` and
``load_resume_state`` get ``self`` as a typed port.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from swarmstore.errors import InvalidRecordError, NotFoundError
from swarmstore.events import NEURAL_SERVICE_INTEGRATED
from swarmstore.facade.base import FacadeBase
from swarmstore.ids import validate_id
from swarmstore.models import queries as q
from swarmstore.training.catalog import CheckpointInfo, training_checkpoints
from swarmstore.training.integration import NeuralServiceIntegration
from swarmstore.training.options import IntegrationOptions
from swarmstore.training.resume import ResumeState, load_resume_state

if TYPE_CHECKING:
    from swarmstore.records.experiment import TrainingExperiment

log = logging.getLogger(__name__)


class TrainingAPI(FacadeBase):
    # None until _attach_training: close() after a failed open detaches training too
    _integrations: weakref.WeakSet[NeuralServiceIntegration] | None = None

    def _attach_training(self) -> None:
        """Called once at the end of the manager's ``__init__``."""
        self._integrations = weakref.WeakSet()

    def _detach_training(self) -> None:
        """Wait for every integration's pending saves before the stores shut.

        A save that failed and was never reported is logged here: raising from
        ``close`` would leave the store half-closed. ``integration.flush()`` or
        ``close()`` before ``db.close()`` raises it instead.
        """
        for integration in list(self._integrations or ()):
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
        ``maxPendingSaves``, ``modelId`` (else given to ``on_training_start``
        or the first ``on_model_save``), ``datasets``, ``incrementalLearning``
        (the seed's flag: recorded, otherwise ignored). The integration has an
        ``integration_id``; fires ``neural_service_integrated`` with it
        (``integrationId``). Raises ``InvalidRecordError`` on bad options.
        """
        self._live()
        validate_id("swarm_id", swarm_id)
        validate_id("agent_id", agent_id)
        parsed = _parse_options(options, overrides)
        integration = NeuralServiceIntegration(self, swarm_id, agent_id, parsed)
        assert self._integrations is not None  # attached in the manager's __init__
        self._integrations.add(integration)
        self.announce_training_event(
            NEURAL_SERVICE_INTEGRATED,
            swarm_id,
            {
                "agent_id": agent_id,
                "integration_id": integration.integration_id,
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
        if not self._model_exists(swarm_id, experiment_or_model):
            experiment = self._experiment_or_none(swarm_id, experiment_or_model)
        return load_resume_state(
            self,
            swarm_id,
            experiment_or_model,
            which,
            metric=metric,
            mode=mode,
            experiment=experiment,
        )

    # -- the training port ----------------------------------------------------

    def require_model_version(self, swarm_id: str, model_id: str, version: str) -> None:
        """``ModelNotFoundError`` unless the version is stored (reads no tensors)."""
        self._live()
        self._models.locate(swarm_id, model_id, version)

    def training_checkpoints(self, swarm_id: str, model_id: str) -> list[CheckpointInfo]:
        """Live versions of a model that a training integration wrote, oldest first
        (from their metadata: no tensor is read)."""
        self._live()
        with self._meta.read() as session:
            model = q.find_model(session, swarm_id, model_id)
            if model is None:
                return []
            rows = [
                (r.version, r.seq, dict(r.meta or {})) for r in q.list_versions(session, model.pk)
            ]
        return training_checkpoints(rows)

    def announce_training_event(self, name: str, swarm_id: str, payload: dict[str, Any]) -> None:
        """Commit a training event to the log, then fire it (after the commit, as every event)."""
        self._live()
        event = {"swarm_id": swarm_id, **payload}
        with self._meta.unit_of_work(self._events) as uow:
            uow.publish(name, event, swarm_id=swarm_id)

    def _model_exists(self, swarm_id: str, model_id: str) -> bool:
        with self._meta.read() as session:
            return q.find_model(session, swarm_id, model_id) is not None

    def _experiment_or_none(self, swarm_id: str, experiment_id: str) -> TrainingExperiment | None:
        try:
            return self.get_training_experiment(swarm_id, experiment_id)
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
