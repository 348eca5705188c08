"""Analytics, lifecycle stats, the query API and Arrow export (issue 4)."""

from __future__ import annotations

from swarmstore.facade.base import FacadeBase


class AnalyticsAPI(FacadeBase):
    def _attach_analytics(self) -> None:
        """Called once at the end of the manager's ``__init__``."""

    def _detach_analytics(self) -> None:
        """Called once at the start of ``close``, before the pool and stores shut."""
