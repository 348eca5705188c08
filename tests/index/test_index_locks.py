"""The inter-process write lock and the graph backend fallback."""

from __future__ import annotations

import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest

from swarmstore.errors import StoreLockedError
from swarmstore.filelock import FileLock, LockTimeoutError
from swarmstore.index import graph


def test_lock_is_reentrant_in_a_thread_and_exclusive_across_fds(tmp_path: Path) -> None:
    path = tmp_path / "w.lock"
    lock = FileLock(path, timeout=0.05)
    with lock, lock:
        assert lock.held
        # flock belongs to an open file: a second FileLock is another holder.
        with pytest.raises(LockTimeoutError) as info:
            FileLock(path).acquire(timeout=0.05)
        assert isinstance(info.value, StoreLockedError) and info.value.path == str(path)
    assert not lock.held
    with FileLock(path, timeout=0.05):
        pass


def test_other_threads_wait_for_the_holder(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "w.lock", timeout=5)
    order: list[str] = []
    lock.acquire()

    def wait_then_record() -> None:
        with lock:
            order.append("waiter")

    waiter = threading.Thread(target=wait_then_record)
    waiter.start()
    waiter.join(0.1)
    order.append("holder")
    lock.release()
    waiter.join(5)
    assert order == ["holder", "waiter"]
    with pytest.raises(RuntimeError):
        lock.release()


def test_lock_excludes_another_process(tmp_path: Path) -> None:
    path = tmp_path / "w.lock"
    script = (  # plain flock in the child: importing swarmstore there costs seconds
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n"
        "    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n"
        "    print('locked')\n"
    )
    with FileLock(path):
        done = subprocess.run(
            [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
        )
    assert done.stdout.strip() == "locked", done.stderr


def test_backend_falls_back_to_ladybug(monkeypatch: pytest.MonkeyPatch) -> None:
    ladybug = types.ModuleType("ladybug")
    ladybug.Database = object  # type: ignore[attr-defined]
    ladybug.Connection = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kuzu", None)
    monkeypatch.setitem(sys.modules, "ladybug", ladybug)
    assert graph.load_backend() is ladybug


def test_backend_ignores_an_unrelated_ladybug(monkeypatch: pytest.MonkeyPatch) -> None:
    # "ladybug" is also the import name of an environmental-design library.
    monkeypatch.setitem(sys.modules, "kuzu", None)
    monkeypatch.setitem(sys.modules, "ladybug", types.ModuleType("ladybug"))
    monkeypatch.setitem(sys.modules, "real_ladybug", None)
    with pytest.raises(graph.GraphUnavailableError):
        graph.load_backend()
