"""Deployments of registered model versions: status changes and rollbacks."""

from swarmstore.deployments.service import DeploymentService

__all__ = ["DeploymentService"]
