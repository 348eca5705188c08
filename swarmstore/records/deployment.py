"""The model-deployment record (the seed's ``deployModel`` argument) and its
status lifecycle: active -> retired | rolled_back | failed, failed -> retired;
retired and rolled_back are final. ``statusHistory`` is append-only and its
last entry always equals ``status``. Times (``timeout``, ``metricsInterval``)
are milliseconds, as in the seed.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, model_validator

from swarmstore.errors import InvalidFieldError
from swarmstore.records.base import utc_now
from swarmstore.records.dataset import CheckedOpenRecord, CheckedRecord, as_utc
from swarmstore.records.experiment import Finite
from swarmstore.records.registry import InvalidTransitionError

DeploymentStatus = Literal["active", "retired", "rolled_back", "failed"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "active": frozenset({"retired", "rolled_back", "failed"}),
    "failed": frozenset({"retired"}),
    "retired": frozenset(),
    "rolled_back": frozenset(),
}

# Kubernetes resource quantities: "2000m" / "2" CPUs, "4Gi" / "512M" memory.
_CPU = re.compile(r"^\d+(\.\d+)?m?$")
_MEMORY = re.compile(r"^\d+(\.\d+)?([EPTGMK]i|[EPTGMk])?$")
_COUNT = re.compile(r"^\d+$")


def _quantity(pattern: re.Pattern[str], what: str) -> BeforeValidator:
    def check(value: Any) -> str:
        text = str(value) if isinstance(value, int | float) else value
        if not isinstance(text, str) or not pattern.match(text):
            raise InvalidFieldError(f"{value!r} is not a {what}")
        return text

    return BeforeValidator(check)


def _log_level(value: Any) -> Any:
    if isinstance(value, str):
        value = value.lower()
        return "warning" if value == "warn" else value
    return value


class ScalingConfig(CheckedOpenRecord):
    """Replica bounds and utilization targets in percent."""

    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=1, ge=1)
    target_cpu: float = Field(default=80.0, gt=0.0, le=100.0, alias="targetCPU")
    target_memory: float = Field(default=80.0, gt=0.0, le=100.0)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.max_replicas < self.min_replicas:
            raise InvalidFieldError(
                f"{self.max_replicas} is below minReplicas {self.min_replicas}",
                field="maxReplicas",
            )
        return self


class ResourceRequest(CheckedOpenRecord):
    cpu: Annotated[str, _quantity(_CPU, "CPU quantity like '2000m' or '2'")] = "1"
    memory: Annotated[str, _quantity(_MEMORY, "memory quantity like '4Gi'")] = "1Gi"
    gpu: Annotated[str, _quantity(_COUNT, "GPU count like '1'")] = "0"


class DeploymentConfig(CheckedOpenRecord):
    batch_size: int = Field(default=1, ge=1)
    max_concurrency: int = Field(default=1, ge=1)
    timeout: float = Field(default=30_000.0, gt=0.0, description="milliseconds")
    scaling: ScalingConfig = Field(default_factory=ScalingConfig)
    resources: ResourceRequest = Field(default_factory=ResourceRequest)


class MonitoringConfig(CheckedOpenRecord):
    metrics_interval: float = Field(default=60_000.0, gt=0.0, description="milliseconds")
    alert_thresholds: dict[str, Finite] = Field(default_factory=dict)
    log_level: Annotated[LogLevel, BeforeValidator(_log_level)] = "info"


class StatusChange(CheckedRecord):
    status: DeploymentStatus
    at: datetime = Field(default_factory=utc_now)
    reason: str = ""
    who: str | None = None


def _deployment_id() -> str:
    return f"deploy_{uuid.uuid4().hex[:16]}"


class ModelDeployment(CheckedRecord):
    """One rollout of ``modelId`` at ``version`` to an ``environment``."""

    id: str = Field(default_factory=_deployment_id, min_length=1)
    model_id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    environment: str = Field(min_length=1)
    config: DeploymentConfig = Field(default_factory=DeploymentConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    status: DeploymentStatus = "active"
    status_history: list[StatusChange] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    replaces: str | None = Field(default=None, description="deployment this one superseded")
    swarm_id: str | None = None

    @model_validator(mode="after")
    def _history(self) -> Self:
        history = self.status_history
        for position, change in enumerate(history):
            field = f"statusHistory.{position}"
            if position == 0:
                if change.status != "active":
                    raise InvalidFieldError("a deployment starts 'active'", field=field)
                continue
            before = history[position - 1]
            if change.status not in ALLOWED_TRANSITIONS[before.status]:
                raise InvalidTransitionError(
                    f"{before.status!r} cannot become {change.status!r}", field=field
                )
            if as_utc(change.at) < as_utc(before.at):
                raise InvalidFieldError("is earlier than the change before it", field=field)
        if history and history[-1].status != self.status:
            raise InvalidFieldError(
                f"is {self.status!r} but statusHistory ends with {history[-1].status!r}",
                field="status",
            )
        if self.replaces == self.id:
            raise InvalidFieldError("a deployment cannot replace itself", field="replaces")
        return self


def change_status(
    deployment: ModelDeployment,
    status: DeploymentStatus,
    *,
    reason: str = "",
    who: str | None = None,
    at: datetime | None = None,
) -> ModelDeployment:
    """A copy moved to ``status`` with the change appended to its history;
    raises ``InvalidTransitionError`` for a move the lifecycle forbids."""
    if status not in ALLOWED_TRANSITIONS[deployment.status]:
        raise InvalidTransitionError(
            f"deployment {deployment.id!r} is {deployment.status!r} and cannot become {status!r}",
            field="status",
        )
    when = at or utc_now()
    history = list(deployment.status_history) or [
        StatusChange(status=deployment.status, at=deployment.created_at)
    ]
    history.append(StatusChange(status=status, at=when, reason=reason, who=who))
    # Validate the whole record again (model_copy would skip validators).
    data = deployment.model_dump(by_alias=False)
    data.update(status=status, status_history=history, updated_at=when)
    return ModelDeployment.model_validate(data)
