"""Blobs as files in a local directory, fanned out by the key's first two hex
characters (``ab/cdef...``), written temp file → fsync → rename."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

from swarmstore.blobs.base import BlobInfo, BlobStore
from swarmstore.errors import InvalidRecordError

_HEX = frozenset("0123456789abcdef")
_TEMP_SUFFIX = ".tmp"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore(BlobStore):
    """Content-addressed files under ``root``.

    With ``durable=True`` each blob is fsynced before its rename, and ``flush``
    fsyncs every fan-out directory that gained a name since the last flush —
    one directory fsync per batch instead of one per blob.
    """

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = Path(root)
        self.durable = durable
        self.root.mkdir(parents=True, exist_ok=True)
        self._dirty_dirs: set[Path] = set()
        self._lock = threading.Lock()

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
        path.parent.mkdir(exist_ok=True)
        temp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}{_TEMP_SUFFIX}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.durable:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            temp.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(temp, path)
        if self.durable:
            with self._lock:
                self._dirty_dirs.add(path.parent)
                self._dirty_dirs.add(self.root)
        return True

    def flush(self) -> None:
        with self._lock:
            dirs, self._dirty_dirs = self._dirty_dirs, set()
        for directory in sorted(dirs, reverse=True):  # children before the root
            _fsync_dir(directory)

    def get(self, key: str) -> bytes:
        with open(self._path(key), "rb") as handle:
            return handle.read()

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

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

    def list(self) -> Iterator[BlobInfo]:
        for fan in sorted(self.root.iterdir()):
            if not (fan.is_dir() and len(fan.name) == 2):
                continue
            for entry in os.scandir(fan):
                if entry.name.endswith(_TEMP_SUFFIX):
                    continue
                stat = entry.stat()
                yield BlobInfo(fan.name + entry.name, stat.st_size, stat.st_mtime)

    def list_temporaries(self) -> Iterator[BlobInfo]:
        """Temp files left by a writer that died before its rename."""
        for fan in self.root.iterdir():
            if fan.is_dir():
                for entry in os.scandir(fan):
                    if entry.name.endswith(_TEMP_SUFFIX):
                        stat = entry.stat()
                        yield BlobInfo(
                            str(Path(fan.name) / entry.name), stat.st_size, stat.st_mtime
                        )

    def delete_temporary(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)
