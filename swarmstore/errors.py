"""Typed errors. Every error is a ``SwarmStoreError``; many are also a built-in
(``KeyError``, ``ValueError``, ...) so callers can catch what they already know.

Fields name the objects involved (swarm, model, version, tensor) so messages
and handlers never have to parse strings.
"""

from __future__ import annotations

from collections.abc import Sequence


class SwarmStoreError(Exception):
    """Base of every error swarmstore raises on purpose."""


def _set_fields(error: Exception, fields: dict[str, object]) -> None:
    """Keep what the error names (swarm_id, model_id, ...) as attributes and in ``fields``."""
    error.fields = fields  # type: ignore[attr-defined]
    for key, value in fields.items():
        setattr(error, key, value)


class NotFoundError(SwarmStoreError, KeyError):
    """A swarm, model, version or other record does not exist."""

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        _set_fields(self, fields)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class ModelNotFoundError(NotFoundError):
    """No model, or no such version of a model."""


class VersionExistsError(SwarmStoreError, ValueError):
    """A version with this name is already stored for the model."""

    def __init__(self, swarm_id: str, model_id: str, version: str) -> None:
        super().__init__(
            f"model {model_id!r} in swarm {swarm_id!r} already has version {version!r}"
        )
        self.swarm_id, self.model_id, self.version = swarm_id, model_id, version


class InvalidRecordError(SwarmStoreError, ValueError):
    """A record or argument is malformed; nothing was written."""


class InvalidFieldError(InvalidRecordError):
    """A named field of a record is invalid. ``field`` is its dotted camelCase path
    (``"metrics.trainingHistory.3.trainingLoss"``); ``errors`` lists every problem
    pydantic found, as ``(field, message)`` pairs."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = list(errors)


class InvalidIdentifierError(InvalidRecordError):
    """An id is empty, too long, or has path separators or control characters."""


class UnsupportedDtypeError(InvalidRecordError, TypeError):
    """A tensor's dtype cannot be stored bit-exactly."""


class CorruptDataError(SwarmStoreError, IOError):
    """Stored bytes fail verification (hash mismatch, truncated or missing blob)."""

    def __init__(
        self,
        message: str,
        *,
        swarm_id: str | None = None,
        model_id: str | None = None,
        version: str | None = None,
        tensor: str | None = None,
        blob: str | None = None,
    ) -> None:
        super().__init__(message)
        self.swarm_id, self.model_id, self.version = swarm_id, model_id, version
        self.tensor, self.blob = tensor, blob


class CodecError(SwarmStoreError, ValueError):
    """A frame cannot be decoded (malformed header, wrong length)."""


class UnknownCodecError(CodecError):
    """A frame names a codec this version of swarmstore does not know."""

    def __init__(self, codec_id: str) -> None:
        super().__init__(f"unknown codec {codec_id!r}: written by a newer swarmstore?")
        self.codec_id = codec_id


class StoreClosedError(SwarmStoreError, RuntimeError):
    """The manager was used after ``close()``."""


class StoreLockedError(SwarmStoreError, TimeoutError):
    """A lock on the store could not be taken in time."""


# -- registry, deployments, analytics ------------------------------------------


class RegistryEntryNotFoundError(NotFoundError):
    """No registry entry governs the model (or no entry has this id)."""


class AliasNotFoundError(NotFoundError):
    """A model has no alias of this name."""


class DeploymentNotFoundError(NotFoundError):
    """No deployment has this id in the swarm."""


class NotAnApproverError(SwarmStoreError, PermissionError):
    """Someone not listed in the entry's ``governance.approvers`` tried to approve."""

    def __init__(self, registry_id: str, approver: str, approvers: list[str]) -> None:
        super().__init__(
            f"{approver!r} is not an approver of registry entry {registry_id!r} "
            f"(approvers: {', '.join(approvers) or 'none'})"
        )
        self.registry_id, self.approver, self.approvers = registry_id, approver, approvers


class DeploymentNotApprovedError(SwarmStoreError, PermissionError):
    """Governance refuses a deployment: the environment is gated and the version
    lacks approvals, has failing checks, is not registered, or the environment
    is not one the entry allows."""

    def __init__(
        self,
        message: str,
        *,
        swarm_id: str,
        model_id: str,
        version: str,
        environment: str,
        missing_approvers: list[str] | None = None,
        blocking_checks: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.swarm_id, self.model_id, self.version = swarm_id, model_id, version
        self.environment = environment
        self.missing_approvers = list(missing_approvers or [])
        self.blocking_checks = list(blocking_checks or [])


class NoRollbackTargetError(InvalidRecordError):
    """A rollback has no earlier version in that environment to go back to."""


class InvalidQueryError(InvalidRecordError):
    """A query's filter, order or export target is malformed; ``field`` names the part."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# -- derived indexes and lineage -----------------------------------------------


class IndexUnavailableError(SwarmStoreError, RuntimeError):
    """The lineage graph or vector index cannot serve: the ``index`` extra is not
    installed, or another process held the index lock past the timeout."""


class LineageNodeNotFoundError(NotFoundError):
    """A lineage query names a model, version or dataset the lineage does not know."""


# -- model versions (lead) -----------------------------------------------------


class VersionInUseError(SwarmStoreError, ValueError):
    """A version cannot be deleted: a registry entry, alias or deployment still names it."""

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        _set_fields(self, fields)


# -- training integration ------------------------------------------------------


class CheckpointSaveError(SwarmStoreError, IOError):
    """A training checkpoint could not be written (store full or read-only, bad
    state, ...). Raised by the callback after the failed save (at once when
    saving in the foreground, at the next callback, ``flush`` or ``close`` when
    saving in the background); the original error is ``__cause__``."""

    def __init__(
        self,
        message: str,
        *,
        swarm_id: str | None = None,
        model_id: str | None = None,
        version: str | None = None,
    ) -> None:
        super().__init__(message)
        self.swarm_id, self.model_id, self.version = swarm_id, model_id, version


class CallbackOrderError(SwarmStoreError, RuntimeError):
    """A training callback came out of order (an epoch before training started,
    an epoch number that does not increase, a callback after training ended).
    Nothing was written."""


# -- datasets and experiments --------------------------------------------------


class DatasetNotFoundError(NotFoundError):
    """No dataset, or no such version of a dataset, in the swarm."""


class ExperimentNotFoundError(NotFoundError):
    """No experiment has this id in the swarm."""


class DatasetVersionExistsError(SwarmStoreError, ValueError):
    """A dataset already has a version of this name (versions are immutable)."""

    def __init__(self, swarm_id: str, dataset_id: str, version: str) -> None:
        super().__init__(
            f"dataset {dataset_id!r} in swarm {swarm_id!r} already has version {version!r}"
        )
        self.swarm_id, self.dataset_id, self.version = swarm_id, dataset_id, version


class ExperimentExistsError(SwarmStoreError, ValueError):
    """``start_experiment`` was given the id of a stored experiment (pass ``resume=True``)."""

    def __init__(self, swarm_id: str, experiment_id: str) -> None:
        super().__init__(f"experiment {experiment_id!r} already exists in swarm {swarm_id!r}")
        self.swarm_id, self.experiment_id = swarm_id, experiment_id


class ExperimentFinishedError(SwarmStoreError, RuntimeError):
    """A streaming run was used after ``finish``; nothing was logged."""

    def __init__(self, swarm_id: str, experiment_id: str, status: str) -> None:
        super().__init__(
            f"experiment run {experiment_id!r} in swarm {swarm_id!r} is finished ({status})"
        )
        self.swarm_id, self.experiment_id, self.status = swarm_id, experiment_id, status


# -- opening a store ------------------------------------------------------------


class StoreNotFoundError(SwarmStoreError, FileNotFoundError):
    """``open`` in mode ``"rw"`` or ``"ro"`` (or the default, for a non-empty
    directory) found no store there; nothing was created. ``path`` names it."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.message, self.path = message, path

    def __str__(self) -> str:  # OSError would format (errno, strerror)
        return self.message


class ReadOnlyStoreError(SwarmStoreError, PermissionError):
    """A write on a store opened with ``mode="ro"``; nothing was written."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "the store is open read-only"


class StoreVersionError(SwarmStoreError):
    """The store's schema or format is not the one this swarmstore reads: written
    by a newer swarmstore (``store_revision`` unknown here, or ``store_format``
    above ``known_format``), or older and opened ``"ro"`` (run
    ``swarmstore migrate STORE``). Nothing was changed."""

    def __init__(
        self,
        message: str,
        *,
        store_revision: str | None,
        known_revision: str,
        store_format: int | None = None,
        known_format: int | None = None,
    ) -> None:
        super().__init__(message)
        self.store_revision, self.known_revision = store_revision, known_revision
        self.store_format, self.known_format = store_format, known_format


class BackendUnavailableError(SwarmStoreError, ConnectionError):
    """The metadata database or the object store cannot be reached or refused us.

    ``backend`` is ``"metadata database"`` or ``"object store"``; ``url`` names
    it (without credentials) and ``reason`` says why. Raised at ``open`` within
    about ``connect_timeout_seconds``, and by a save whose blobs could not be
    written (nothing is committed then).
    """

    def __init__(self, backend: str, url: str, reason: str) -> None:
        super().__init__(f"{backend} {url} is unavailable: {reason}")
        self.backend, self.url, self.reason = backend, url, reason
