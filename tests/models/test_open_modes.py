"""Open modes (issue 19, item 5) and the stable on-disk format (item 6).

``rw``/``ro`` on a path without a store create nothing; ``create`` makes one;
``ro`` refuses every write with ``ReadOnlyStoreError`` and keeps reading while
another process writes; a store written by a newer swarmstore (unknown schema
revision, newer format) is refused with ``StoreVersionError`` in every mode; an
older one is upgraded by ``rw``/``migrate``/``swarmstore migrate`` and refused by ``ro``.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from swarmstore import (
    ReadOnlyStoreError,
    StoreNotFoundError,
    StoreVersionError,
    SwarmDatabaseManager,
    SwarmStoreError,
)
from swarmstore.cli import main
from swarmstore.meta.migrate import HEAD_REVISION, STORE_FORMAT
from tests.conftest import bits_equal, model_record, small_state_dict, store_snapshot

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "store_v1"
WORKER = Path(__file__).with_name("store_worker.py")
pytestmark = pytest.mark.embedded_only  # paths, SQLite files and subprocesses on one machine


def _make_store(path: Path) -> dict[str, torch.Tensor]:
    weights = small_state_dict(1)
    with SwarmDatabaseManager.open(path, mode="create", durability="normal") as db:
        db.store_neural_model("s", model_record("v1", weights))
        db.store_neural_model("s", model_record("v2", small_state_dict(2), parentVersion="v1"))
    return weights


@pytest.mark.parametrize("mode", ["rw", "ro"])
def test_rw_and_ro_on_a_path_without_a_store_create_nothing(tmp_path: Path, mode: str) -> None:
    missing = tmp_path / "typo" / "store"
    with pytest.raises(StoreNotFoundError) as caught:
        SwarmDatabaseManager.open(missing, mode=mode)  # type: ignore[arg-type]
    assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, SwarmStoreError)
    assert "mode='create'" in str(caught.value)
    assert not (tmp_path / "typo").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StoreNotFoundError):
        SwarmDatabaseManager.open(empty, mode=mode)  # type: ignore[arg-type]
    assert list(empty.iterdir()) == []


def test_default_creates_in_a_new_or_empty_dir_and_refuses_a_foreign_one(tmp_path: Path) -> None:
    with SwarmDatabaseManager.open(tmp_path / "new") as db:
        assert db.mode == "rw"
    empty = tmp_path / "empty"
    empty.mkdir()
    SwarmDatabaseManager.open(empty).close()
    assert (empty / "meta.sqlite3").is_file()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(StoreNotFoundError):
        SwarmDatabaseManager.open(foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    SwarmDatabaseManager.open(foreign, mode="create").close()  # explicitly: fine
    assert (foreign / "meta.sqlite3").is_file()


def test_create_makes_a_store_and_rw_reopens_it(tmp_path: Path) -> None:
    path = tmp_path / "store"
    weights = _make_store(path)
    with SwarmDatabaseManager.open(path, mode="rw") as db:
        got = db.get_neural_model("s", "model_001", "v1").weights
        assert all(bits_equal(got[k], weights[k]) for k in weights)
    with SwarmDatabaseManager.open(path, mode="create") as db:  # an existing store: opened
        assert [v.version for v in db.list_model_versions("s", "model_001")] == ["v1", "v2"]


def test_a_bad_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        SwarmDatabaseManager.open(tmp_path / "x", mode="append")  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_ro_reads_and_refuses_every_write_writing_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store"
    weights = _make_store(path)
    (path / ".schema.lock").unlink(missing_ok=True)
    before = store_snapshot(path)
    sqlite_bytes = (path / "meta.sqlite3").read_bytes()
    entries = sorted(p.name for p in path.iterdir())
    with SwarmDatabaseManager.open(path, mode="ro") as db:
        assert db.mode == "ro" and db.config.indexing == "off"
        got = db.get_neural_model("s", "model_001", "v1").weights
        assert all(bits_equal(got[k], weights[k]) for k in weights)
        assert [a.version for a in db.lineage.ancestors("s", "model_001", "v2")] == ["v1"]
        assert db.check().ok
        writes: list[Callable[[], object]] = [
            lambda: db.store_neural_model("s", model_record("v3", small_state_dict(3))),
            lambda: db.delete_model_version("s", "model_001", "v2"),
            lambda: db.start_experiment("s", "exp_1"),
            lambda: db.gc(grace_seconds=0),
            db.migrate,
        ]
        for write in writes:
            with pytest.raises(ReadOnlyStoreError) as caught:
                write()
            assert isinstance(caught.value, PermissionError)
    assert store_snapshot(path) == before
    assert (path / "meta.sqlite3").read_bytes() == sqlite_bytes
    assert sorted(p.name for p in path.iterdir()) == entries  # no lock file, no index dir


def test_ro_keeps_reading_while_a_writer_process_stores_versions(tmp_path: Path) -> None:
    path = tmp_path / "store"
    SwarmDatabaseManager.open(path, mode="create").close()
    seen: set[int] = set()
    with SwarmDatabaseManager.open(path, mode="ro") as reader:
        writer = subprocess.Popen(
            [sys.executable, str(WORKER), str(path), "m", "w", "6"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while writer.poll() is None:
                if reader.list_models("swarm"):
                    seen.add(len(reader.list_model_versions("swarm", "m")))
                time.sleep(0.02)
            _out, err = writer.communicate(timeout=120)
        finally:
            if writer.poll() is None:
                writer.kill()
        assert writer.returncode == 0, err
        versions = [v.version for v in reader.list_model_versions("swarm", "m")]
        assert versions == [f"w-{i}" for i in range(6)]
        last = reader.get_neural_model("swarm", "m", "w-5")
        assert set(last.weights) >= {"backbone", "layer.weight"}
        assert reader.check().ok
    assert seen  # it read while the writer wrote


def _set_sql(path: Path, statement: str) -> None:
    conn = sqlite3.connect(path / "meta.sqlite3")
    with conn:
        conn.execute(statement)
    conn.close()


@pytest.mark.parametrize("mode", [None, "create", "rw", "ro"])
def test_a_store_from_a_newer_schema_is_refused_in_every_mode(
    tmp_path: Path, mode: str | None
) -> None:
    path = tmp_path / "store"
    _make_store(path)
    _set_sql(path, "UPDATE alembic_version SET version_num = '9999_future'")
    before = store_snapshot(path)
    with pytest.raises(StoreVersionError) as caught:
        SwarmDatabaseManager.open(path, mode=mode)  # type: ignore[arg-type]
    assert "9999_future" in str(caught.value) and HEAD_REVISION in str(caught.value)
    assert caught.value.store_revision == "9999_future"
    assert caught.value.known_revision == HEAD_REVISION
    assert store_snapshot(path) == before


@pytest.mark.parametrize("mode", [None, "rw", "ro"])
def test_a_store_in_a_newer_format_is_refused(tmp_path: Path, mode: str | None) -> None:
    path = tmp_path / "store"
    _make_store(path)
    newer = STORE_FORMAT + 1
    _set_sql(path, f"UPDATE store_format SET value = '{newer}' WHERE name = 'format_version'")
    with pytest.raises(StoreVersionError) as caught:
        SwarmDatabaseManager.open(path, mode=mode)  # type: ignore[arg-type]
    assert caught.value.store_format == newer and caught.value.known_format == STORE_FORMAT
    assert f"format is {newer}" in str(caught.value)


def test_the_store_records_its_format(tmp_path: Path) -> None:
    path = tmp_path / "store"
    _make_store(path)
    conn = sqlite3.connect(path / "meta.sqlite3")
    rows = dict(conn.execute("SELECT name, value FROM store_format").fetchall())
    revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    conn.close()
    assert rows == {"format_version": str(STORE_FORMAT)} and revision == HEAD_REVISION


def _older_store(tmp_path: Path) -> Path:
    """The golden store: written at an earlier schema revision."""
    path = tmp_path / "old"
    shutil.copytree(GOLDEN, path)
    conn = sqlite3.connect(path / "meta.sqlite3")
    revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    conn.close()
    if revision == HEAD_REVISION:
        pytest.skip("the golden store is at head: no older store to migrate")
    return path


def test_ro_refuses_an_older_store_and_migrate_upgrades_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _older_store(tmp_path)
    before = store_snapshot(path)
    with pytest.raises(StoreVersionError, match="swarmstore migrate") as caught:
        SwarmDatabaseManager.open(path, mode="ro")
    assert caught.value.known_revision == HEAD_REVISION
    assert store_snapshot(path) == before  # not migrated
    assert main(["migrate", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"-> {HEAD_REVISION}" in out and "migrated" in out
    with SwarmDatabaseManager.open(path, mode="ro") as db:
        assert db.list_model_versions("golden", "model_001")
    assert main(["migrate", str(path)]) == 0
    assert "already at" in capsys.readouterr().out


def test_open_rw_migrates_and_db_migrate_reports_it(tmp_path: Path) -> None:
    path = _older_store(tmp_path)
    with SwarmDatabaseManager.open(path, mode="rw") as db:
        report = db.migrate()
        assert report.to_revision == HEAD_REVISION and report.migrated
        assert report.from_revision is not None and report.format_version == STORE_FORMAT
    with SwarmDatabaseManager.open(path, mode="rw") as db:
        assert not db.migrate().migrated


def test_migrate_cli_refuses_a_path_without_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", str(tmp_path / "nope")]) != 0
    assert "StoreNotFoundError" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()
