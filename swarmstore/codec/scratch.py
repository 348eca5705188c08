"""Per-thread scratch arrays, reused across calls.

A fresh 4 MiB ``np.empty`` costs page faults on first touch (~as much as the
numpy pass that fills it), so the hot paths keep one grown-on-demand buffer per
(thread, purpose). A caller must be done with a buffer before it asks for the
same key again on the same thread.
"""

from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def scratch(key: str, nbytes: int) -> np.ndarray:
    """A uint8 array of ``nbytes`` owned by this thread under ``key``."""
    bufs: dict[str, np.ndarray] | None = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    buf = bufs.get(key)
    if buf is None or buf.size < nbytes:
        buf = np.empty(max(nbytes, 1 << 16), dtype=np.uint8)
        bufs[key] = buf
    return buf[:nbytes]


def scratch_as(key: str, count: int, dtype: np.dtype | str) -> np.ndarray:
    """``count`` elements of ``dtype`` (little-endian unsigned), from ``scratch``."""
    dt = np.dtype(dtype)
    return scratch(key, count * dt.itemsize).view(dt)
