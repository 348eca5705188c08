"""Pure helpers shared by the registry and deployment services: stage order,
the derived stage of an entry, and row-to-record conversions.

The SQL they pair with (entry lookups, approvals, the audit writer) lives in
``swarmstore.registry.queries``.
"""

from __future__ import annotations

from swarmstore.meta.tables_registry import AuditRow, RegistryEntryRow
from swarmstore.records.registry import AuditEntry, ModelRegistryEntry

STAGE_ORDER = ("registered", "development", "staging", "production")


def entry_record(row: RegistryEntryRow) -> ModelRegistryEntry:
    return ModelRegistryEntry.model_validate(row.record)


def derived_stage(stages: list[str], default: str) -> str:
    """The entry's stage: the most advanced stage of its live versions;
    ``archived`` only when every version is archived."""
    if not stages:
        return default
    live = [s for s in stages if s != "archived"]
    if not live:
        return "archived"
    return max(live, key=STAGE_ORDER.index)


def audit_record(row: AuditRow) -> AuditEntry:
    return AuditEntry.model_validate(
        {
            "seq": row.seq,
            "swarmId": row.swarm_id,
            "modelId": row.model_id,
            "registryId": row.registry_id,
            "version": row.version,
            "action": row.action,
            "who": row.who,
            "when": row.at,
            "from": row.from_value,
            "to": row.to_value,
            "why": row.why,
            "approvers": list(row.details.get("approvers", [])),
            "details": row.details,
        }
    )
