"""An inter-process lock on a file (fcntl), with a timeout.

Used where SQL cannot serialize for us: creating or migrating a schema, and
writing a derived index that allows one writer at a time.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
