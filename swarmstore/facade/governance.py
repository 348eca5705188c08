"""Model registry, aliases, approvals, audit trail and deployments (issue 4)."""

from __future__ import annotations

from swarmstore.facade.base import FacadeBase


class GovernanceAPI(FacadeBase):
    def _attach_governance(self) -> None:
        """Called once at the end of the manager's ``__init__``."""

    def _detach_governance(self) -> None:
        """Called once at the start of ``close``, before the pool and stores shut."""
