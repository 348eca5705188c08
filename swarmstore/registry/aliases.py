"""Aliases (``production``, ``champion`` -> a version of a registered model) and
the audit trail's reader.

Moving an alias is a governed change like a stage move: it is audited (from
the old version to the new) in the same transaction, and fires
``model_alias_set`` after commit. Aliases are not gated by approvals; the
stage of a version is what governance controls.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from swarmstore.errors import AliasNotFoundError
from swarmstore.events import MODEL_ALIAS_SET, EventBus
from swarmstore.ids import validate_id
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.log import append_event, append_outbox
from swarmstore.meta.tables import VersionRow
from swarmstore.meta.tables_registry import AuditRow, ModelAliasRow
from swarmstore.models import queries as q
from swarmstore.records.base import utc_now
from swarmstore.records.registry import AuditEntry
from swarmstore.registry import common as c
from swarmstore.registry.service import TOPIC


class AliasService:
    def __init__(self, meta: MetaStore, events: EventBus) -> None:
        self.meta = meta
        self.events = events

    # -- aliases ----------------------------------------------------------------

    def set_alias(
        self,
        swarm_id: str,
        model_id: str,
        alias: str,
        version: str,
        *,
        actor: str,
        reason: str = "",
    ) -> dict[str, Any]:
        validate_id("swarm_id", swarm_id)
        validate_id("model id", model_id)
        validate_id("version", version)
        validate_id("alias", alias)
        validate_id("actor", actor)
        now = utc_now()
        with self.meta.write() as session:
            model = q.require_model(session, swarm_id, model_id)
            target = q.require_version(session, model, version)
            entry = c.require_entry(session, model)
            row = session.scalar(
                select(ModelAliasRow).where(
                    ModelAliasRow.model_pk == model.pk, ModelAliasRow.alias == alias
                )
            )
            previous = None
            if row is None:
                session.add(
                    ModelAliasRow(
                        model_pk=model.pk,
                        alias=alias,
                        version_pk=target.pk,
                        updated_by=actor,
                        updated=now,
                    )
                )
            else:
                old = session.get(VersionRow, row.version_pk)
                previous = old.version if old is not None else None
                row.version_pk, row.updated_by, row.updated = target.pk, actor, now
            c.append_audit(
                session,
                swarm_id=swarm_id,
                model_id=model_id,
                registry_id=entry.registry_id,
                version=version,
                action="alias_set",
                who=actor,
                at=now,
                from_value=previous,
                to_value=version,
                why=reason,
                details={"alias": alias},
            )
            event = {
                "swarm_id": swarm_id,
                "registry_id": entry.registry_id,
                "model_id": model_id,
                "alias": alias,
                "version": version,
                "previous": previous,
            }
            append_event(session, MODEL_ALIAS_SET, swarm_id, event, now)
            append_outbox(session, TOPIC, f"{swarm_id}/{entry.registry_id}", event, now)
        self.events.emit(MODEL_ALIAS_SET, event)
        return event

    def resolve_alias(self, swarm_id: str, model_id: str, alias: str) -> str:
        validate_id("swarm_id", swarm_id)
        validate_id("model id", model_id)
        validate_id("alias", alias)
        with self.meta.read() as session:
            model = q.require_model(session, swarm_id, model_id)
            version = session.scalar(
                select(VersionRow.version)
                .join(ModelAliasRow, ModelAliasRow.version_pk == VersionRow.pk)
                .where(ModelAliasRow.model_pk == model.pk, ModelAliasRow.alias == alias)
            )
        if version is None:
            raise AliasNotFoundError(
                f"model {model_id!r} in swarm {swarm_id!r} has no alias {alias!r}",
                swarm_id=swarm_id,
                model_id=model_id,
                alias=alias,
            )
        return version

    def aliases(self, swarm_id: str, model_id: str) -> dict[str, str]:
        validate_id("swarm_id", swarm_id)
        validate_id("model id", model_id)
        with self.meta.read() as session:
            model = q.require_model(session, swarm_id, model_id)
            rows = session.execute(
                select(ModelAliasRow.alias, VersionRow.version)
                .join(VersionRow, ModelAliasRow.version_pk == VersionRow.pk)
                .where(ModelAliasRow.model_pk == model.pk)
                .order_by(ModelAliasRow.alias)
            ).all()
        return {alias: version for alias, version in rows}

    # -- audit ------------------------------------------------------------------

    def audit_trail(
        self, swarm_id: str, model_id: str | None = None, *, limit: int | None = None
    ) -> list[AuditEntry]:
        validate_id("swarm_id", swarm_id)
        query = select(AuditRow).where(AuditRow.swarm_id == swarm_id).order_by(AuditRow.seq)
        if model_id is not None:
            validate_id("model id", model_id)
            query = query.where(AuditRow.model_id == model_id)
        if limit is not None:
            query = query.limit(limit)
        with self.meta.read() as session:
            return [c.audit_record(r) for r in session.scalars(query)]
