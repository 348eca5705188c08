"""Runs checkpoint writes in order, on the caller's thread or one background thread.

Background saves are bounded: at most ``max_pending`` writes are queued or
running; one more waits for the oldest (so memory holds at most that many
snapshots). A failed write is kept and raised by the next ``raise_pending``,
``flush`` or ``close`` — the training loop hears of it at its next callback.
At interpreter exit the queued saves finish before ``concurrent.futures``
shuts every pool down (a save needs the store's encoding pool), through a
hook that runs ahead of that shutdown; a failure there is logged.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from swarmstore.exit_hooks import before_pools_shut_down

T = TypeVar("T")

log = logging.getLogger(__name__)
_live_savers: weakref.WeakSet[CheckpointSaver] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook_registered = False


def _finish_at_exit() -> None:
    for saver in list(_live_savers):
        try:
            saver.flush()
        except BaseException:
            log.exception("a background checkpoint save failed at interpreter exit")


def _register_exit_hook() -> None:
    """Finish queued saves at exit, before concurrent.futures refuses new work."""
    global _exit_hook_registered
    with _exit_hook_lock:
        if _exit_hook_registered:
            return
        _exit_hook_registered = True
    before_pools_shut_down(_finish_at_exit)


class CheckpointSaver:
    def __init__(self, *, background: bool, max_pending: int = 1, name: str = "checkpoint") -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.background = background
        self.max_pending = max_pending
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[Future[Any], bool]] = deque()
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def in_flight(self) -> int:
        with self._lock:
            return sum(1 for f, bounded in self._pending if bounded and not f.done())

    def wait_for_room(self) -> float:
        """Block until one more bounded save may be queued; returns the seconds waited.

        A snapshot calls this before it copies, so the copy neither competes
        with the save it waits for nor needs a second set of buffers.
        """
        if not self.background:
            return 0.0
        started = time.perf_counter()
        waited = False
        while True:
            with self._lock:
                heavy = [f for f, b in self._pending if b and not f.done()]
            if len(heavy) < self.max_pending:
                break
            waited = True
            heavy[0].exception()  # its error is collected by the next raise_pending
        return time.perf_counter() - started if waited else 0.0

    def submit(
        self, write: Callable[[], T], *, bounded: bool = True, raise_first: bool = True
    ) -> Future[T]:
        """Run ``write`` now (foreground) or queue it; raises an earlier save's error first
        (unless ``raise_first`` is False: bookkeeping that must be queued regardless).

        ``bounded`` jobs (snapshots: memory) count against ``max_pending``;
        small bookkeeping jobs (metric rows) only keep their place in order.
        """
        if raise_first:
            self.raise_pending()
        if self._closed:
            raise RuntimeError("the checkpoint saver is closed")
        if not self.background:
            done: Future[T] = Future()
            done.set_result(write())
            return done
        while bounded:
            with self._lock:
                heavy = [f for f, b in self._pending if b and not f.done()]
            if len(heavy) < self.max_pending:
                break
            heavy[0].exception()  # wait for the oldest; its error is collected below
            self._collect()
        self._collect()
        if raise_first:
            self.raise_pending()
        if self._pool is None:
            _register_exit_hook()
            self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"swarmstore-{self._name}")
            _live_savers.add(self)
        future = self._pool.submit(write)
        with self._lock:
            self._pending.append((future, bounded))
        return future

    def _collect(self) -> None:
        with self._lock:
            while self._pending and self._pending[0][0].done():
                error = self._pending.popleft()[0].exception()
                if error is not None:
                    self._errors.append(error)

    def raise_pending(self) -> None:
        """Raise the first error of a finished background save (once)."""
        self._collect()
        with self._lock:
            if not self._errors:
                return
            error, self._errors = self._errors[0], []
        raise error

    def flush(self) -> None:
        """Wait for every queued save; raise the first that failed."""
        with self._lock:
            waiting = [future for future, _bounded in self._pending]
        for future in waiting:
            future.exception()
        self.raise_pending()

    def close(self) -> None:
        """Flush, then stop the worker. Raises a save's error after stopping."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if self._pool is not None:
                self._pool.shutdown(wait=True)
