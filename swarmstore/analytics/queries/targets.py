"""What can be queried and exported: one ``Target`` per table-shaped result.

A target is a SELECT of labelled (camelCase) columns, the ``Catalog`` of
fields its filters may name, its swarm column and default order. The labelled
columns' SQL types decide the Arrow schema (``swarmstore.analytics.queries.schema``).
Training targets (experiments, metrics, datasets) are added by
``swarmstore.analytics.queries.training`` from the training tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select

from swarmstore.analytics.queries.filters import Catalog
from swarmstore.meta.tables import ModelRow, VersionRow
from swarmstore.meta.tables_registry import AuditRow, DeploymentRow, RegistryEntryRow

if TYPE_CHECKING:
    AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Target:
    name: str
    build: Callable[[], AnySelect]
    catalog: Catalog
    swarm_column: Any
    default_order: tuple[Any, ...]
    json_columns: frozenset[str] = frozenset()
    #: reshapes the fetched rows (e.g. restores NaN, flattens a JSON list)
    finish: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    #: fetched columns ``finish`` consumes; not exported
    hidden_columns: frozenset[str] = frozenset()
    #: (name, arrow type name) of the rows ``finish`` makes, when it changes their shape
    row_schema: tuple[tuple[str, str], ...] | None = None


def _version_select() -> AnySelect:
    return (
        select(
            ModelRow.swarm_id.label("swarmId"),
            ModelRow.model_id.label("modelId"),
            VersionRow.version.label("version"),
            VersionRow.seq.label("seq"),
            VersionRow.agent_id.label("agentId"),
            VersionRow.model_name.label("modelName"),
            VersionRow.architecture.label("architecture"),
            VersionRow.meta["accuracy"].as_float().label("accuracy"),
            VersionRow.meta["loss"].as_float().label("loss"),
            VersionRow.hyperparameters.label("hyperparameters"),
            VersionRow.meta.label("metadata"),
            VersionRow.tags.label("tags"),
            VersionRow.checkpoint_type.label("checkpointType"),
            VersionRow.compression_type.label("compressionType"),
            VersionRow.model_size.label("modelSize"),
            VersionRow.stored_size.label("storedSize"),
            VersionRow.tensor_count.label("tensorCount"),
            VersionRow.created.label("created"),
        )
        .join(ModelRow, ModelRow.pk == VersionRow.model_pk)
        .where(VersionRow.hidden.is_(False))
    )


MODEL_VERSIONS = Target(
    name="model_versions",
    build=_version_select,
    catalog=Catalog(
        columns={
            "swarmId": ModelRow.swarm_id,
            "modelId": ModelRow.model_id,
            "version": VersionRow.version,
            "seq": VersionRow.seq,
            "agentId": VersionRow.agent_id,
            "modelName": VersionRow.model_name,
            "architecture": VersionRow.architecture,
            "checkpointType": VersionRow.checkpoint_type,
            "compressionType": VersionRow.compression_type,
            "modelSize": VersionRow.model_size,
            "storedSize": VersionRow.stored_size,
            "tensorCount": VersionRow.tensor_count,
            "created": VersionRow.created,
        },
        json={"hyperparameters": VersionRow.hyperparameters, "metadata": VersionRow.meta},
        aliases={"accuracy": "metadata.accuracy", "loss": "metadata.loss"},
        tags=VersionRow.tags,
    ),
    swarm_column=ModelRow.swarm_id,
    default_order=(ModelRow.swarm_id, ModelRow.model_id, VersionRow.seq),
    json_columns=frozenset({"hyperparameters", "metadata", "tags"}),
)

DEPLOYMENTS = Target(
    name="deployments",
    build=lambda: select(
        DeploymentRow.swarm_id.label("swarmId"),
        DeploymentRow.deployment_id.label("deploymentId"),
        ModelRow.model_id.label("modelId"),
        DeploymentRow.version.label("version"),
        DeploymentRow.environment.label("environment"),
        DeploymentRow.status.label("status"),
        DeploymentRow.replaces.label("replaces"),
        DeploymentRow.deployed_by.label("deployedBy"),
        DeploymentRow.config.label("config"),
        DeploymentRow.monitoring.label("monitoring"),
        DeploymentRow.created.label("created"),
        DeploymentRow.updated.label("updated"),
    ).join(ModelRow, ModelRow.pk == DeploymentRow.model_pk),
    catalog=Catalog(
        columns={
            "swarmId": DeploymentRow.swarm_id,
            "deploymentId": DeploymentRow.deployment_id,
            "modelId": ModelRow.model_id,
            "version": DeploymentRow.version,
            "environment": DeploymentRow.environment,
            "status": DeploymentRow.status,
            "created": DeploymentRow.created,
            "updated": DeploymentRow.updated,
        },
        json={"config": DeploymentRow.config, "monitoring": DeploymentRow.monitoring},
    ),
    swarm_column=DeploymentRow.swarm_id,
    default_order=(DeploymentRow.pk,),
    json_columns=frozenset({"config", "monitoring"}),
)

REGISTRY = Target(
    name="registry",
    build=lambda: select(
        RegistryEntryRow.swarm_id.label("swarmId"),
        RegistryEntryRow.registry_id.label("registryId"),
        ModelRow.model_id.label("modelId"),
        RegistryEntryRow.name.label("name"),
        RegistryEntryRow.category.label("category"),
        RegistryEntryRow.use_case.label("useCase"),
        RegistryEntryRow.stage.label("stage"),
        RegistryEntryRow.owner.label("owner"),
        RegistryEntryRow.risk_level.label("riskLevel"),
        RegistryEntryRow.record.label("record"),
        RegistryEntryRow.created.label("created"),
        RegistryEntryRow.updated.label("updated"),
    ).join(ModelRow, ModelRow.pk == RegistryEntryRow.model_pk),
    catalog=Catalog(
        columns={
            "swarmId": RegistryEntryRow.swarm_id,
            "registryId": RegistryEntryRow.registry_id,
            "modelId": ModelRow.model_id,
            "name": RegistryEntryRow.name,
            "category": RegistryEntryRow.category,
            "useCase": RegistryEntryRow.use_case,
            "stage": RegistryEntryRow.stage,
            "owner": RegistryEntryRow.owner,
            "riskLevel": RegistryEntryRow.risk_level,
            "updated": RegistryEntryRow.updated,
        },
        json={"record": RegistryEntryRow.record},
    ),
    swarm_column=RegistryEntryRow.swarm_id,
    default_order=(RegistryEntryRow.pk,),
    json_columns=frozenset({"record"}),
)

AUDIT = Target(
    name="audit",
    build=lambda: select(
        AuditRow.seq.label("seq"),
        AuditRow.swarm_id.label("swarmId"),
        AuditRow.model_id.label("modelId"),
        AuditRow.registry_id.label("registryId"),
        AuditRow.version.label("version"),
        AuditRow.action.label("action"),
        AuditRow.who.label("who"),
        AuditRow.at.label("when"),
        AuditRow.from_value.label("from"),
        AuditRow.to_value.label("to"),
        AuditRow.why.label("why"),
        AuditRow.details.label("details"),
    ),
    catalog=Catalog(
        columns={
            "seq": AuditRow.seq,
            "swarmId": AuditRow.swarm_id,
            "modelId": AuditRow.model_id,
            "registryId": AuditRow.registry_id,
            "version": AuditRow.version,
            "action": AuditRow.action,
            "who": AuditRow.who,
            "when": AuditRow.at,
        },
        json={"details": AuditRow.details},
    ),
    swarm_column=AuditRow.swarm_id,
    default_order=(AuditRow.seq,),
    json_columns=frozenset({"details"}),
)

CORE_TARGETS: dict[str, Target] = {
    t.name: t for t in (MODEL_VERSIONS, DEPLOYMENTS, REGISTRY, AUDIT)
}
