"""What can be queried and exported: one ``Target`` per table-shaped result.

A target declares each of its fields once, as a ``Column``: the camelCase
label, the SQL expression, and how filters may name it. The SELECT of labelled
columns and the ``Catalog`` of fields its filters may name are both derived
from that one list; the labelled columns' SQL types decide the Arrow schema
(``swarmstore.analytics.queries.schema``). Training targets (experiments,
metrics, datasets) are added by ``swarmstore.analytics.queries.training``
from the training tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Select, select

from swarmstore.analytics.queries.filters import Catalog
from swarmstore.meta.tables import ModelRow, VersionRow
from swarmstore.meta.tables_registry import AuditRow, DeploymentRow, RegistryEntryRow

if TYPE_CHECKING:
    AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Column:
    """One field of a target: its label, its SQL expression and its roles."""

    name: str
    expr: Any
    #: how ``where``/``order_by`` may name it: as a plain column, as a JSON
    #: prefix (``name.<key>``), as the tags list, or not at all (``None``)
    filter_as: Literal["column", "json", "tags"] | None = "column"
    #: in the SELECT; ``False`` for a field only filters may name
    selected: bool = True


def _unchanged(stmt: AnySelect) -> AnySelect:
    return stmt


@dataclass(frozen=True)
class Target:
    name: str
    #: the fields, in SELECT order; the SELECT and the ``Catalog`` derive from them
    columns: tuple[Column, ...]
    default_order: tuple[Any, ...]
    #: adds the joins and fixed conditions to the SELECT of the selected columns
    source: Callable[[AnySelect], AnySelect] = _unchanged
    #: short field -> canonical field (``accuracy`` -> ``metadata.accuracy``)
    aliases: Mapping[str, str] = field(default_factory=dict)
    #: reshapes the fetched rows (e.g. restores NaN, flattens a JSON list)
    finish: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    #: fetched columns ``finish`` consumes; not exported
    hidden_columns: frozenset[str] = frozenset()
    #: (name, arrow type name) of the rows ``finish`` makes, when it changes their shape
    row_schema: tuple[tuple[str, str], ...] | None = None

    def build(self) -> AnySelect:
        return self.source(select(*(c.expr.label(c.name) for c in self.columns if c.selected)))

    @cached_property
    def catalog(self) -> Catalog:
        def of(role: str) -> dict[str, Any]:
            return {c.name: c.expr for c in self.columns if c.filter_as == role}

        tags = [c.expr for c in self.columns if c.filter_as == "tags"]
        return Catalog(
            columns=of("column"),
            json=of("json"),
            aliases=self.aliases,
            tags=tags[0] if tags else None,
        )

    @property
    def swarm_column(self) -> Any:
        return next(c.expr for c in self.columns if c.name == "swarmId")


MODEL_VERSIONS = Target(
    name="model_versions",
    columns=(
        Column("swarmId", ModelRow.swarm_id),
        Column("modelId", ModelRow.model_id),
        Column("version", VersionRow.version),
        Column("seq", VersionRow.seq),
        Column("agentId", VersionRow.agent_id),
        Column("modelName", VersionRow.model_name),
        Column("architecture", VersionRow.architecture),
        Column("accuracy", VersionRow.meta["accuracy"].as_float(), filter_as=None),
        Column("loss", VersionRow.meta["loss"].as_float(), filter_as=None),
        Column("hyperparameters", VersionRow.hyperparameters, filter_as="json"),
        Column("metadata", VersionRow.meta, filter_as="json"),
        Column("tags", VersionRow.tags, filter_as="tags"),
        Column("checkpointType", VersionRow.checkpoint_type),
        Column("compressionType", VersionRow.compression_type),
        Column("modelSize", VersionRow.model_size),
        Column("storedSize", VersionRow.stored_size),
        Column("tensorCount", VersionRow.tensor_count),
        Column("created", VersionRow.created),
    ),
    source=lambda s: s.join(ModelRow, ModelRow.pk == VersionRow.model_pk).where(
        VersionRow.hidden.is_(False)
    ),
    # the summary scores filter through their JSON path
    aliases={"accuracy": "metadata.accuracy", "loss": "metadata.loss"},
    default_order=(ModelRow.swarm_id, ModelRow.model_id, VersionRow.seq),
)

DEPLOYMENTS = Target(
    name="deployments",
    columns=(
        Column("swarmId", DeploymentRow.swarm_id),
        Column("deploymentId", DeploymentRow.deployment_id),
        Column("modelId", ModelRow.model_id),
        Column("version", DeploymentRow.version),
        Column("environment", DeploymentRow.environment),
        Column("status", DeploymentRow.status),
        Column("replaces", DeploymentRow.replaces, filter_as=None),
        Column("deployedBy", DeploymentRow.deployed_by, filter_as=None),
        Column("config", DeploymentRow.config, filter_as="json"),
        Column("monitoring", DeploymentRow.monitoring, filter_as="json"),
        Column("created", DeploymentRow.created),
        Column("updated", DeploymentRow.updated),
    ),
    source=lambda s: s.join(ModelRow, ModelRow.pk == DeploymentRow.model_pk),
    default_order=(DeploymentRow.pk,),
)

REGISTRY = Target(
    name="registry",
    columns=(
        Column("swarmId", RegistryEntryRow.swarm_id),
        Column("registryId", RegistryEntryRow.registry_id),
        Column("modelId", ModelRow.model_id),
        Column("name", RegistryEntryRow.name),
        Column("category", RegistryEntryRow.category),
        Column("useCase", RegistryEntryRow.use_case),
        Column("stage", RegistryEntryRow.stage),
        Column("owner", RegistryEntryRow.owner),
        Column("riskLevel", RegistryEntryRow.risk_level),
        Column("record", RegistryEntryRow.record, filter_as="json"),
        Column("created", RegistryEntryRow.created, filter_as=None),
        Column("updated", RegistryEntryRow.updated),
    ),
    source=lambda s: s.join(ModelRow, ModelRow.pk == RegistryEntryRow.model_pk),
    default_order=(RegistryEntryRow.pk,),
)

AUDIT = Target(
    name="audit",
    columns=(
        Column("seq", AuditRow.seq),
        Column("swarmId", AuditRow.swarm_id),
        Column("modelId", AuditRow.model_id),
        Column("registryId", AuditRow.registry_id),
        Column("version", AuditRow.version),
        Column("action", AuditRow.action),
        Column("who", AuditRow.who),
        Column("when", AuditRow.at),
        Column("from", AuditRow.from_value, filter_as=None),
        Column("to", AuditRow.to_value, filter_as=None),
        Column("why", AuditRow.why, filter_as=None),
        Column("details", AuditRow.details, filter_as="json"),
    ),
    default_order=(AuditRow.seq,),
)

CORE_TARGETS: dict[str, Target] = {
    t.name: t for t in (MODEL_VERSIONS, DEPLOYMENTS, REGISTRY, AUDIT)
}
