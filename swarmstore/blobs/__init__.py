"""Content-addressed blob stores: opaque bytes by key, nothing smarter."""

from swarmstore.blobs.base import BlobInfo, BlobStore
from swarmstore.blobs.local import LocalBlobStore

__all__ = ["BlobInfo", "BlobStore", "LocalBlobStore"]
# swarmstore.blobs.s3.ObjectBlobStore (obstore) and swarmstore.blobs.factory are
# imported where needed: the embedded default never loads the object-store client.
