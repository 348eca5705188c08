"""swarmstore: an embedded database for the whole life of a neural model."""

from swarmstore.config import StoreConfig
from swarmstore.errors import (
    CodecError,
    CorruptDataError,
    InvalidIdentifierError,
    InvalidRecordError,
    ModelNotFoundError,
    NotFoundError,
    StoreClosedError,
    StoreLockedError,
    SwarmStoreError,
    UnknownCodecError,
    UnsupportedDtypeError,
    VersionExistsError,
)
from swarmstore.manager import SwarmDatabaseManager
from swarmstore.records.model import ModelVersionInfo, NeuralModelMetadata, NeuralModelRecord

__all__ = [
    "CodecError",
    "CorruptDataError",
    "InvalidIdentifierError",
    "InvalidRecordError",
    "ModelNotFoundError",
    "ModelVersionInfo",
    "NeuralModelMetadata",
    "NeuralModelRecord",
    "NotFoundError",
    "StoreClosedError",
    "StoreConfig",
    "StoreLockedError",
    "SwarmDatabaseManager",
    "SwarmStoreError",
    "UnknownCodecError",
    "UnsupportedDtypeError",
    "VersionExistsError",
]
__version__ = "0.1.0"
