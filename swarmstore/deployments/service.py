"""Deployments: governed rollouts of a model version to an environment.

The deployment rule (checked inside the write transaction, so nothing is
written when it refuses):

1. The version must be stored (``ModelNotFoundError``).
2. The environment's stage is the stage of the same name (``staging``,
   ``production``, ...) or ``governance.environmentStages[environment]``.
   An unregistered model is governed by the default policy (production gated).
3. When the registry entry lists ``deployment.environments``, the environment
   must be one of them.
4. When that stage is gated (``governance.requireApprovalFor``; production by
   default) the version must be listed in the entry, its approvals for that
   stage must satisfy the policy (every listed approver, or
   ``requiredApprovals`` of them; four eyes when none are listed) and no
   compliance check may be failed or pending. Otherwise
   ``DeploymentNotApprovedError`` names what is missing.

A new deployment retires the active one of the same model and environment
(``replaces`` points at it). ``rollback`` marks the active deployment
``rolled_back`` and deploys the previous version of that environment again
(or ``to_version``), with the configuration it had then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swarmstore.deployments import queries as dq
from swarmstore.errors import DeploymentNotApprovedError, NoRollbackTargetError
from swarmstore.events import (
    DEPLOYMENT_ROLLED_BACK,
    DEPLOYMENT_STATUS_CHANGED,
    MODEL_DEPLOYED,
    EventBus,
)
from swarmstore.ids import validate_id
from swarmstore.meta import lineage as ln
from swarmstore.meta.engine import MetaStore
from swarmstore.meta.tables import ModelRow, VersionRow
from swarmstore.meta.tables_registry import DeploymentRow
from swarmstore.meta.unit import IndexUpdate, Session, UnitOfWork
from swarmstore.models import queries as q
from swarmstore.records.base import parse_record
from swarmstore.records.dataset import InvalidFieldError
from swarmstore.records.deployment import ModelDeployment, change_status
from swarmstore.records.registry import Governance, InvalidTransitionError, missing_approvals
from swarmstore.registry import common as c
from swarmstore.registry import queries as rq

TOPIC = "deployment.upserted"


def deployment_index(
    swarm_id: str, deployment_id: str, event: dict[str, Any], status: str
) -> IndexUpdate:
    """The outbox row of a deployment's event: the event and the deployment's status."""
    return IndexUpdate(TOPIC, f"{swarm_id}/{deployment_id}", {**event, "status": status})


def parse_deployment(deployment: ModelDeployment | Mapping[str, Any]) -> ModelDeployment:
    return parse_record(ModelDeployment, deployment, what="a deployment", error=InvalidFieldError)


def check_deployable(
    session: Session, model: ModelRow, version: str, environment: str, who: str
) -> None:
    """Raise ``DeploymentNotApprovedError`` unless the module's rule allows it."""
    entry_row = rq.entry_of_model(session, model)
    entry = c.entry_record(entry_row) if entry_row is not None else None
    governance = entry.governance if entry is not None else Governance()

    def refuse(
        message: str, missing: list[str] | None = None, blocking: list[str] | None = None
    ) -> DeploymentNotApprovedError:
        return DeploymentNotApprovedError(
            message,
            swarm_id=model.swarm_id,
            model_id=model.model_id,
            version=version,
            environment=environment,
            missing_approvers=missing,
            blocking_checks=blocking,
        )

    what = f"{model.model_id!r} version {version!r} to {environment!r}"
    if (
        entry is not None
        and entry.deployment.environments
        and environment not in entry.deployment.environments
    ):
        raise refuse(
            f"cannot deploy {what}: registry entry {entry.id!r} allows only "
            f"{entry.deployment.environments}"
        )
    stage = governance.stage_for_environment(environment)
    if stage is None or stage not in governance.require_approval_for:
        return
    if entry is None or entry_row is None:
        raise refuse(
            f"cannot deploy {what}: stage {stage!r} needs approvals and the model is not "
            "in the registry"
        )
    if version not in entry.model_versions:
        raise refuse(
            f"cannot deploy {what}: the version is not listed in registry entry {entry.id!r}"
        )
    missing = missing_approvals(
        entry, stage, rq.approvals_of(session, entry_row), who=who, version=version
    )
    blocking = [
        check.name
        for check in governance.compliance_checks
        if check.status in ("failed", "pending")
    ]
    if missing or blocking:
        reasons = []
        if missing:
            reasons.append("awaiting approval from " + ", ".join(missing))
        if blocking:
            reasons.append("compliance checks not passed: " + ", ".join(blocking))
        raise refuse(f"cannot deploy {what} ({stage}): " + "; ".join(reasons), missing, blocking)


class DeploymentService:
    def __init__(self, meta: MetaStore, events: EventBus) -> None:
        self.meta = meta
        self.events = events

    def deploy(
        self,
        swarm_id: str,
        deployment: ModelDeployment | Mapping[str, Any],
        *,
        actor: str | None = None,
    ) -> ModelDeployment:
        validate_id("swarm_id", swarm_id)
        rec = parse_deployment(deployment)
        for kind, value in (
            ("deployment id", rec.id),
            ("model id", rec.model_id),
            ("version", rec.version),
            ("environment", rec.environment),
        ):
            validate_id(kind, value)
        if rec.status != "active" or len(rec.status_history) > 1:
            raise InvalidFieldError("a new deployment starts 'active'", field="status")
        who = actor or "unknown"
        with self.meta.unit_of_work(self.events) as uow:
            session = uow.session
            if dq.find_deployment(session, swarm_id, rec.id) is not None:
                raise InvalidFieldError(
                    f"deployment {rec.id!r} already exists in swarm {swarm_id!r}", field="id"
                )
            model = q.require_model(session, swarm_id, rec.model_id)
            version = q.require_version(session, model, rec.version)
            check_deployable(session, model, rec.version, rec.environment, who)
            stored = self._insert(uow, swarm_id, model, version, rec, who)
        return stored

    def _insert(
        self,
        uow: UnitOfWork,
        swarm_id: str,
        model: ModelRow,
        version: VersionRow,
        rec: ModelDeployment,
        who: str,
        *,
        reason: str = "deployed",
    ) -> ModelDeployment:
        """Retire the environment's active deployment, then insert ``rec`` and publish
        its events in the caller's unit of work."""
        session, now = uow.session, uow.now
        replaced = rec.replaces
        active = dq.active_deployment(session, model.pk, rec.environment)
        if active is not None:
            self._change(uow, active, "retired", f"replaced by {rec.id}", who)
            replaced = replaced or active.deployment_id
        row = dq.insert_deployment(
            session,
            swarm_id=swarm_id,
            deployment_id=rec.id,
            model_pk=model.pk,
            version_pk=version.pk,
            version=rec.version,
            environment=rec.environment,
            config=rec.config.model_dump(mode="json", by_alias=True),
            monitoring=rec.monitoring.model_dump(mode="json", by_alias=True),
            replaces=replaced,
            who=who,
            now=now,
        )
        dq.add_status(session, row, "active", at=now, reason=reason, who=who)
        version_key = ln.node_key(ln.MODEL_VERSION, swarm_id, model.model_id, rec.version)
        deploy_key = ln.node_key(ln.DEPLOYMENT, swarm_id, rec.id)
        ln.upsert_node(
            session,
            ln.DEPLOYMENT,
            deploy_key,
            swarm_id,
            {
                "deployment_id": rec.id,
                "model_id": model.model_id,
                "version": rec.version,
                "environment": rec.environment,
                "status": "active",
            },
            now,
        )
        ln.add_edge(session, version_key, ln.DEPLOYED_AS, deploy_key, swarm_id, now)
        rq.append_audit(
            session,
            swarm_id=swarm_id,
            model_id=model.model_id,
            registry_id=rq.registry_id_of(session, model),
            version=rec.version,
            action="deployed",
            who=who,
            at=now,
            from_value=None,
            to_value=rec.environment,
            why=reason,
            details={"deploymentId": rec.id, "replaces": replaced},
        )
        event = {
            "swarm_id": swarm_id,
            "deployment_id": rec.id,
            "model_id": model.model_id,
            "version": rec.version,
            "environment": rec.environment,
        }
        uow.publish(
            MODEL_DEPLOYED,
            event,
            swarm_id=swarm_id,
            index=deployment_index(swarm_id, rec.id, event, "active"),
        )
        return self._record(session, row)

    def _change(
        self, uow: UnitOfWork, row: DeploymentRow, status: str, reason: str, who: str
    ) -> None:
        session, now = uow.session, uow.now
        change_status(self._record(session, row), status, reason=reason, who=who, at=now)  # type: ignore[arg-type]
        before = row.status
        row.status, row.updated = status, now
        dq.add_status(session, row, status, at=now, reason=reason, who=who)
        model = dq.model_of(session, row)
        rq.append_audit(
            session,
            swarm_id=row.swarm_id,
            model_id=model.model_id,
            registry_id=rq.registry_id_of(session, model),
            version=row.version,
            action="deployment_status_changed",
            who=who,
            at=now,
            from_value=before,
            to_value=status,
            why=reason,
            details={"deploymentId": row.deployment_id, "environment": row.environment},
        )
        ln.upsert_node(
            session,
            ln.DEPLOYMENT,
            ln.node_key(ln.DEPLOYMENT, row.swarm_id, row.deployment_id),
            row.swarm_id,
            {"status": status},
            now,
        )
        event = {
            "swarm_id": row.swarm_id,
            "deployment_id": row.deployment_id,
            "model_id": model.model_id,
            "version": row.version,
            "environment": row.environment,
            "from": before,
            "to": status,
        }
        uow.publish(
            DEPLOYMENT_STATUS_CHANGED,
            event,
            swarm_id=row.swarm_id,
            index=deployment_index(row.swarm_id, row.deployment_id, event, status),
        )

    def set_status(
        self, swarm_id: str, deployment_id: str, status: str, *, actor: str, reason: str = ""
    ) -> ModelDeployment:
        """Retire or mark failed; rolling back goes through ``rollback``."""
        validate_id("swarm_id", swarm_id)
        validate_id("deployment id", deployment_id)
        validate_id("actor", actor)
        if status not in ("retired", "failed"):
            raise InvalidTransitionError(
                f"set_deployment_status takes 'retired' or 'failed', not {status!r}; "
                "use rollback_deployment to roll back",
                field="status",
            )
        with self.meta.unit_of_work(self.events) as uow:
            row = dq.require_deployment(uow.session, swarm_id, deployment_id)
            self._change(uow, row, status, reason, actor)
            stored = self._record(uow.session, row)
        return stored

    def rollback(
        self,
        swarm_id: str,
        deployment_id: str,
        *,
        to_version: str | None = None,
        actor: str,
        reason: str = "",
    ) -> ModelDeployment:
        validate_id("swarm_id", swarm_id)
        validate_id("deployment id", deployment_id)
        validate_id("actor", actor)
        if to_version is not None:
            validate_id("version", to_version)
        with self.meta.unit_of_work(self.events) as uow:
            session, now = uow.session, uow.now
            current = dq.require_deployment(session, swarm_id, deployment_id)
            if current.status != "active":
                raise InvalidTransitionError(
                    f"deployment {deployment_id!r} is {current.status!r}; only an active "
                    "deployment can be rolled back",
                    field="status",
                )
            model = dq.model_of(session, current)
            previous = dq.previous_deployment(session, current, to_version)
            target = to_version or (previous.version if previous else None)
            if target is None:
                raise NoRollbackTargetError(
                    f"deployment {deployment_id!r} has no earlier version in "
                    f"{current.environment!r} to roll back to; give to_version"
                )
            if target == current.version:
                raise NoRollbackTargetError(
                    f"deployment {deployment_id!r} already serves version {target!r}"
                )
            version = q.require_version(session, model, target)
            check_deployable(session, model, target, current.environment, actor)
            self._change(uow, current, "rolled_back", reason, actor)
            source = previous or current
            rec = ModelDeployment.model_validate(
                {
                    "modelId": model.model_id,
                    "version": target,
                    "environment": current.environment,
                    "config": source.config,
                    "monitoring": source.monitoring,
                    "replaces": current.deployment_id,
                }
            )
            stored = self._insert(uow, swarm_id, model, version, rec, actor, reason=reason)
            event = {
                "swarm_id": swarm_id,
                "deployment_id": deployment_id,
                "new_deployment_id": rec.id,
                "model_id": model.model_id,
                "environment": current.environment,
                "from_version": current.version,
                "to_version": target,
            }
            rq.append_audit(
                session,
                swarm_id=swarm_id,
                model_id=model.model_id,
                registry_id=rq.registry_id_of(session, model),
                version=target,
                action="rolled_back",
                who=actor,
                at=now,
                from_value=current.version,
                to_value=target,
                why=reason,
                details={"deploymentId": deployment_id, "newDeploymentId": rec.id},
            )
            uow.publish(DEPLOYMENT_ROLLED_BACK, event, swarm_id=swarm_id)  # no index row
        return stored

    # -- reads --------------------------------------------------------------------

    def get(self, swarm_id: str, deployment_id: str) -> ModelDeployment:
        validate_id("swarm_id", swarm_id)
        validate_id("deployment id", deployment_id)
        with self.meta.read() as session:
            return self._record(session, dq.require_deployment(session, swarm_id, deployment_id))

    def list(
        self,
        swarm_id: str,
        *,
        model_id: str | None = None,
        environment: str | None = None,
        status: str | None = None,
    ) -> list[ModelDeployment]:
        validate_id("swarm_id", swarm_id)
        if model_id is not None:
            validate_id("model id", model_id)
        with self.meta.read() as session:
            rows = dq.list_deployments(
                session, swarm_id, model_id=model_id, environment=environment, status=status
            )
            return [self._record(session, r) for r in rows]

    @staticmethod
    def _record(session: Session, row: DeploymentRow) -> ModelDeployment:
        history = dq.status_history(session, row)
        model = dq.model_of(session, row)
        return ModelDeployment.model_validate(
            {
                "id": row.deployment_id,
                "modelId": model.model_id,
                "version": row.version,
                "environment": row.environment,
                "config": row.config,
                "monitoring": row.monitoring,
                "status": row.status,
                "statusHistory": [
                    {"status": h.status, "at": h.at, "reason": h.reason, "who": h.who}
                    for h in history
                ],
                "createdAt": row.created,
                "updatedAt": row.updated,
                "replaces": row.replaces,
                "swarmId": row.swarm_id,
            }
        )
