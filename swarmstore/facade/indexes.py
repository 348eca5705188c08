"""Derived indexes: outbox indexer, reindex, lineage queries, similarity search (issue 5)."""

from __future__ import annotations

from swarmstore.facade.base import FacadeBase


class IndexAPI(FacadeBase):
    def _attach_indexes(self) -> None:
        """Called once at the end of the manager's ``__init__``."""

    def _detach_indexes(self) -> None:
        """Called once at the start of ``close``, before the pool and stores shut."""
