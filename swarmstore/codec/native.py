"""The optional C kernels of ``_kernels.c``, or ``None``.

They are built by ``pip install`` when a C compiler is present (the extension
is marked optional) and make the byte transforms faster: frames are the same
bytes either way, and every kernel has a numpy (or Python) twin that tests
compare it with. The one exception: the ``huff``/``huff16`` coders are only
*written* where the kernels are (their twins decode them, but slowly).
``SWARMSTORE_CODEC_NATIVE=0`` forces the numpy path; big-endian hosts always
take it.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType


def _load() -> ModuleType | None:
    if os.environ.get("SWARMSTORE_CODEC_NATIVE", "1") == "0" or sys.byteorder != "little":
        return None
    try:
        from swarmstore.codec import _kernels  # type: ignore[attr-defined]
    except ImportError:
        return None
    module: ModuleType = _kernels
    return module


KERNELS: ModuleType | None = _load()
