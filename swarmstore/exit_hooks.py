"""Run work at interpreter exit while the thread pools still take it.

``threading._register_atexit`` hooks run newest first and before
concurrent.futures stops accepting work, unlike ``atexit`` hooks; closing a
store or finishing a background save needs those pools.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


def before_pools_shut_down(hook: Callable[[], None]) -> None:
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(hook)
    else:  # pragma: no cover - every supported CPython has it
        import atexit

        atexit.register(hook)
