"""What every facade mixin may use of the manager: its stores, bus, pool and model service."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from swarmstore.blobs import BlobStore
    from swarmstore.config import StoreConfig
    from swarmstore.events import EventBus
    from swarmstore.meta.engine import MetaStore
    from swarmstore.models.service import ModelVersionService


class FacadeBase:
    config: StoreConfig
    _meta: MetaStore
    _blobs: BlobStore
    _events: EventBus
    _executor: ThreadPoolExecutor
    _models: ModelVersionService

    def _live(self) -> None:
        raise NotImplementedError
