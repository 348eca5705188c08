"""Inter-process locks on a file (``fcntl.flock``), with a timeout.

Used where SQL cannot serialize for us: creating or migrating a schema
(``file_lock``, one block), and writing a derived index that allows one writer
at a time (``FileLock``).

Why not just Kuzu's own lock for the index? Kuzu locks its file while a
``Database`` is open, but a writer that opens, writes and closes (the indexer
in a short-lived CLI process, a ``reindex`` run) needs the whole
open-write-close span to exclude other writers. ``flock`` locks belong to an
open file description, so two fds in one process would block each other;
callers therefore share one ``FileLock`` per path per process, and a thread
lock orders the threads.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from swarmstore.errors import StoreLockedError


@contextmanager
def file_lock(path: Path, *, timeout: float = 60.0, poll: float = 0.02) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block.

    Raises ``StoreLockedError`` naming the path when not acquired in ``timeout``
    seconds. The lock dies with the process, so a killed holder never wedges it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreLockedError(f"could not lock {path} within {timeout:g} s") from None
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class LockTimeoutError(StoreLockedError):
    """The inter-process lock on ``path`` was not free within ``timeout`` seconds."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(f"could not lock {path!r} within {timeout:g} s")
        self.path, self.timeout = path, timeout


class FileLock:
    """Exclusive, re-entrant (per thread) lock held across processes.

    ``acquire`` polls with a short back-off until ``timeout`` and raises
    ``LockTimeoutError`` then; the lock is released when the holder's
    outermost ``release`` runs, or by the kernel when the process dies.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = str(Path(path))
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def acquire(self, timeout: float | None = None) -> None:
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        if not self._thread_lock.acquire(timeout=max(limit, 0.0)):
            raise LockTimeoutError(self.path, limit)
        try:
            if self._depth == 0:
                self._lock_file(deadline, limit)
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        if self._depth == 0:
            raise RuntimeError(f"release of unlocked {self.path!r}")
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        self._thread_lock.release()

    @property
    def held(self) -> bool:
        """Whether some thread of this process holds the lock now."""
        return self._depth > 0

    def _lock_file(self, deadline: float, limit: float) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        delay = 0.005
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self._fd = fd
                    return
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                if time.monotonic() >= deadline:
                    raise LockTimeoutError(self.path, limit)
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        except BaseException:
            os.close(fd)
            raise

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
