"""Content-addressed blob stores: opaque bytes by key, nothing smarter."""

from swarmstore.blobs.base import BlobCapabilities, BlobInfo, BlobStore
from swarmstore.blobs.local import LocalBlobStore
from swarmstore.blobs.memory import MemoryBlobStore

__all__ = ["BlobCapabilities", "BlobInfo", "BlobStore", "LocalBlobStore", "MemoryBlobStore"]
# swarmstore.blobs.s3.ObjectBlobStore (obstore) and swarmstore.blobs.factory are
# imported where needed: the embedded default never loads the object-store client.
# Wrappers: swarmstore.blobs.wrappers (retrying, logging), swarmstore.blobs.faulty.
