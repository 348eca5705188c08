"""The model-registry entry (the seed's registry example), approvals, the audit
trail, and the pure rule that decides whether an entry may move to a stage.

Stages: registered -> development/staging/production, any -> archived
(terminal). Moving into a stage listed in ``governance.requireApprovalFor``
(default: production) needs (a) an ``approved`` latest decision from every
listed approver — or from ``governance.requiredApprovals`` of them when the
policy sets that number (1: any one approver) — or, when none are listed, one
approval from someone other than the person moving it (four eyes), and (b) no
compliance check ``failed`` or ``pending``. The storage layer persists what
``promote`` returns.

Deployment environments map to stages: an environment named like a stage
(``staging``, ``production``) is that stage, others through
``governance.environmentStages`` (``{"prod-eu": "production"}``); an
environment mapped to a gated stage needs the same approvals to be deployed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, Self, get_args

from pydantic import Field, model_validator

from swarmstore.errors import SwarmStoreError
from swarmstore.records.base import utc_now
from swarmstore.records.dataset import (
    CheckedOpenRecord,
    CheckedRecord,
    InvalidFieldError,
    as_utc,
)
from swarmstore.records.experiment import Finite

RegistryStage = Literal["registered", "development", "staging", "production", "archived"]
RiskLevel = Literal["low", "medium", "high", "critical"]
CheckStatus = Literal["pending", "passed", "failed", "waived"]
Decision = Literal["approved", "rejected"]


class InvalidTransitionError(InvalidFieldError):
    """A stage or status change the lifecycle does not allow (e.g. out of archived)."""


class PromotionBlockedError(SwarmStoreError, PermissionError):
    """Governance blocks a stage change: approvals missing or checks not passed."""

    def __init__(
        self,
        registry_id: str,
        stage: str,
        *,
        missing_approvers: Iterable[str] = (),
        blocking_checks: Iterable[str] = (),
    ) -> None:
        self.registry_id, self.stage = registry_id, stage
        self.missing_approvers = list(missing_approvers)
        self.blocking_checks = list(blocking_checks)
        reasons = []
        if self.missing_approvers:
            reasons.append("awaiting approval from " + ", ".join(self.missing_approvers))
        if self.blocking_checks:
            reasons.append("compliance checks not passed: " + ", ".join(self.blocking_checks))
        super().__init__(f"cannot move {registry_id!r} to {stage!r}: " + "; ".join(reasons))


class ComplianceCheck(CheckedOpenRecord):
    name: str = Field(min_length=1)
    status: CheckStatus = "pending"
    checked_at: datetime | None = None
    checked_by: str | None = None
    details: str = ""


def _gated_by_default() -> list[RegistryStage]:
    return ["production"]


class Governance(CheckedOpenRecord):
    owner: str = ""
    approvers: list[str] = Field(default_factory=list)
    compliance_checks: list[ComplianceCheck] = Field(default_factory=list)
    risk_level: RiskLevel = "low"
    require_approval_for: list[RegistryStage] = Field(default_factory=_gated_by_default)
    required_approvals: int | None = Field(
        default=None, ge=1, description="approvals needed from listed approvers; None: all"
    )
    environment_stages: dict[str, RegistryStage] = Field(default_factory=dict)

    def stage_for_environment(self, environment: str) -> RegistryStage | None:
        """The stage whose governance applies to deploying into ``environment``."""
        if environment in self.environment_stages:
            return self.environment_stages[environment]
        if environment in get_args(RegistryStage):
            return environment  # type: ignore[return-value]
        return None

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [check.name for check in self.compliance_checks]
        if len(set(names)) != len(names):
            raise InvalidFieldError("names a check twice", field="complianceChecks")
        if len(set(self.approvers)) != len(self.approvers):
            raise InvalidFieldError("lists an approver twice", field="approvers")
        if self.required_approvals is not None and self.required_approvals > len(self.approvers):
            raise InvalidFieldError(
                f"needs {self.required_approvals} approvals but lists "
                f"{len(self.approvers)} approvers",
                field="requiredApprovals",
            )
        return self


class RegistryPerformance(CheckedOpenRecord):
    """``benchmarkScores`` are the entry's (its latest version's); ``byVersion``
    holds scores of individual versions for ``compare_models``."""

    benchmark_scores: dict[str, Finite] = Field(default_factory=dict)
    by_version: dict[str, dict[str, Finite]] = Field(default_factory=dict)


class RegistryDeployment(CheckedOpenRecord):
    """The entry's lifecycle stage (the seed's ``deployment.status``)."""

    status: RegistryStage = "registered"
    environments: list[str] = Field(default_factory=list)
    version_stages: dict[str, RegistryStage] = Field(
        default_factory=dict,
        description="stage of each version; the entry's status is the most advanced of them",
    )


class RegistryLineage(CheckedOpenRecord):
    parent_models: list[str] = Field(default_factory=list)
    dataset_lineage: list[str] = Field(default_factory=list)


class ModelRegistryEntry(CheckedRecord):
    """A catalog entry governing the versions of one model."""

    id: str = Field(min_length=1)
    name: str
    model_id: str | None = Field(
        default=None, description="the governed model; inferred from modelVersions when absent"
    )
    description: str = ""
    category: str = ""
    use_case: str = ""
    model_versions: list[str] = Field(default_factory=list)
    latest_version: str | None = None
    performance: RegistryPerformance = Field(default_factory=RegistryPerformance)
    deployment: RegistryDeployment = Field(default_factory=RegistryDeployment)
    governance: Governance = Field(default_factory=Governance)
    lineage: RegistryLineage = Field(default_factory=RegistryLineage)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    swarm_id: str | None = None

    @model_validator(mode="after")
    def _versions(self) -> Self:
        if len(set(self.model_versions)) != len(self.model_versions):
            raise InvalidFieldError("lists a version twice", field="modelVersions")
        if self.latest_version is not None and self.latest_version not in self.model_versions:
            raise InvalidFieldError(
                f"{self.latest_version!r} is not in modelVersions", field="latestVersion"
            )
        if self.id in self.lineage.parent_models:
            raise InvalidFieldError("an entry cannot be its own parent", field="lineage")
        return self


class Approval(CheckedRecord):
    """One approver's decision on moving an entry (optionally one version) to a stage."""

    registry_id: str = Field(min_length=1)
    stage: RegistryStage
    approver: str = Field(min_length=1)
    decision: Decision = "approved"
    version: str | None = None
    decided_at: datetime = Field(default_factory=utc_now)
    comment: str = ""
    environment: str | None = Field(default=None, description="the approval was asked for")
    model_id: str | None = None


AuditAction = Literal[
    "registered",
    "updated",
    "approved",
    "rejected",
    "stage_changed",
    "alias_set",
    "deployed",
    "deployment_status_changed",
    "rolled_back",
]


class AuditEntry(CheckedRecord):
    """Who changed what from which value to which, when and why (append-only).

    ``from``/``to`` are stages for stage changes, versions for alias moves,
    statuses for deployments; ``seq`` is the row's position in the trail."""

    registry_id: str | None = None
    who: str = Field(min_length=1)
    when: datetime = Field(default_factory=utc_now)
    from_stage: str | None = Field(default=None, alias="from")
    to_stage: str | None = Field(default=None, alias="to")
    why: str = ""
    version: str | None = None
    approvers: list[str] = Field(default_factory=list, description="approvals relied on")
    action: AuditAction = "stage_changed"
    model_id: str | None = None
    swarm_id: str | None = None
    seq: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)


def check_transition(current: RegistryStage, target: RegistryStage) -> None:
    """Raise ``InvalidTransitionError`` for a move the lifecycle forbids."""
    if target not in get_args(RegistryStage):
        raise InvalidTransitionError(f"unknown stage {target!r}", field="to")
    if current == target:
        raise InvalidTransitionError(f"already in stage {target!r}", field="deployment.status")
    if current == "archived":
        raise InvalidTransitionError("an archived entry cannot move", field="deployment.status")
    if target == "registered":
        raise InvalidTransitionError("no entry moves back to 'registered'", field="to")


def approved_by(
    entry: ModelRegistryEntry,
    stage: RegistryStage,
    approvals: Iterable[Approval],
    *,
    version: str | None = None,
) -> set[str]:
    """Approvers whose latest decision on (entry, stage, exact version) is approval;
    a later rejection withdraws an earlier approval."""
    latest: dict[str, Approval] = {}
    for approval in approvals:
        key = (approval.registry_id, approval.stage, approval.version)
        if key != (entry.id, stage, version):
            continue
        seen = latest.get(approval.approver)
        if seen is None or as_utc(approval.decided_at) >= as_utc(seen.decided_at):
            latest[approval.approver] = approval
    return {name for name, a in latest.items() if a.decision == "approved"}


def missing_approvals(
    entry: ModelRegistryEntry,
    stage: RegistryStage,
    approvals: Iterable[Approval],
    *,
    who: str,
    version: str | None = None,
) -> list[str]:
    """Approvals still needed before ``who`` may move the entry (empty: none)."""
    if stage not in entry.governance.require_approval_for:
        return []
    approved = approved_by(entry, stage, approvals, version=version)
    required = entry.governance.approvers
    if required:
        missing = [name for name in required if name not in approved]
        quorum = entry.governance.required_approvals
        if quorum is not None and len(required) - len(missing) >= quorum:
            return []
        return missing
    return [] if approved - {who} else [f"<any approver other than {who}>"]


def promote(
    entry: ModelRegistryEntry,
    stage: RegistryStage,
    *,
    who: str,
    why: str = "",
    approvals: Iterable[Approval] = (),
    version: str | None = None,
    at: datetime | None = None,
) -> tuple[ModelRegistryEntry, AuditEntry]:
    """Move ``entry`` to ``stage`` if the lifecycle and governance allow it.

    Returns the updated copy and the audit row to store with it in one
    transaction; raises ``InvalidTransitionError`` or ``PromotionBlockedError``
    and changes nothing otherwise."""
    approvals = list(approvals)
    current = entry.deployment.status
    check_transition(current, stage)
    if version is not None and version not in entry.model_versions:
        raise InvalidFieldError(f"version {version!r} is not registered", field="version")
    missing = missing_approvals(entry, stage, approvals, who=who, version=version)
    blocking: list[str] = []
    if stage in entry.governance.require_approval_for:
        blocking = [
            c.name for c in entry.governance.compliance_checks if c.status in ("failed", "pending")
        ]
    if missing or blocking:
        raise PromotionBlockedError(
            entry.id, stage, missing_approvers=missing, blocking_checks=blocking
        )
    when = at or utc_now()
    needs_approval = stage in entry.governance.require_approval_for
    relied_on = sorted(approved_by(entry, stage, approvals, version=version))
    updated = entry.model_copy(
        update={
            "deployment": entry.deployment.model_copy(update={"status": stage}),
            "updated_at": when,
        }
    )
    audit = AuditEntry.model_validate(
        {
            "registryId": entry.id,
            "who": who,
            "when": when,
            "from": current,
            "to": stage,
            "why": why,
            "version": version,
            "approvers": relied_on if needs_approval else [],
        }
    )
    return updated, audit
