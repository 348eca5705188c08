"""The ``--backend=postgres-s3`` test mode: every store a test opens by path
lives in a fresh PostgreSQL schema and a fresh S3 prefix.

The store directory gets a ``swarmstore.toml`` naming both, so the same path
reopens the same store from another process or the CLI, exactly as a user's
config file would. The local default is untouched (nothing here runs).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from swarmstore.config import CONFIG_FILE_NAME, StoreConfig

MODE = "local"
_state: dict[str, Any] = {}
_schemas: list[str] = []
_started: list[Any] = []


# Tests that inspect the embedded layout itself (the SQLite file, the blob
# directory); under --backend=postgres-s3 they are skipped, the rest run.
# New tests of this kind should carry @pytest.mark.embedded_only instead.
EMBEDDED_LAYOUT_TESTS = {
    "tests/models/test_roundtrip.py::test_identical_tensors_are_stored_once_across_models_"
    "and_swarms": "counts files under <store>/blobs",
    "tests/models/test_safetensors_gc.py::test_gc_removes_only_old_unreferenced_blobs": (
        "ages blob files with os.utime"
    ),
    "tests/datasets/test_datasets.py::test_a_damaged_samples_blob_is_reported_not_returned": (
        "flips a byte in a file under <store>/blobs"
    ),
    **{
        f"tests/index/test_indexer.py::{name}": "reads outbox and watermarks from meta.sqlite3"
        for name in (
            "test_every_write_is_indexed_and_check_agrees",
            "test_kill_between_commit_and_index_loses_nothing",
            "test_two_processes_writing_at_once_see_no_lock_errors",
            "test_a_failing_index_never_fails_the_write",
        )
    },
    "tests/training/test_async_save.py::test_a_failed_background_save_surfaces_at_the_next_"
    "callback_and_at_flush": "makes <store>/blobs unwritable",
    "tests/training/test_bad_input.py::test_unwritable_store_raises_a_typed_error_at_the_call_"
    "and_the_loop_can_go_on": "makes <store>/blobs unwritable",
    "tests/models/test_schema_and_cli.py::test_migrated_schema_equals_the_orm_models": (
        "diffs the SQLite file; tests/scale/test_postgres_schema.py diffs PostgreSQL"
    ),
}


def skip_reason(nodeid: str, markers: set[str]) -> str | None:
    """Why a collected test does not run under the current backend, if it does not."""
    if MODE == "local":
        return None
    if "embedded_only" in markers:
        return "tests the embedded (SQLite + directory) layout"
    for prefix, reason in EMBEDDED_LAYOUT_TESTS.items():
        if nodeid == prefix or nodeid.startswith(prefix + "::") or nodeid.startswith(prefix + "["):
            return f"embedded layout: {reason}"
    return None


def configure(mode: str) -> None:
    global MODE
    MODE = mode
    if mode == "local":
        return
    url = os.environ.get("SWARMSTORE_TEST_PG_URL")
    endpoint = os.environ.get("SWARMSTORE_TEST_S3_ENDPOINT")
    bucket = os.environ.get("SWARMSTORE_TEST_S3_BUCKET", "swarmstore-test")
    if not url or not endpoint:
        from tests.scale.servers import PostgresServer, SeaweedServer

        base = Path(tempfile.mkdtemp(prefix="swarmstore-servers-"))
        _state["base"] = base
        pg = PostgresServer.start(base / "pg")
        _started.append(pg)
        s3 = SeaweedServer.start(base / "seaweed")
        _started.append(s3)
        atexit.register(unconfigure)
        s3.create_bucket(bucket)
        url, endpoint = pg.create_database("swarmstore_test"), s3.endpoint
    _state.update(
        url=url,
        bucket=bucket,
        token=uuid.uuid4().hex[:8],
        options={
            "aws_endpoint": endpoint,
            "aws_access_key_id": "swarmstore",
            "aws_secret_access_key": "swarmstore",
            "aws_region": "us-east-1",
            "allow_http": "true",
        },
    )


def unconfigure() -> None:
    if _schemas and "url" in _state:
        from sqlalchemy import create_engine

        engine = create_engine(_state["url"])
        for schema in _schemas:  # one transaction each: a schema's locks, not all of them
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()
        _schemas.clear()
    while _started:
        _started.pop().stop()
    base = _state.pop("base", None)
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)


def remote_fields(root: Path) -> dict[str, Any]:
    """A fresh schema and S3 prefix for the store at ``root`` (same root, same store)."""
    digest = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:16]
    schema = f"t{_state['token']}_{digest}"
    if schema not in _schemas:
        from sqlalchemy import create_engine

        engine = create_engine(_state["url"])
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        engine.dispose()
        _schemas.append(schema)
    return {
        "metadata_url": f"{_state['url']}?options=-csearch_path%3D{schema}",
        "blob_url": f"s3://{_state['bucket']}/{_state['token']}/{digest}/blobs",
        "storage_options": dict(_state["options"]),
    }


def _write_toml(root: Path, values: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    lines = [f'metadata_url = "{values["metadata_url"]}"', f'blob_url = "{values["blob_url"]}"']
    lines.append("[storage_options]")
    lines += [f'{k} = "{v}"' for k, v in values["storage_options"].items()]
    (root / CONFIG_FILE_NAME).write_text("\n".join(lines) + "\n")


def redirect(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Point an ``open`` at the test backend unless it names one itself."""
    if MODE == "local":
        return args, kwargs
    target = args[0] if args else kwargs.get("root_or_config")
    if target is None or "metadata_url" in kwargs or "blob_url" in kwargs:
        return args, kwargs
    if isinstance(target, StoreConfig):
        if target.metadata_url is not None or target.blob_url is not None:
            return args, kwargs
        if (target.root / "meta.sqlite3").exists():
            return args, kwargs
        values = remote_fields(target.root)
        _write_toml(target.root, values)
        config = replace(target, **values)
        if args:
            return (config, *args[1:]), kwargs
        return args, {**kwargs, "root_or_config": config}
    path = Path(target)
    if path.suffix == ".toml" or (path / CONFIG_FILE_NAME).exists():
        return args, kwargs
    if (path / "meta.sqlite3").exists():  # a subprocess made it embedded first: keep it so
        return args, kwargs
    _write_toml(path, remote_fields(path))
    return args, kwargs


def prepare(root: Path) -> None:
    """Name the test backend in ``root`` before anything opens it (no-op locally)."""
    if MODE != "local" and not (root / CONFIG_FILE_NAME).exists():
        _write_toml(root, remote_fields(root))


def is_remote_store(root: Path) -> bool:
    return (Path(root) / CONFIG_FILE_NAME).is_file()


def remote_snapshot(root: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """Blob keys and row counts of a remote store (what ``store_snapshot`` gives locally)."""
    from sqlalchemy import create_engine, inspect

    from swarmstore.blobs.s3 import ObjectBlobStore

    config = StoreConfig.coerce(root)
    assert config.metadata_url is not None and config.blob_url is not None
    engine = create_engine(config.metadata_url)
    with engine.connect() as conn:
        # index_watermarks: bookkeeping of the derived indexes (as store_snapshot)
        tables = [t for t in inspect(conn).get_table_names() if t != "index_watermarks"]
        counts = [
            (t, int(conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one()))
            for t in sorted(tables)
            if t != "index_watermarks"  # derived-index bookkeeping, moved in the background
        ]
    engine.dispose()
    blobs = ObjectBlobStore.from_url(config.blob_url, config.storage_options)
    try:
        keys = sorted(info.key for info in blobs.list())
    finally:
        blobs.close()
    return keys, counts
