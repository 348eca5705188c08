"""Lineage queries (``db.lineage``): the Kuzu graph first, SQL ``WITH RECURSIVE`` as fallback."""

from swarmstore.lineage.service import (
    DatasetRef,
    DeploymentRef,
    LineageQueries,
    RelatedVersion,
    VersionRef,
)

__all__ = ["DatasetRef", "DeploymentRef", "LineageQueries", "RelatedVersion", "VersionRef"]
