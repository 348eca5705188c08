"""Blobs as files in a local directory, fanned out by the key's first two hex
characters (``ab/cdef...``), written temp file → fsync → rename."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from swarmstore.blobs.base import BlobCapabilities, BlobInfo, BlobStore
from swarmstore.errors import InvalidRecordError

_HEX = frozenset("0123456789abcdef")
_TEMP_SUFFIX = ".tmp"
_FSYNC_THREADS = 16  # fsync waits on the disk, not the CPU: overlap many


def _sync_and_close(fd: int) -> None:
    try:
        os.fdatasync(fd)  # the data and the size that finds it; the name comes at rename
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore(BlobStore):
    """Content-addressed files under ``root``.

    With ``durable=True`` a put writes a temp file and hands its fdatasync to a
    background pool at once, so the disk writes while the caller encodes the
    next chunks; ``flush`` waits for those syncs, renames the files into place
    and fsyncs each touched directory once. Until ``flush`` a durable put is
    invisible to ``get``.
    """

    def __init__(self, root: Path, *, durable: bool = True, create: bool = True) -> None:
        self.root = Path(root)
        self.durable = durable
        # a durable put is renamed into place at flush
        self.capabilities = BlobCapabilities(
            ranged_reads=True, visible_before_flush=not durable, temporaries=True
        )
        if create:  # a read-only open makes no directory
            self.root.mkdir(parents=True, exist_ok=True)
        self._pending: list[tuple[Path, Path, Future[None]]] = []
        self._pending_paths: set[Path] = set()
        self._lock = threading.Lock()
        self._syncer: ThreadPoolExecutor | None = None
        self._made_dirs: set[Path] = set()  # fan-out dirs known to exist (never removed)
        self._root_dirty = False  # a put made a fan-out dir whose name is not yet synced
        self._temp_names = itertools.count()
        if create:
            self._make_fan_out_dirs()

    def _make_fan_out_dirs(self) -> None:
        """All 256 ``ab/`` dirs once, when the store is new: a save then never
        pays a mkdir (nor a root fsync) per blob. A read-only root keeps the
        on-demand mkdir in ``put``."""
        names = [f"{i:02x}" for i in range(256)]
        try:
            missing = set(names) - set(os.listdir(self.root))
            for name in sorted(missing):
                (self.root / name).mkdir(exist_ok=True)
            if missing and self.durable:
                _fsync_dir(self.root)
        except OSError:
            return
        self._made_dirs.update(self.root / name for name in names)

    def _path(self, key: str) -> Path:
        if len(key) < 8 or not _HEX.issuperset(key):
            raise InvalidRecordError(f"blob key must be lowercase hex, got {key!r}")
        return self.root / key[:2] / key[2:]

    def put(self, key: str, data: bytes | memoryview) -> bool:
        path = self._path(key)
        if path.exists():
            # Refresh its age: gc spares young blobs, and a writer that reuses an
            # old unreferenced blob must not lose it before its commit lands.
            os.utime(path)
            return False
        with self._lock:
            if path in self._pending_paths:  # same frame earlier in this batch
                return False
            if self.durable:
                self._pending_paths.add(path)
        if path.parent not in self._made_dirs:  # one mkdir per fan-out dir, not per blob
            path.parent.mkdir(exist_ok=True)
            self._made_dirs.add(path.parent)
            self._root_dirty = True
        temp, fd = self._create_temp(path)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except BaseException:
            os.close(fd)
            temp.unlink(missing_ok=True)
            with self._lock:
                self._pending_paths.discard(path)
            raise
        if not self.durable:
            os.close(fd)
            os.replace(temp, path)
            return True
        with self._lock:  # renamed in flush(), after its bytes are on disk
            if self._syncer is None:
                self._syncer = ThreadPoolExecutor(_FSYNC_THREADS, thread_name_prefix="blob-sync")
            self._pending.append((temp, path, self._syncer.submit(_sync_and_close, fd)))
        return True

    def _create_temp(self, path: Path) -> tuple[Path, int]:
        """A new temp file beside ``path``: named by pid and a per-store counter
        (cheaper than a uuid per blob); O_EXCL skips names another store took."""
        while True:
            temp = path.with_name(
                f"{path.name}.{os.getpid()}-{next(self._temp_names)}{_TEMP_SUFFIX}"
            )
            try:
                return temp, os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            except FileExistsError:
                continue

    def flush(self) -> None:
        """Wait for every pending temp file's sync, rename each into place, then
        fsync the directories: a blob's name never exists on disk before its
        bytes do, so a reader (or a dedup check) never sees a torn blob."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._pending_paths = set()
        if not pending:
            return
        errors = [f.exception() for _, _, f in pending]
        failed = next((e for e in errors if e is not None), None)
        if failed is not None:
            for temp, _, _ in pending:
                temp.unlink(missing_ok=True)
            raise failed
        dirs: set[Path] = set()
        for temp, path, _ in pending:
            os.replace(temp, path)
            dirs.add(path.parent)
        # The fan-out dirs sync concurrently: the filesystem folds them into one
        # journal commit instead of one per directory (a save touches ~100).
        assert self._syncer is not None
        for synced in [self._syncer.submit(_fsync_dir, d) for d in sorted(dirs)]:
            synced.result()
        if self._root_dirty:  # new fan-out dirs' names, after their contents
            self._root_dirty = False
            _fsync_dir(self.root)

    def get(self, key: str) -> bytes:
        with open(self._path(key), "rb") as handle:
            return handle.read()

    def get_range(self, key: str, start: int, length: int) -> bytes:
        with open(self._path(key), "rb") as handle:
            handle.seek(start)
            return handle.read(max(length, 0))

    def exists(self, key: str) -> bool:
        """Present on disk, or put and waiting for ``flush`` (as on an object store)."""
        path = self._path(key)
        with self._lock:
            if path in self._pending_paths:
                return True
        return path.exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_if_older(self, key: str, cutoff: float) -> int:
        path = self._path(key)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return 0
        if stat.st_mtime >= cutoff:
            return 0
        path.unlink(missing_ok=True)
        return stat.st_size

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        if not _HEX.issuperset(prefix):
            return
        for fan in sorted(self.root.iterdir()):
            if not (fan.is_dir() and len(fan.name) == 2 and fan.name.startswith(prefix[:2])):
                continue
            rest = prefix[2:]
            for entry in os.scandir(fan):
                if entry.name.endswith(_TEMP_SUFFIX) or not entry.name.startswith(rest):
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # deleted since the scan saw it
                    continue
                yield BlobInfo(fan.name + entry.name, stat.st_size, stat.st_mtime)

    def list_temporaries(self) -> Iterator[BlobInfo]:
        """Temp files left by a writer that died before its rename."""
        for fan in self.root.iterdir():
            if fan.is_dir():
                for entry in os.scandir(fan):
                    if entry.name.endswith(_TEMP_SUFFIX):
                        try:
                            stat = entry.stat()
                        except FileNotFoundError:  # renamed into place by a flush meanwhile
                            continue
                        yield BlobInfo(
                            str(Path(fan.name) / entry.name), stat.st_size, stat.st_mtime
                        )

    def close(self) -> None:
        with self._lock:
            syncer, self._syncer = self._syncer, None
        if syncer is not None:
            syncer.shutdown(wait=True)

    def delete_temporary(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)
