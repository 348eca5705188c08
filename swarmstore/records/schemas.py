"""JSON Schema of every public record, written to ``schemas/`` and kept in
sync by a test. Regenerate with ``python -m swarmstore.records.schemas``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from swarmstore.records.analytics import ModelAnalytics
from swarmstore.records.dataset import DatasetVersionInfo, TrainingDataset
from swarmstore.records.deployment import ModelDeployment
from swarmstore.records.experiment import TrainingExperiment
from swarmstore.records.model import ModelVersionInfo, NeuralModelRecord
from swarmstore.records.registry import Approval, AuditEntry, ModelRegistryEntry
from swarmstore.records.training import IntegrationOptions

PUBLIC_RECORDS: tuple[type[BaseModel], ...] = (
    NeuralModelRecord,
    ModelVersionInfo,
    TrainingDataset,
    DatasetVersionInfo,
    TrainingExperiment,
    ModelRegistryEntry,
    Approval,
    AuditEntry,
    ModelDeployment,
    ModelAnalytics,
    IntegrationOptions,
)


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(by_alias=True)
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for model in PUBLIC_RECORDS:
        path = directory / f"{model.__name__}.json"
        path.write_text(render(model))
        written.append(path)
    return written


if __name__ == "__main__":
    target = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "schemas"
    )
    for p in write_all(target):
        print(p)
