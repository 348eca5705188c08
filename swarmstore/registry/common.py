"""Lookups and the audit writer shared by the registry and deployment services.

Every function runs inside the caller's session (one write transaction), so a
typed error raised here rolls back everything the caller wrote before it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from swarmstore.errors import RegistryEntryNotFoundError
from swarmstore.meta.tables import ModelRow
from swarmstore.meta.tables_registry import (
    ApprovalRow,
    AuditRow,
    DeploymentRow,
    ModelAliasRow,
    RegistryEntryRow,
    RegistryVersionRow,
)
from swarmstore.records.registry import Approval, AuditEntry, ModelRegistryEntry

STAGE_ORDER = ("registered", "development", "staging", "production")


def entry_of_model(session: Session, model: ModelRow) -> RegistryEntryRow | None:
    return session.scalar(select(RegistryEntryRow).where(RegistryEntryRow.model_pk == model.pk))


def require_entry(session: Session, model: ModelRow) -> RegistryEntryRow:
    row = entry_of_model(session, model)
    if row is None:
        raise RegistryEntryNotFoundError(
            f"model {model.model_id!r} in swarm {model.swarm_id!r} is not in the registry; "
            "register it with register_model_in_registry first",
            swarm_id=model.swarm_id,
            model_id=model.model_id,
        )
    return row


def entry_record(row: RegistryEntryRow) -> ModelRegistryEntry:
    return ModelRegistryEntry.model_validate(row.record)


def approvals_of(session: Session, entry: RegistryEntryRow) -> list[Approval]:
    rows = session.scalars(
        select(ApprovalRow).where(ApprovalRow.entry_pk == entry.pk).order_by(ApprovalRow.pk)
    )
    return [
        Approval(
            registry_id=entry.registry_id,
            stage=r.stage,  # type: ignore[arg-type]
            approver=r.approver,
            decision=r.decision,  # type: ignore[arg-type]
            version=r.version,
            decided_at=r.decided_at,
            comment=r.comment,
            environment=r.environment,
        )
        for r in rows
    ]


def derived_stage(stages: list[str], default: str) -> str:
    """The entry's stage: the most advanced stage of its live versions;
    ``archived`` only when every version is archived."""
    if not stages:
        return default
    live = [s for s in stages if s != "archived"]
    if not live:
        return "archived"
    return max(live, key=STAGE_ORDER.index)


def append_audit(
    session: Session,
    *,
    swarm_id: str,
    model_id: str,
    action: str,
    who: str,
    at: datetime,
    registry_id: str | None = None,
    version: str | None = None,
    from_value: str | None = None,
    to_value: str | None = None,
    why: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Insert one audit row; the table refuses UPDATE and DELETE (migration 0004)."""
    session.add(
        AuditRow(
            swarm_id=swarm_id,
            model_id=model_id,
            registry_id=registry_id,
            version=version,
            action=action,
            who=who,
            at=at,
            from_value=from_value,
            to_value=to_value,
            why=why,
            details=details or {},
        )
    )


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


def version_references(session: Session, version_pk: int) -> list[str]:
    """What in the registry or deployments still names a version (empty: nothing).

    For the deletion service: a version that is registered, aliased or deployed
    must not be purged (the foreign keys are RESTRICT)."""
    found: list[str] = []
    entries = session.scalars(
        select(RegistryEntryRow.registry_id)
        .join(RegistryVersionRow, RegistryVersionRow.entry_pk == RegistryEntryRow.pk)
        .where(RegistryVersionRow.version_pk == version_pk)
    )
    found += [f"registry entry {r!r}" for r in entries]
    aliases = session.scalars(
        select(ModelAliasRow.alias).where(ModelAliasRow.version_pk == version_pk)
    )
    found += [f"alias {a!r}" for a in aliases]
    deployments = session.scalars(
        select(DeploymentRow.deployment_id).where(DeploymentRow.version_pk == version_pk)
    )
    found += [f"deployment {d!r}" for d in deployments]
    return found
