"""Index work off the writer's thread.

A write returns once its SQL transaction has committed; the outbox rows it
left are applied to the graph and the vectors by one background thread per
store. Queries that read the indexes first ``drain`` it, so a process always
sees its own writes. A process that exits first leaves rows in the outbox,
which the next open (or any other writer) applies: nothing is lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class IndexWorker:
    def __init__(self, run: Callable[[], object]) -> None:
        self._run = run
        self._cond = threading.Condition()
        self._wanted = False
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="swarmstore-index", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """Ask for a pass over the outbox; many kicks while busy make one more pass."""
        with self._cond:
            self._wanted = True
            self._cond.notify_all()

    def drain(self) -> None:
        """Wait until every kick so far has been served (no-op on the worker itself)."""
        if threading.current_thread() is self._thread:
            return
        with self._cond:
            while (self._wanted or self._busy) and self._thread.is_alive():
                self._cond.wait(timeout=1.0)

    def close(self) -> None:
        """Serve what was asked, then stop the thread."""
        self.drain()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._wanted and not self._closed:
                    self._cond.wait()
                if not self._wanted:
                    return
                self._wanted, self._busy = False, True
            try:
                self._run()
            except Exception:
                log.exception("background index pass failed; its rows stay in the outbox")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
