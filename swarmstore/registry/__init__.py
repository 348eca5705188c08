"""The model registry: entries, stages, approvals, aliases and their audit trail."""

from swarmstore.registry.aliases import AliasService
from swarmstore.registry.service import RegistryService

__all__ = ["AliasService", "RegistryService"]
