"""Fixtures: real stores in temp dirs, and every store a test opens is closed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from swarmstore import SwarmDatabaseManager
from tests.scale import backend as _backend

_opened: list[SwarmDatabaseManager] = []
_real_open = SwarmDatabaseManager.open.__func__  # type: ignore[attr-defined]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        default=os.environ.get("SWARMSTORE_TEST_BACKEND", "local"),
        choices=["local", "postgres-s3"],
        help="where every store a test opens lives: local (SQLite + a blob directory, the "
        "default) or postgres-s3 (a fresh PostgreSQL schema + a fresh S3 prefix per store; "
        "servers from SWARMSTORE_TEST_PG_URL / SWARMSTORE_TEST_S3_ENDPOINT, else started here)",
    )


def pytest_configure(config: pytest.Config) -> None:
    _backend.configure(config.getoption("--backend"))


def pytest_unconfigure(config: pytest.Config) -> None:
    _backend.unconfigure()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        reason = _backend.skip_reason(item.nodeid, {m.name for m in item.iter_markers()})
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _close_every_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def tracking_open(
        cls: type[SwarmDatabaseManager], *args: Any, **kwargs: Any
    ) -> SwarmDatabaseManager:
        args, kwargs = _backend.redirect(args, kwargs)
        db: SwarmDatabaseManager = _real_open(cls, *args, **kwargs)
        _opened.append(db)
        return db

    monkeypatch.setattr(SwarmDatabaseManager, "open", classmethod(tracking_open))
    yield
    while _opened:
        _opened.pop().close()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    _backend.prepare(path)  # --backend=postgres-s3: a subprocess that opens it first agrees
    return path


@pytest.fixture
def db(store_path: Path) -> SwarmDatabaseManager:
    """A store with fast (non-fsync) blobs; crash tests use the durable default."""
    return SwarmDatabaseManager.open(store_path, durability="normal")


def small_state_dict(seed: int = 0, width: int = 32) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "fc1.weight": torch.randn(width, 16, generator=generator),
        "fc1.bias": torch.randn(width, generator=generator),
        "fc2.weight": torch.randn(4, width, generator=generator),
        "fc2.bias": torch.zeros(4),
    }


def model_record(
    version: str, weights: Any, *, model_id: str = "model_001", **extra: Any
) -> dict[str, Any]:
    return {
        "id": model_id,
        "agentId": "agent_001",
        "modelName": "Net",
        "version": version,
        "architecture": "feedforward",
        "weights": weights,
        **extra,
    }


def bits_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit-exact equality (NaN payloads and -0.0 included)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.numel() == 0:
        return True
    return bool(
        torch.equal(
            a.contiguous().reshape(-1).view(torch.uint8),
            b.contiguous().reshape(-1).view(torch.uint8),
        )
    )


def store_snapshot(root: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """Blob files and SQL row counts: equal snapshots mean an unchanged store.

    ``index_watermarks`` is left out: the background indexer moves it after
    earlier writes, and it is bookkeeping of the derived indexes, not data.
    """
    import sqlite3

    if _backend.is_remote_store(root):
        return _backend.remote_snapshot(root)

    blobs = sorted(str(p.relative_to(root)) for p in (root / "blobs").rglob("*") if p.is_file())
    conn = sqlite3.connect(root / "meta.sqlite3")
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if r[0] != "index_watermarks"
        ]
        counts = [
            (t, conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in sorted(tables)
        ]
    finally:
        conn.close()
    return blobs, counts


os.environ.setdefault("PYTHONHASHSEED", "0")
