"""Training-loop integration: callbacks, auto-checkpointing, retention, resume (issue 6)."""

from __future__ import annotations

from swarmstore.facade.base import FacadeBase


class TrainingAPI(FacadeBase):
    def _attach_training(self) -> None:
        """Called once at the end of the manager's ``__init__``."""

    def _detach_training(self) -> None:
        """Called once at the start of ``close``, before the pool and stores shut."""
