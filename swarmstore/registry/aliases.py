"""Aliases (``production``, ``champion`` -> a version of a registered model) and
the audit trail's reader.

Moving an alias is a governed change like a stage move: it is audited (from
the old version to the new) in the same transaction, and fires
``model_alias_set`` after commit. Aliases are not gated by approvals; the
stage of a version is what governance controls.
"""

from __future__ import annotations

from typing import Any

from swarmstore.errors import AliasNotFoundError
from swarmstore.events import MODEL_ALIAS_SET, EventBus
from swarmstore.ids import validate_id
from swarmstore.meta.engine import MetaStore
from swarmstore.models import queries as q
from swarmstore.records.registry import AuditEntry
from swarmstore.registry import common as c
from swarmstore.registry import queries as rq
from swarmstore.registry.service import entry_index


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
        with self.meta.unit_of_work(self.events) as uow:
            session, now = uow.session, uow.now
            model = q.require_model(session, swarm_id, model_id)
            target = q.require_version(session, model, version)
            entry = rq.require_entry(session, model)
            previous = rq.put_alias(session, model.pk, alias, target.pk, who=actor, now=now)
            rq.append_audit(
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
            uow.publish(
                MODEL_ALIAS_SET,
                event,
                swarm_id=swarm_id,
                index=entry_index(swarm_id, entry.registry_id),
            )
        return event

    def resolve_alias(self, swarm_id: str, model_id: str, alias: str) -> str:
        validate_id("swarm_id", swarm_id)
        validate_id("model id", model_id)
        validate_id("alias", alias)
        with self.meta.read() as session:
            model = q.require_model(session, swarm_id, model_id)
            version = rq.alias_version(session, model.pk, alias)
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
            return rq.aliases_of(session, model.pk)

    # -- audit ------------------------------------------------------------------

    def audit_trail(
        self, swarm_id: str, model_id: str | None = None, *, limit: int | None = None
    ) -> list[AuditEntry]:
        validate_id("swarm_id", swarm_id)
        if model_id is not None:
            validate_id("model id", model_id)
        with self.meta.read() as session:
            rows = rq.audit_rows(session, swarm_id, model_id, limit=limit)
            return [c.audit_record(r) for r in rows]
