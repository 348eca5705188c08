"""Model governance: the registry (entries, stages, approvals, aliases, audit
trail) and deployments. Services over the SQL store; the facade delegates here."""

from swarmstore.governance.aliases import AliasService
from swarmstore.governance.deployments import DeploymentService
from swarmstore.governance.registry import RegistryService

__all__ = ["AliasService", "DeploymentService", "RegistryService"]
