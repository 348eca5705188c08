"""swarmstore: an embedded database for the whole life of a neural model."""

from swarmstore.config import StoreConfig
from swarmstore.errors import (
    AliasNotFoundError,
    CodecError,
    CorruptDataError,
    DeploymentNotApprovedError,
    DeploymentNotFoundError,
    IndexUnavailableError,
    InvalidIdentifierError,
    InvalidQueryError,
    InvalidRecordError,
    LineageNodeNotFoundError,
    ModelNotFoundError,
    NoRollbackTargetError,
    NotAnApproverError,
    NotFoundError,
    RegistryEntryNotFoundError,
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
    "AliasNotFoundError",
    "CodecError",
    "CorruptDataError",
    "DeploymentNotApprovedError",
    "DeploymentNotFoundError",
    "IndexUnavailableError",
    "InvalidIdentifierError",
    "InvalidQueryError",
    "InvalidRecordError",
    "LineageNodeNotFoundError",
    "ModelNotFoundError",
    "ModelVersionInfo",
    "NeuralModelMetadata",
    "NeuralModelRecord",
    "NoRollbackTargetError",
    "NotAnApproverError",
    "NotFoundError",
    "RegistryEntryNotFoundError",
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
