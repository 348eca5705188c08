"""The neural-model version record (the seed's ``NeuralModelRecord``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from swarmstore.records.base import OpenRecord, Record

CompressionType = Literal["none", "gzip", "lz4", "zstd", "swarm"]
CheckpointType = Literal["full", "incremental"]

# Tensors are not JSON: the schema documents them, serialization leaves them out.
TensorMap = Annotated[
    Any,
    WithJsonSchema(
        {
            "type": "object",
            "description": "tensor name -> tensor (torch.Tensor or numpy array); "
            "a flat buffer (bytes) is accepted on input and stored as tensor 'flat'",
            "additionalProperties": True,
        }
    ),
]


class NeuralModelMetadata(OpenRecord):
    """Training facts about a version; unknown keys (custom metrics) are kept."""

    created: datetime | None = None
    updated: datetime | None = None
    training_epochs: int | None = None
    accuracy: float | None = None
    loss: float | None = None
    model_size: int | None = Field(default=None, description="raw bytes of all tensors")
    stored_size: int | None = Field(
        default=None, description="bytes this version added to the blob store"
    )
    compression_type: CompressionType | None = None
    checkpoint_type: CheckpointType | None = None


class NeuralModelRecord(Record):
    """One stored version of a model. ``weights``/``biases`` hold tensors by name."""

    id: str
    agent_id: str = ""
    model_name: str = ""
    version: str
    architecture: str = ""
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    weights: TensorMap = Field(default_factory=dict, exclude=True)
    biases: TensorMap = Field(default_factory=dict, exclude=True)
    metadata: NeuralModelMetadata = Field(default_factory=NeuralModelMetadata)
    parent_version: str | None = None
    merged_from: list[str] = Field(
        default_factory=list,
        description="further parents of a merge: 'version' (same model) or 'model_id/version'",
    )
    tags: list[str] = Field(default_factory=list)
    state: TensorMap = Field(
        default_factory=dict,
        exclude=True,
        description="training state tensors (optimizer, scheduler) that ride along",
    )
    swarm_id: str | None = None


class ModelVersionInfo(Record):
    """A version as listed: everything but the tensors."""

    swarm_id: str
    id: str
    version: str
    parent_version: str | None = None
    created: datetime
    model_size: int
    stored_size: int
    tensor_count: int
    checkpoint_type: CheckpointType
    accuracy: float | None = None
    loss: float | None = None
    tags: list[str] = Field(default_factory=list)
