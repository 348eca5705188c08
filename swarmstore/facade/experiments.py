"""Training experiments and streaming metric runs (issue 4)."""

from __future__ import annotations

from swarmstore.facade.base import FacadeBase


class ExperimentsAPI(FacadeBase):
    def _attach_experiments(self) -> None:
        """Called once at the end of the manager's ``__init__``."""

    def _detach_experiments(self) -> None:
        """Called once at the start of ``close``, before the pool and stores shut."""
