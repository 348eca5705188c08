"""Config by URL and from a TOML file; the embedded default is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmstore import InvalidRecordError, StoreConfig, SwarmDatabaseManager
from swarmstore.blobs import LocalBlobStore
from swarmstore.config import CONFIG_FILE_NAME
from tests.conftest import model_record, small_state_dict
from tests.scale import backend


def test_embedded_default_is_one_directory(tmp_path: Path) -> None:
    config = StoreConfig.coerce(tmp_path / "s")
    assert config.is_embedded
    assert config.resolved_metadata_url == f"sqlite:///{tmp_path / 's' / 'meta.sqlite3'}"
    assert config.resolved_blob_path == tmp_path / "s" / "blobs"
    assert config.resolved_graph_path == tmp_path / "s" / "indexes"


@pytest.mark.skipif(backend.MODE != "local", reason="checks the embedded layout on disk")
def test_embedded_open_writes_sqlite_and_blob_files(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path / "s", durability="normal") as db:
        db.store_neural_model("s", model_record("v1", small_state_dict()))
        assert isinstance(db._blobs, LocalBlobStore)
    assert (tmp_path / "s" / "meta.sqlite3").is_file()
    assert any((tmp_path / "s" / "blobs").rglob("*"))


def test_urls_choose_the_backends(tmp_path: Path) -> None:
    config = StoreConfig(
        metadata_url="postgresql+psycopg://u:p@db.internal:5432/swarm",
        blob_url="s3://models/prod",
        vector_url="s3://models/lance",
        graph_path=tmp_path / "graph",
        storage_options={"aws_region": "eu-west-1"},
    )
    assert not config.is_embedded
    assert config.root.is_absolute() and "swarmstore" in str(config.root)  # per-machine cache
    assert config.resolved_graph_path == tmp_path / "graph"
    assert StoreConfig(root=tmp_path, blob_url=f"file://{tmp_path}/b").resolved_blob_path == (
        tmp_path / "b"
    )


def test_toml_file_and_store_directory_with_a_toml(tmp_path: Path) -> None:
    text = (
        'metadata_url = "postgresql+psycopg://u@h/db"\n'
        'blob_url = "s3://bucket/prefix"\n'
        'graph_path = "graph"\n'
        "chunk_bytes = 65536\n"
        "[storage_options]\n"
        'aws_endpoint = "http://127.0.0.1:8333"\n'
    )
    (tmp_path / "store.toml").write_text(text)
    config = StoreConfig.coerce(tmp_path / "store.toml")
    assert config.blob_url == "s3://bucket/prefix" and config.chunk_bytes == 65536
    assert config.storage_options == {"aws_endpoint": "http://127.0.0.1:8333"}
    assert config.graph_path == tmp_path / "graph"  # relative to the file
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / CONFIG_FILE_NAME).write_text(text)
    in_dir = StoreConfig.coerce(tmp_path / "dir", durability="normal")
    assert in_dir.root == tmp_path / "dir" and in_dir.durability == "normal"
    assert in_dir.metadata_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('metadata_url = "sqlite:///x"\nbogus = 1\n', "bogus"),
        ('blob_url = "gs://bucket/x"\n', "blob_url"),
        ("chunk_bytes = [\n", "cannot read"),
    ],
)
def test_bad_config_files_are_typed_errors(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(InvalidRecordError, match=needle):
        StoreConfig.coerce(tmp_path / "bad.toml")


def test_a_config_without_root_needs_a_server_url() -> None:
    with pytest.raises(InvalidRecordError, match="root"):
        StoreConfig()
    with pytest.raises(InvalidRecordError, match="root"):
        StoreConfig(metadata_url="sqlite:///x.db")
