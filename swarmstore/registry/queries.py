"""Queries of the registry aggregate: entries, their versions, approvals, aliases, audit.

Every function runs inside the caller's session (one unit of work for the
writers), so a typed error raised here rolls back everything the caller wrote
before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from swarmstore.errors import RegistryEntryNotFoundError
from swarmstore.meta.tables import ModelRow, VersionRow
from swarmstore.meta.tables_registry import (
    ApprovalRow,
    AuditRow,
    DeploymentRow,
    ModelAliasRow,
    RegistryEntryRow,
    RegistryVersionRow,
)
from swarmstore.records.registry import Approval

# -- entries ------------------------------------------------------------------


def find_entry(session: Session, swarm_id: str, registry_id: str) -> RegistryEntryRow | None:
    return session.scalar(
        select(RegistryEntryRow).where(
            RegistryEntryRow.swarm_id == swarm_id, RegistryEntryRow.registry_id == registry_id
        )
    )


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


def registry_id_of(session: Session, model: ModelRow) -> str | None:
    """The id of the entry governing ``model``; None when it is not registered."""
    entry = entry_of_model(session, model)
    return entry.registry_id if entry is not None else None


def add_entry(
    session: Session, *, swarm_id: str, registry_id: str, model_pk: int, created: datetime
) -> RegistryEntryRow:
    """A new entry row in the session; the caller fills its columns before the flush."""
    row = RegistryEntryRow(
        swarm_id=swarm_id, registry_id=registry_id, model_pk=model_pk, created=created
    )
    session.add(row)
    return row


def sync_entry_versions(
    session: Session,
    row: RegistryEntryRow,
    model_pk: int,
    versions: list[str],
    refs: Mapping[str, str],
    stages: Mapping[str, str],
    now: datetime,
) -> None:
    """Make the entry's version rows list exactly ``versions`` with their ``stages``.

    ``refs`` maps a version to the reference the entry named it by.
    """
    session.flush()
    pks = dict(
        session.execute(
            select(VersionRow.version, VersionRow.pk).where(
                VersionRow.model_pk == model_pk, VersionRow.version.in_(versions or [""])
            )
        ).all()
    )
    existing = {
        r.version_pk: r
        for r in session.scalars(
            select(RegistryVersionRow).where(RegistryVersionRow.entry_pk == row.pk)
        )
    }
    keep = {pks[v] for v in versions}
    for pk in set(existing) - keep:
        session.execute(delete(RegistryVersionRow).where(RegistryVersionRow.pk == existing[pk].pk))
    for version in versions:
        current = existing.get(pks[version])
        if current is None:
            session.add(
                RegistryVersionRow(
                    entry_pk=row.pk,
                    version_pk=pks[version],
                    ref=refs.get(version, version),
                    stage=stages[version],
                    updated=now,
                )
            )
        elif current.stage != stages[version]:
            current.stage = stages[version]
            current.updated = now


def set_version_stage(
    session: Session, entry: RegistryEntryRow, version: str, stage: str, now: datetime
) -> None:
    """Record ``stage`` on the entry's row for ``version`` (if it has one)."""
    regver = session.scalar(
        select(RegistryVersionRow)
        .join(VersionRow, VersionRow.pk == RegistryVersionRow.version_pk)
        .where(RegistryVersionRow.entry_pk == entry.pk, VersionRow.version == version)
    )
    if regver is not None:
        regver.stage = stage
        regver.updated = now


# -- approvals ----------------------------------------------------------------


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


def add_approval(
    session: Session,
    entry: RegistryEntryRow,
    *,
    version: str,
    stage: str,
    environment: str | None,
    approver: str,
    decision: str,
    comment: str,
    at: datetime,
) -> None:
    session.add(
        ApprovalRow(
            entry_pk=entry.pk,
            version=version,
            stage=stage,
            environment=environment,
            approver=approver,
            decision=decision,
            comment=comment,
            decided_at=at,
        )
    )


# -- aliases ------------------------------------------------------------------


def put_alias(
    session: Session, model_pk: int, alias: str, version_pk: int, *, who: str, now: datetime
) -> str | None:
    """Point ``alias`` at ``version_pk``; returns the version it named before (None: new)."""
    row = session.scalar(
        select(ModelAliasRow).where(
            ModelAliasRow.model_pk == model_pk, ModelAliasRow.alias == alias
        )
    )
    if row is None:
        session.add(
            ModelAliasRow(
                model_pk=model_pk, alias=alias, version_pk=version_pk, updated_by=who, updated=now
            )
        )
        return None
    old = session.get(VersionRow, row.version_pk)
    row.version_pk, row.updated_by, row.updated = version_pk, who, now
    return old.version if old is not None else None


def alias_version(session: Session, model_pk: int, alias: str) -> str | None:
    return session.scalar(
        select(VersionRow.version)
        .join(ModelAliasRow, ModelAliasRow.version_pk == VersionRow.pk)
        .where(ModelAliasRow.model_pk == model_pk, ModelAliasRow.alias == alias)
    )


def aliases_of(session: Session, model_pk: int) -> dict[str, str]:
    rows = session.execute(
        select(ModelAliasRow.alias, VersionRow.version)
        .join(VersionRow, ModelAliasRow.version_pk == VersionRow.pk)
        .where(ModelAliasRow.model_pk == model_pk)
        .order_by(ModelAliasRow.alias)
    ).all()
    return {alias: version for alias, version in rows}


# -- audit --------------------------------------------------------------------


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


def audit_rows(
    session: Session, swarm_id: str, model_id: str | None = None, *, limit: int | None = None
) -> list[AuditRow]:
    """The swarm's audit rows (of one model when given), oldest first."""
    query = select(AuditRow).where(AuditRow.swarm_id == swarm_id).order_by(AuditRow.seq)
    if model_id is not None:
        query = query.where(AuditRow.model_id == model_id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


# -- deletion guard -----------------------------------------------------------


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
