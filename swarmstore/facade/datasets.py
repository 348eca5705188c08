"""Training datasets: store, read, versions, splits, imports (issue 4)."""

from __future__ import annotations

from swarmstore.facade.base import FacadeBase


class DatasetsAPI(FacadeBase):
    def _attach_datasets(self) -> None:
        """Called once at the end of the manager's ``__init__``."""

    def _detach_datasets(self) -> None:
        """Called once at the start of ``close``, before the pool and stores shut."""
