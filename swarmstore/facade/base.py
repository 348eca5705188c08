"""What every facade mixin may use of the manager: its stores, bus, pool and model
service, and the sibling mixins' methods that another mixin calls (declared here,
implemented by the mixin that owns them)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from swarmstore.blobs import BlobStore
    from swarmstore.config import StoreConfig
    from swarmstore.events import EventBus
    from swarmstore.meta.engine import MetaStore
    from swarmstore.models.service import ModelVersionService
    from swarmstore.records.dataset import TrainingDataset


class FacadeBase:
    config: StoreConfig
    _meta: MetaStore
    _blobs: BlobStore
    _events: EventBus
    _executor: ThreadPoolExecutor
    _models: ModelVersionService

    def _live(self) -> None:
        raise NotImplementedError

    # -- siblings' methods (one mixin's, called from another) ---------------

    def get_training_dataset(
        self,
        swarm_id: str,
        dataset_id: str,
        version: str | None = None,
        *,
        include_samples: bool = True,
    ) -> TrainingDataset:
        """``DatasetsAPI.get_training_dataset`` (the vector index reads dataset records)."""
        raise NotImplementedError
