"""The model registry: entries, per-version stages, approvals, aliases, audit trail.

Rules (the pure ones live in ``swarmstore.records.registry``):

- One entry governs one model; every version it lists must be stored, and so
  must ``lineage.parentModels`` (models or versions) and
  ``lineage.datasetLineage`` (``"id"`` or ``"id/version"``).
  Stored entries name versions canonically (``modelVersions: ["v1.0"]``).
- Each listed version has a stage; the entry's ``deployment.status`` is the
  most advanced of them (``archived`` when all are). A new entry may start its
  versions in any stage its policy does not gate; a gated stage (production by
  default) is reached only through ``transition`` after approvals.
- Re-registering an entry updates it; stages change only through
  ``transition`` (an explicit, different ``deployment.status`` is refused).
- Approvals, stage changes, alias moves and registrations each append one
  audit row in the same transaction; the audit table is never updated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swarmstore.errors import (
    NotAnApproverError,
    RegistryEntryNotFoundError,
)
from swarmstore.events import (
    MODEL_APPROVED,
    MODEL_REGISTERED,
    MODEL_STAGE_CHANGED,
    EventBus,
)
from swarmstore.experiments.refs import resolve_datasets
from swarmstore.ids import validate_id
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.tables_registry import RegistryEntryRow
from swarmstore.meta.unit import IndexUpdate, Session
from swarmstore.models import queries as q
from swarmstore.records.base import parse_record
from swarmstore.records.dataset import InvalidFieldError
from swarmstore.records.registry import (
    AuditEntry,
    InvalidTransitionError,
    ModelRegistryEntry,
    PromotionBlockedError,
    promote,
)
from swarmstore.registry import common as c
from swarmstore.registry import queries as rq
from swarmstore.registry.refs import check_parent_models, resolve_refs

TOPIC = "registry_entry.upserted"


def entry_index(swarm_id: str, registry_id: str) -> IndexUpdate:
    """The outbox row that has the indexes re-read a registry entry."""
    return IndexUpdate(TOPIC, f"{swarm_id}/{registry_id}")


def parse_entry(entry: ModelRegistryEntry | Mapping[str, Any]) -> ModelRegistryEntry:
    return parse_record(ModelRegistryEntry, entry, what="a registry entry", error=InvalidFieldError)


class RegistryService:
    def __init__(self, meta: MetaStore, events: EventBus) -> None:
        self.meta = meta
        self.events = events

    # -- entries -------------------------------------------------------------

    def register(
        self,
        swarm_id: str,
        entry: ModelRegistryEntry | Mapping[str, Any],
        *,
        actor: str | None = None,
    ) -> ModelRegistryEntry:
        validate_id("swarm_id", swarm_id)
        rec = parse_entry(entry)
        validate_id("registry id", rec.id)
        if rec.model_id is not None:
            validate_id("modelId", rec.model_id)
        who = actor or rec.governance.owner or "unknown"
        with self.meta.unit_of_work(self.events) as uow:
            session, now = uow.session, uow.now
            model, by_ref = resolve_refs(
                session,
                swarm_id,
                rec.model_id,
                [*rec.model_versions, *rec.performance.by_version, *rec.deployment.version_stages],
            )
            versions = [by_ref[r] for r in rec.model_versions]
            check_parent_models(session, swarm_id, rec.lineage.parent_models)
            resolve_datasets(session, swarm_id, rec.lineage.dataset_lineage)
            if len(set(versions)) != len(versions):
                raise InvalidFieldError("names one version twice", field="modelVersions")
            row = rq.find_entry(session, swarm_id, rec.id)
            other = rq.entry_of_model(session, model)
            if other is not None and (row is None or other.pk != row.pk):
                raise InvalidFieldError(
                    f"model {model.model_id!r} is already governed by registry entry "
                    f"{other.registry_id!r}",
                    field="modelId",
                )
            old_stages: dict[str, str] = {}
            if row is not None:
                old_stages = dict(c.entry_record(row).deployment.version_stages)
            given = {by_ref[r]: s for r, s in rec.deployment.version_stages.items()}
            stages = self._initial_stages(rec, row, versions, given, old_stages)
            stored = self._canonical(rec, model.model_id, swarm_id, by_ref, versions, stages)
            if row is None:
                stored = stored.model_copy(update={"created_at": now, "updated_at": now})
                row = rq.add_entry(
                    session, swarm_id=swarm_id, registry_id=rec.id, model_pk=model.pk, created=now
                )
                action = "registered"
            else:
                created = c.entry_record(row).created_at
                stored = stored.model_copy(update={"created_at": created, "updated_at": now})
                action = "updated"
            self._fill_row(row, stored, now)
            refs = {v: r for r, v in by_ref.items()}
            rq.sync_entry_versions(session, row, model.pk, versions, refs, stages, now)
            previous = None if action == "registered" else row.stage
            rq.append_audit(
                session,
                swarm_id=swarm_id,
                model_id=model.model_id,
                registry_id=rec.id,
                action=action,
                who=who,
                at=now,
                from_value=previous,
                to_value=stored.deployment.status,
                details={"modelVersions": versions},
            )
            event = {
                "swarm_id": swarm_id,
                "registry_id": rec.id,
                "model_id": model.model_id,
                "versions": versions,
                "stage": stored.deployment.status,
            }
            uow.publish(
                MODEL_REGISTERED,
                event,
                swarm_id=swarm_id,
                index=entry_index(swarm_id, rec.id),
            )
        return stored

    def _initial_stages(
        self,
        rec: ModelRegistryEntry,
        row: RegistryEntryRow | None,
        versions: list[str],
        given: Mapping[str, str],
        old: Mapping[str, str],
    ) -> dict[str, str]:
        explicit = "status" in rec.deployment.model_fields_set
        if row is not None:
            if explicit and rec.deployment.status != row.stage:
                raise InvalidTransitionError(
                    f"entry {rec.id!r} is {row.stage!r}; change stages with "
                    "transition_model_stage, not by registering again",
                    field="deployment.status",
                )
            for version, stage in given.items():
                if old.get(version, stage) != stage:
                    raise InvalidTransitionError(
                        f"version {version!r} is {old[version]!r}; use transition_model_stage",
                        field="deployment.versionStages",
                    )
            default = "registered"
        else:
            default = rec.deployment.status
        stages = {v: old.get(v, given.get(v, default)) for v in versions}
        gated = rec.governance.require_approval_for
        for version, stage in stages.items():
            if stage in gated and old.get(version) != stage:
                raise PromotionBlockedError(
                    rec.id,
                    stage,
                    missing_approvers=rec.governance.approvers or ["<an approver>"],
                    blocking_checks=[f"register {version!r} first, then approve and transition"],
                )
        if not versions and row is None and rec.deployment.status in gated:
            raise PromotionBlockedError(rec.id, rec.deployment.status, missing_approvers=["<any>"])
        return stages

    @staticmethod
    def _canonical(
        rec: ModelRegistryEntry,
        model_id: str,
        swarm_id: str,
        by_ref: dict[str, str],
        versions: list[str],
        stages: dict[str, str],
    ) -> ModelRegistryEntry:
        status = c.derived_stage(list(stages.values()), rec.deployment.status)
        data = rec.model_dump(by_alias=False)
        data.update(
            model_id=model_id,
            swarm_id=swarm_id,
            model_versions=versions,
            latest_version=by_ref[rec.latest_version] if rec.latest_version else None,
        )
        data["performance"]["by_version"] = {
            by_ref[r]: s for r, s in rec.performance.by_version.items()
        }
        data["deployment"].update(status=status, version_stages=stages)
        return ModelRegistryEntry.model_validate(data)

    @staticmethod
    def _fill_row(row: RegistryEntryRow, rec: ModelRegistryEntry, now: Any) -> None:
        row.name = rec.name
        row.category = rec.category
        row.use_case = rec.use_case
        row.stage = rec.deployment.status
        row.owner = rec.governance.owner
        row.risk_level = rec.governance.risk_level
        row.record = rec.to_json_dict()
        row.updated = now

    def get(
        self, swarm_id: str, *, registry_id: str | None = None, model_id: str | None = None
    ) -> ModelRegistryEntry:
        validate_id("swarm_id", swarm_id)
        if (registry_id is None) == (model_id is None):
            raise InvalidFieldError("give exactly one of registry_id and model_id")
        with self.meta.read() as session:
            if registry_id is not None:
                validate_id("registry id", registry_id)
                row = rq.find_entry(session, swarm_id, registry_id)
                if row is None:
                    raise RegistryEntryNotFoundError(
                        f"registry entry {registry_id!r} not found in swarm {swarm_id!r}",
                        swarm_id=swarm_id,
                        registry_id=registry_id,
                    )
            else:
                validate_id("model id", model_id)
                row = rq.require_entry(session, q.require_model(session, swarm_id, model_id or ""))
            return c.entry_record(row)

    # -- stages and approvals -----------------------------------------------

    def transition(
        self, swarm_id: str, model_id: str, version: str, stage: str, *, actor: str, reason: str
    ) -> AuditEntry:
        """Move one version to ``stage`` (see the module rules); returns the audit row."""
        self._ids(swarm_id, model_id, version)
        validate_id("actor", actor)
        with self.meta.unit_of_work(self.events) as uow:
            session, now = uow.session, uow.now
            row, rec, current = self._listed_version(session, swarm_id, model_id, version)
            view = rec.model_copy(
                update={"deployment": rec.deployment.model_copy(update={"status": current})}
            )
            _moved, audit = promote(
                view,
                stage,  # type: ignore[arg-type]
                who=actor,
                why=reason,
                approvals=rq.approvals_of(session, row),
                version=version,
                at=now,
            )
            stages = {**rec.deployment.version_stages, version: stage}
            status = c.derived_stage(list(stages.values()), rec.deployment.status)
            updated = rec.model_copy(
                update={
                    "deployment": rec.deployment.model_copy(
                        update={"status": status, "version_stages": stages}
                    ),
                    "updated_at": now,
                }
            )
            self._fill_row(row, updated, now)
            rq.set_version_stage(session, row, version, stage, now)
            rq.append_audit(
                session,
                swarm_id=swarm_id,
                model_id=model_id,
                registry_id=rec.id,
                version=version,
                action="stage_changed",
                who=actor,
                at=now,
                from_value=current,
                to_value=stage,
                why=reason,
                details={"approvers": audit.approvers},
            )
            event = {
                "swarm_id": swarm_id,
                "registry_id": rec.id,
                "model_id": model_id,
                "version": version,
                "from": current,
                "to": stage,
                "who": actor,
            }
            uow.publish(
                MODEL_STAGE_CHANGED,
                event,
                swarm_id=swarm_id,
                index=entry_index(swarm_id, rec.id),
            )
        return audit.model_copy(update={"model_id": model_id, "swarm_id": swarm_id})

    @staticmethod
    def _listed_version(
        session: Session, swarm_id: str, model_id: str, version: str
    ) -> tuple[RegistryEntryRow, ModelRegistryEntry, str]:
        """The entry governing a stored version that it lists, and the version's stage."""
        model = q.require_model(session, swarm_id, model_id)
        q.require_version(session, model, version)
        row = rq.require_entry(session, model)
        rec = c.entry_record(row)
        if version not in rec.model_versions:
            raise InvalidFieldError(
                f"version {version!r} is not listed in registry entry {rec.id!r}; "
                "register it first",
                field="version",
            )
        return row, rec, rec.deployment.version_stages.get(version, "registered")

    def approve(
        self,
        swarm_id: str,
        model_id: str,
        version: str,
        approver: str,
        *,
        stage: str | None = None,
        environment: str | None = None,
        decision: str = "approved",
        comment: str = "",
    ) -> dict[str, Any]:
        """Record one approver's decision for (version, stage); ``environment`` maps
        to its stage through the entry's governance. Default stage: production."""
        self._ids(swarm_id, model_id, version)
        validate_id("approver", approver)
        if environment is not None:
            validate_id("environment", environment)
        if decision not in ("approved", "rejected"):
            raise InvalidFieldError(
                f"decision must be 'approved' or 'rejected', not {decision!r}", field="decision"
            )
        with self.meta.unit_of_work(self.events) as uow:
            session, now = uow.session, uow.now
            row, rec, _stage = self._listed_version(session, swarm_id, model_id, version)
            target = self._approval_stage(rec, stage, environment)
            approvers = rec.governance.approvers
            if approvers and approver not in approvers:
                raise NotAnApproverError(rec.id, approver, approvers)
            rq.add_approval(
                session,
                row,
                version=version,
                stage=target,
                environment=environment,
                approver=approver,
                decision=decision,
                comment=comment,
                at=now,
            )
            rq.append_audit(
                session,
                swarm_id=swarm_id,
                model_id=model_id,
                registry_id=rec.id,
                version=version,
                action=decision,
                who=approver,
                at=now,
                to_value=target,
                why=comment,
                details={"environment": environment} if environment else {},
            )
            event = {
                "swarm_id": swarm_id,
                "registry_id": rec.id,
                "model_id": model_id,
                "version": version,
                "approver": approver,
                "stage": target,
                "environment": environment,
                "decision": decision,
            }
            uow.publish(
                MODEL_APPROVED,
                event,
                swarm_id=swarm_id,
                index=entry_index(swarm_id, rec.id),
            )
        return event

    @staticmethod
    def _approval_stage(rec: ModelRegistryEntry, stage: str | None, environment: str | None) -> str:
        mapped = rec.governance.stage_for_environment(environment) if environment else None
        if environment is not None and mapped is None:
            raise InvalidFieldError(
                f"environment {environment!r} maps to no stage; add it to "
                "governance.environmentStages",
                field="environment",
            )
        if stage is not None and mapped is not None and stage != mapped:
            raise InvalidFieldError(
                f"environment {environment!r} is stage {mapped!r}, not {stage!r}", field="stage"
            )
        target = stage or mapped or "production"
        if target not in c.STAGE_ORDER[1:]:
            raise InvalidFieldError(f"cannot approve a move to {target!r}", field="stage")
        return target

    @staticmethod
    def _ids(swarm_id: str, model_id: str, version: str) -> None:
        validate_id("swarm_id", swarm_id)
        validate_id("model id", model_id)
        validate_id("version", version)
