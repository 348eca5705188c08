"""Content-addressed blob stores: opaque bytes by key, nothing smarter."""

from swarmstore.blobs.base import BlobInfo, BlobStore
from swarmstore.blobs.local import LocalBlobStore

__all__ = ["BlobInfo", "BlobStore", "LocalBlobStore"]
