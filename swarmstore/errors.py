"""Typed errors. Every error is a ``SwarmStoreError``; many are also a built-in
(``KeyError``, ``ValueError``, ...) so callers can catch what they already know.

Fields name the objects involved (swarm, model, version, tensor) so messages
and handlers never have to parse strings.
"""

from __future__ import annotations


class SwarmStoreError(Exception):
    """Base of every error swarmstore raises on purpose."""


class NotFoundError(SwarmStoreError, KeyError):
    """A swarm, model, version or other record does not exist."""

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)

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
