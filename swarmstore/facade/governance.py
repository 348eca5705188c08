"""Model registry, aliases, approvals, audit trail and deployments.

The rules are stated in ``swarmstore.registry.service`` (stages, approvals)
and ``swarmstore.deployments.service`` (which deployments are allowed).
Every write is one transaction with an audit row, an event-log row and an
outbox row; events fire after commit; a refused call writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swarmstore.deployments import DeploymentService
from swarmstore.facade.base import FacadeBase
from swarmstore.records.deployment import ModelDeployment
from swarmstore.records.registry import AuditEntry, ModelRegistryEntry
from swarmstore.registry import AliasService, RegistryService


class GovernanceAPI(FacadeBase):
    _registry: RegistryService
    _deployments: DeploymentService
    _aliases: AliasService

    def _attach_governance(self) -> None:
        """Called once at the end of the manager's ``__init__``."""
        self._registry = RegistryService(self._meta, self._events)
        self._deployments = DeploymentService(self._meta, self._events)
        self._aliases = AliasService(self._meta, self._events)

    def _detach_governance(self) -> None:
        """Called once at the start of ``close``, before the pool and stores shut."""

    # -- registry -------------------------------------------------------------

    def register_model_in_registry(
        self,
        swarm_id: str,
        entry: ModelRegistryEntry | Mapping[str, Any],
        *,
        actor: str | None = None,
    ) -> ModelRegistryEntry:
        """Create or update the registry entry governing one model.

        Versions may be named ``v1.0`` (with ``modelId``), ``model_001_v1.0``
        (the seed's form), ``model_001@v1.0``; the stored entry names them
        canonically. Raises ``ModelNotFoundError`` naming unknown versions,
        ``PromotionBlockedError`` for a new entry starting in a gated stage,
        ``InvalidTransitionError`` when an update tries to change a stage.
        """
        self._live()
        return self._registry.register(swarm_id, entry, actor=actor)

    def get_registry_entry(
        self, swarm_id: str, registry_id: str | None = None, *, model_id: str | None = None
    ) -> ModelRegistryEntry:
        """The entry by its id or by the model it governs (``RegistryEntryNotFoundError``)."""
        self._live()
        return self._registry.get(swarm_id, registry_id=registry_id, model_id=model_id)

    def transition_model_stage(
        self, swarm_id: str, model_id: str, version: str, stage: str, *, actor: str, reason: str
    ) -> AuditEntry:
        """Move one registered version to ``stage``; gated stages need approvals
        (``PromotionBlockedError`` names the missing approvers and checks)."""
        self._live()
        return self._registry.transition(
            swarm_id, model_id, version, stage, actor=actor, reason=reason
        )

    def approve_model(
        self,
        swarm_id: str,
        model_id: str,
        version: str,
        approver: str,
        *,
        stage: str | None = None,
        environment: str | None = None,
        comment: str = "",
        decision: str = "approved",
    ) -> dict[str, Any]:
        """Record an approval (or ``decision="rejected"``) of a version for a stage
        or environment (default production). ``NotAnApproverError`` when the
        entry lists approvers and ``approver`` is not one of them."""
        self._live()
        return self._registry.approve(
            swarm_id,
            model_id,
            version,
            approver,
            stage=stage,
            environment=environment,
            decision=decision,
            comment=comment,
        )

    def set_model_alias(
        self,
        swarm_id: str,
        model_id: str,
        alias: str,
        version: str,
        *,
        actor: str,
        reason: str = "",
    ) -> dict[str, Any]:
        """Point ``alias`` (e.g. ``champion``) of a registered model at a stored version."""
        self._live()
        return self._aliases.set_alias(
            swarm_id, model_id, alias, version, actor=actor, reason=reason
        )

    def resolve_alias(self, swarm_id: str, model_id: str, alias: str) -> str:
        """The version an alias points at; load it with
        ``db.get_neural_model(s, m, db.resolve_alias(s, m, "champion"))``."""
        self._live()
        return self._aliases.resolve_alias(swarm_id, model_id, alias)

    def list_model_aliases(self, swarm_id: str, model_id: str) -> dict[str, str]:
        self._live()
        return self._aliases.aliases(swarm_id, model_id)

    def list_audit_trail(
        self, swarm_id: str, model_id: str | None = None, *, limit: int | None = None
    ) -> list[AuditEntry]:
        """Every registry and deployment change, oldest first (append-only)."""
        self._live()
        return self._aliases.audit_trail(swarm_id, model_id, limit=limit)

    # -- deployments ------------------------------------------------------------

    def deploy_model(
        self,
        swarm_id: str,
        deployment: ModelDeployment | Mapping[str, Any],
        *,
        actor: str | None = None,
    ) -> ModelDeployment:
        """Deploy a version to an environment if governance allows it (rule in
        ``swarmstore.deployments.service``); retires the environment's active
        deployment of that model. ``ModelNotFoundError`` for an unknown version,
        ``DeploymentNotApprovedError`` when not approved for the environment."""
        self._live()
        return self._deployments.deploy(swarm_id, deployment, actor=actor)

    def rollback_deployment(
        self,
        swarm_id: str,
        deployment_id: str,
        to_version: str | None = None,
        *,
        actor: str,
        reason: str = "",
    ) -> ModelDeployment:
        """Mark an active deployment ``rolled_back`` and serve the previous version
        of its environment again (or ``to_version``); returns the new deployment."""
        self._live()
        return self._deployments.rollback(
            swarm_id, deployment_id, to_version=to_version, actor=actor, reason=reason
        )

    def set_deployment_status(
        self, swarm_id: str, deployment_id: str, status: str, *, actor: str, reason: str = ""
    ) -> ModelDeployment:
        """Retire a deployment or mark it failed."""
        self._live()
        return self._deployments.set_status(
            swarm_id, deployment_id, status, actor=actor, reason=reason
        )

    def get_deployment(self, swarm_id: str, deployment_id: str) -> ModelDeployment:
        self._live()
        return self._deployments.get(swarm_id, deployment_id)

    def list_deployments(
        self,
        swarm_id: str,
        model_id: str | None = None,
        *,
        environment: str | None = None,
        status: str | None = None,
    ) -> list[ModelDeployment]:
        self._live()
        return self._deployments.list(
            swarm_id, model_id=model_id, environment=environment, status=status
        )
